"""Citation markers: the one parser (composers, the checker and the chat all use it), and the
check that turns a draft's markers into numbered citations.

A marker is ``[n]`` or ``[n, m]``. The check drops markers that point to no passage and
renumbers the rest in order of first use, so an answer's markers always read [1], [2], … and
``citations[i].number == i + 1``.

>>> text = "A [2]. B [1, 3][7]."
>>> [(m.numbers, text[m.start:m.end]) for m in markers(text)]
[((2,), ' [2]'), ((1, 3), ' [1, 3]'), ((7,), '[7]')]
>>> keep_markers("A [2]. B [1, 3][7].", lambda n: n <= 3)
('A [2]. B [1][3].', 1)
>>> from assistant.records import Passage
>>> ps = [Passage("a", "x.txt", "X", "en", 0, 5, "alpha"), Passage("b", "y.txt", "Y", "en", 9, 13, "beta")]
>>> text, cites = check_markers("Beta [2]. Alpha [1][7].", ps)
>>> text, [(c.number, c.source) for c in cites]
('Beta [1]. Alpha [2].', [(1, 'y.txt'), (2, 'x.txt')])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.records import Citation, Passage

MARKER = re.compile(r"\s?\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


@dataclass(frozen=True)
class Marker:
    start: int  # offsets of the marker in the text, a leading space included
    end: int
    numbers: tuple[int, ...]


def markers(text: str) -> Iterator[Marker]:
    """Every marker of ``text``, in order."""
    for m in MARKER.finditer(text):
        yield Marker(m.start(), m.end(), tuple(int(x) for x in re.split(r"\s*,\s*", m.group(1))))


def numbers(text: str) -> list[int]:
    """The numbers cited in ``text``, in order (repeats kept)."""
    return [n for m in markers(text) for n in m.numbers]


def strip_markers(text: str, replacement: str = "") -> str:
    return MARKER.sub(replacement, text)


def rewrite_markers(text: str, numbering: Callable[[int], int | None]) -> tuple[str, int]:
    """``text`` with each number ``n`` of each marker replaced by ``numbering(n)`` (``None``:
    dropped), one ``[n]`` per number, and how many numbers were dropped."""
    out: list[str] = []
    last = dropped = 0
    for m in markers(text):
        out.append(text[last:m.start])
        kept = []
        for n in m.numbers:
            new = numbering(n)
            if new is None:
                dropped += 1
            elif new not in kept:
                kept.append(new)
        if kept:
            lead = " " if text[m.start].isspace() else ""
            out.append(lead + "".join(f"[{n}]" for n in kept))
        last = m.end
    out.append(text[last:])
    return "".join(out), dropped


def keep_markers(text: str, valid: Callable[[int], bool]) -> tuple[str, int]:
    """``text`` with only the marker numbers ``valid`` accepts (unchanged), and how many went."""
    return rewrite_markers(text, lambda n: n if valid(n) else None)


def check_markers(
    text: str, passages: list[Passage], highlights: dict[int, list[tuple[int, int]]] | None = None
) -> tuple[str, list[Citation]]:
    """``(text with valid renumbered markers, citations in marker order)``."""
    order: dict[int, int] = {}  # passage number → citation number

    def renumber(n: int) -> int | None:
        if not 1 <= n <= len(passages):
            return None
        return order.setdefault(n, len(order) + 1)

    checked, _ = rewrite_markers(text, renumber)
    checked = re.sub(r"[ \t]{2,}", " ", checked).strip()
    citations = []
    for n, number in sorted(order.items(), key=lambda kv: kv[1]):
        p = passages[n - 1]
        citations.append(Citation(
            number=number, source=p.source, title=p.title, start=p.start, end=p.end, score=p.score,
            text=p.text, passage_id=p.id, section=p.section, language=p.language,
            highlights=tuple((highlights or {}).get(n, ())),
        ))
    return checked, citations
