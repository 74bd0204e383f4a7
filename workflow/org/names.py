"""A person's name as the directory searches it: toneless pinyin and initials (pypinyin).

"王芳" → ("wangfang", "wf"); a polyphonic character takes its most common reading, and a
character pypinyin does not know (a Latin letter, a digit) stands for itself, lower-cased.
"""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

PINYIN_MAX = 400
INITIALS_MAX = 100


def name_keys(name: str) -> tuple[str, str]:
    """The (pinyin, initials) of ``name``, lower case, without spaces or tones."""
    syllables = [s.lower() for s in lazy_pinyin(name, style=Style.NORMAL, errors="default")]
    words = [s for part in syllables for s in part.split() if s.strip()]
    pinyin = "".join(words)[:PINYIN_MAX]
    initials = "".join(w[0] for w in words if w[0].isalnum())[:INITIALS_MAX]
    return pinyin, initials
