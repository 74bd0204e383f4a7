"""The features that plug into the engine's machines: importing this module registers them all.

``workflow/__init__`` imports it, so every machine, whichever door built the engine (web, CLI,
a test's bare ``Engine``), is compiled with them (``workflow.engine.hooks`` refuses a late
registration, and a definition that asks for an unregistered trigger does not compile).
"""

from __future__ import annotations

from workflow import messages, urge
from workflow.engine import timeouts

#: the modules that registered hooks, for the record (and so the imports are not unused)
FEATURES = (messages, urge, timeouts)
