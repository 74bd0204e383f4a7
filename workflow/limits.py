"""Every size limit on what people and definitions put in, in one place, and the checks that use them.

The server is the guard: pages repeat these as ``maxlength`` for comfort only. Each limit is
generous for a clerk and small enough that any accepted value still prints on the flow sheet.
"""

from __future__ import annotations

import re

from workflow.errors import FormInvalid
from workflow.refusals import FieldError

# --- what people write (characters, after stripping surrounding white space) ------------------
#: an opinion on forward, end, finish, sign, return; a withdraw reason
OPINION_MAX = 5_000
#: a one-line ``text`` form field, unless the definition sets a lower ``max_length``
TEXT_MAX = 500
#: a ``textarea`` form field (long text), unless the definition sets a lower ``max_length``
TEXTAREA_MAX = 10_000
#: a flow's title, made from the definition's ``title`` template (longer ones are cut)
TITLE_MAX = 500
#: a message's subject and body (definitions/message.yaml says the same in its fields)
SUBJECT_MAX = 200
MESSAGE_BODY_MAX = 10_000
#: the note a person adds when relaying a message
NOTE_MAX = 2_000
#: a stored file's name, in characters (longer names are cut, keeping the extension)
FILE_NAME_MAX = 120

# --- definition files (workflow/spec/loader.py) -----------------------------------------------
#: the most bytes read from a definition file; a larger file is refused unread past this
DEFINITION_BYTES_MAX = 1024 * 1024
#: the most steps in one definition
DEFINITION_STEPS_MAX = 5_000
#: the most values (mapping entries and list items) in one file, aliases expanded
DEFINITION_VALUES_MAX = 200_000
#: the deepest nesting of mappings and lists in a file
DEFINITION_DEPTH_MAX = 40
#: the longest name or label (a step's, a field's, a choice's), per language
LABEL_MAX = 200
#: the longest description (of the definition) or help text (of a field), per language
PROSE_MAX = 2_000

# --- uploads ------------------------------------------------------------------------------------
#: the bytes one person may have stored, unless BANLI_UPLOAD_QUOTA says otherwise (Art. 22)
UPLOAD_QUOTA = 1024**3
#: a file no flow or message refers to is removed this long after it was stored
UNREFERENCED_KEPT_HOURS = 24

# Bidirectional controls: an RIGHT-TO-LEFT OVERRIDE makes "invoice‮fdp.exe" read "invoiceexe.pdf".
BIDI_CONTROLS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def without_bidi(text: str) -> str:
    """``text`` without bidirectional control characters (embeddings, overrides, isolates, marks)."""
    return BIDI_CONTROLS.sub("", text)


def too_long(text: str, most: int) -> FieldError | None:
    """The field message for a text longer than ``most`` characters, else None."""
    if len(text) > most:
        return FieldError("field_too_long", length=len(text), max=most)
    return None


def opinion_problem(opinion: str | None) -> dict[str, FieldError]:
    """``{"opinion": message}`` for an opinion longer than :data:`OPINION_MAX`, else empty."""
    problem = too_long(opinion or "", OPINION_MAX)
    return {"opinion": problem} if problem else {}


def check_opinion(opinion: str | None) -> None:
    """Refuse an opinion (or a withdraw reason) longer than :data:`OPINION_MAX`: a field error."""
    problem = opinion_problem(opinion)
    if problem:
        raise FormInvalid(problem)
