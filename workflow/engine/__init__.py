"""The engine's public face: ``Engine`` (actions and queries) and what its actions return."""

from __future__ import annotations

from workflow.engine.context import Outcome
from workflow.engine.core import Engine

__all__ = ["Engine", "Outcome"]
