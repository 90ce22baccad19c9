"""What every composer produces: a draft answer whose markers ``[n]`` number the passages.

The checker in ``assistant.cite`` turns a draft into the final ``Answer``: it drops markers
that point nowhere, renumbers the rest in order of first use and builds one citation each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from assistant.records import Passage

ABSTAIN = {
    "ru": "В корпусе нет сведений, которые отвечали бы на этот вопрос.",
    "en": "The corpus does not hold enough to answer this question.",
}


@dataclass
class Draft:
    """Answer text with markers ``[n]`` (1-based into ``passages``), before checking."""

    text: str
    abstained: bool
    confidence: float = 0.0
    composer: str = "extractive"
    # passage number → document offsets of the sentences drawn from it
    highlights: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def drain(stream: Iterator[str | Draft]) -> Draft:
    """The finished draft at the end of a composer's stream (what ``compose`` returns)."""
    draft = None
    for item in stream:
        if isinstance(item, Draft):
            draft = item
    return draft if draft is not None else Draft("", abstained=True)


class Composer(Protocol):
    """``context``: the standalone form of a follow-up question (what retrieval searched for)."""

    name: str

    def compose(self, question: str, passages: list[Passage], language: str,
                context: str | None = None) -> Draft: ...

    def stream(self, question: str, passages: list[Passage], language: str,
               context: str | None = None) -> Iterator[str | Draft]:
        """Text deltas as they are written, then the finished :class:`Draft`."""
        ...
