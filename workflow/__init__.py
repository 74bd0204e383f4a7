"""Banli's engine: definitions, machines, actions, storage, audit — no web framework here."""

# Registers the features' machine hooks (messages, DING, urging, deadlines) before any machine
# compiles: every import of a workflow module passes here first.
from workflow import features  # noqa: F401
