"""Check a draft's citation markers and turn them into numbered citations.

Markers that point to no passage are removed; the rest are renumbered in order of first use,
so the answer's markers always read [1], [2], … and ``citations[i].number == i + 1``.

>>> from assistant.records import Passage
>>> ps = [Passage("a", "x.txt", "X", "en", 0, 5, "alpha"), Passage("b", "y.txt", "Y", "en", 9, 13, "beta")]
>>> text, cites = check_markers("Beta [2]. Alpha [1][7].", ps)
>>> text, [(c.number, c.source) for c in cites]
('Beta [1]. Alpha [2].', [(1, 'y.txt'), (2, 'x.txt')])
"""

from __future__ import annotations

import re

from assistant.records import Citation, Passage

MARKER = re.compile(r"\s?\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def check_markers(
    text: str, passages: list[Passage], highlights: dict[int, list[tuple[int, int]]] | None = None
) -> tuple[str, list[Citation]]:
    """``(text with valid renumbered markers, citations in marker order)``."""
    order: dict[int, int] = {}  # passage number → citation number

    def renumber(m: re.Match[str]) -> str:
        out = []
        for raw in re.split(r"\s*,\s*", m.group(1)):
            n = int(raw)
            if not 1 <= n <= len(passages):
                continue
            if n not in order:
                order[n] = len(order) + 1
            out.append(f"[{order[n]}]")
        lead = m.group(0)[:1] if m.group(0)[:1].isspace() else ""
        return lead + "".join(dict.fromkeys(out)) if out else ""

    checked = MARKER.sub(renumber, text)
    checked = re.sub(r"[ \t]{2,}", " ", checked).strip()
    citations = []
    for n, number in sorted(order.items(), key=lambda kv: kv[1]):
        p = passages[n - 1]
        citations.append(
            Citation(
                number=number,
                source=p.source,
                title=p.title,
                start=p.start,
                end=p.end,
                score=p.score,
                text=p.text,
                passage_id=p.id,
                section=p.section,
                language=p.language,
                highlights=tuple((highlights or {}).get(n, ())),
            )
        )
    return checked, citations
