"""What every composer produces: a draft answer whose markers ``[n]`` number the passages.

A composer's one method is ``stream(query, passages)``: text deltas as it writes, then the
finished :class:`Draft`. The checker in ``assistant.cite`` turns a draft into the final
``Answer``: it drops markers that point nowhere, renumbers the rest in order of first use and
builds one citation each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from assistant.records import Passage
from assistant.retrieve.query import Query

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
    related: list[int] = field(default_factory=list)  # passage numbers shown beside an abstention


class Composer(Protocol):
    name: str

    def stream(self, query: Query, passages: list[Passage]) -> Iterator[str | Draft]:
        """Text deltas as they are written, then the finished :class:`Draft`."""
        ...
