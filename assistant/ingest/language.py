"""Which language a text is in, for the two languages the product serves.

>>> detect_language("Казахстан строит коридоры, а не стены.")
'ru'
>>> detect_language("Japan invested in Kazakhstan.")
'en'

Why by hand: with two languages in two scripts the share of Cyrillic letters decides exactly
and in microseconds; statistical detectors (langdetect) are slow, nondeterministic on short
strings, and confuse the Latin names that Russian articles quote.
"""

from __future__ import annotations

LANGUAGES = ("ru", "en")


def cyrillic_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if "\u0400" <= c <= "\u04ff") / len(letters)


def detect_language(text: str, default: str = "en") -> str:
    """``"ru"`` when at least 40% of the letters are Cyrillic (Russian text quotes many Latin
    names: ``"ВЭБ.РФ и OpenAI"`` is Russian), otherwise ``"en"``; ``default`` when there are no
    letters at all."""
    if not any(c.isalpha() for c in text):
        return default
    return "ru" if cyrillic_share(text) >= 0.4 else "en"
