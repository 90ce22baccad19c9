"""A question, analysed once: the record every stage of search and answering reads.

>>> from assistant.retrieve.query import analyse_text
>>> q = analyse_text("What does the expert say about Khorgos in 2020?")
>>> q.language, q.terms, q.names, q.numbers
('en', ('expert', '~expert', 'khorgo', '~khorgo', '2020'), ('Khorgos',), ('2020',))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.ingest.language import detect_language
from assistant.lexical import NAME, analyze, words
from assistant.text import safe_text
from assistant.translate import Concept

NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


@dataclass(frozen=True, eq=False)
class Query:
    """What search and answering know about one question.

    ``question`` is what was asked; ``text`` is what is searched (for a follow-up, its standalone
    form; otherwise the question). ``words`` (stem, cross-script key) and ``numbers`` are the
    question's own, which an answer must cover; ``terms``, ``names``, ``concepts`` and ``vector``
    describe ``text``, which retrieval ranks by. ``user`` scopes the search to the shared corpus
    plus that user's own uploads (``None``: the shared corpus and every upload).
    """

    question: str
    text: str
    language: str
    words: tuple[tuple[str, str], ...]
    numbers: tuple[str, ...]
    terms: tuple[str, ...]
    names: tuple[str, ...]
    concepts: tuple[Concept, ...] = ()
    vector: np.ndarray | None = field(default=None, repr=False)
    user: str | None = None

    @property
    def translations(self) -> dict[str, dict[str, float]]:
        """Question stem → its translated index terms and their weights."""
        return {c.source: dict(c.terms) for c in self.concepts}

    def with_vector(self, vector: np.ndarray | None) -> Query:
        return replace(self, vector=vector)


def analyse_text(question: str, text: str | None = None, user: str | None = None) -> Query:
    """The lexical part of the analysis (no model, no dictionary): language, words, terms, names."""
    question = safe_text(question)
    text = safe_text(text) if text else question
    asked = words(question)
    names = tuple(m.group() for m in NAME.finditer(text) if m.start() > 0)
    return Query(
        question=question, text=text, language=detect_language(question), words=tuple(asked),
        numbers=tuple(dict.fromkeys(stem for stem, _ in asked if NUMBER.match(stem))),
        terms=tuple(analyze(text)), names=names, user=user,
    )
