"""Approval definitions: the schema, the YAML loader with file:line problems, the linter, conditions."""

from __future__ import annotations

from workflow.spec.expr import Condition, ConditionError, compiled_conditions, parse
from workflow.spec.lint import lint
from workflow.spec.loader import check_files, load_file, load_text
from workflow.spec.model import CLOSED_STATES, Definition, FormField, Next, Step

__all__ = [
    "CLOSED_STATES",
    "Condition",
    "ConditionError",
    "Definition",
    "FormField",
    "Next",
    "Step",
    "check_files",
    "compiled_conditions",
    "lint",
    "load_file",
    "load_text",
    "parse",
]
