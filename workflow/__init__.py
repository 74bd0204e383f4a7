"""Banli's engine: definitions, machines, actions, storage, audit — no web framework here."""
