"""The legs of hybrid search: each ranks passage rows for an analysed :class:`Query`.

* :class:`DenseLeg` — the FAISS index over passage vectors (cosine over unit vectors);
* :class:`LexicalLeg` — BM25 over Russian/English stems and cross-script keys; with a dictionary
  translation in the query (English-only model), passages in the other language also score
  through it, on the same BM25 scale;
* :class:`NamesLeg` — passages holding the question's names in the other script only
  (``Khorgos`` → ``Хоргоса``);
* :class:`TranslationLeg` — the other language's passages ranked by the dictionary translation
  alone.

Which legs run, and with what weight, is the language policy's decision
(:mod:`assistant.retrieve.policy`), not the legs'.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from assistant.lexical import LexicalIndex
from assistant.retrieve.fusion import Ranking
from assistant.retrieve.query import Query


class Leg(Protocol):
    name: str

    def rank(self, query: Query, depth: int, keep: np.ndarray | None = None) -> Ranking:
        """The ``depth`` best rows for ``query`` (``keep``: a boolean mask of allowed rows)."""
        ...


class DenseLeg:
    """Cosine similarity through FAISS; with ``calibrate``, centred per passage language.

    A multilingual model does not score languages alike: multilingual-e5-small gives a
    Russian question's unrelated Russian passages a higher similarity than its English ones, so
    the passage that answers in the other language ranks below same-language noise. Calibrated,
    each similarity has the median similarity of the question to its passage's language
    subtracted (measured on a fixed sample of up to ``SAMPLE`` passages per language), and the
    other language's best candidates are searched for separately so that they are compared at
    all.
    """

    name = "dense"
    SAMPLE = 512

    def __init__(self, index, languages: np.ndarray, calibrate: bool = False) -> None:  # store.StoredIndex
        self.index = index
        self.languages = languages
        self.calibrate = calibrate and len(set(languages.tolist())) > 1
        self.samples = {lang: rows[:: max(1, len(rows) // self.SAMPLE)][: self.SAMPLE]
                        for lang in set(languages.tolist())
                        for rows in [np.flatnonzero(languages == lang)]} if self.calibrate else {}
        # read once: the sample is fixed, so no question reads stored vectors beyond its candidates
        self.sample_vectors = {lang: np.asarray(index.vectors_of(rows), dtype=np.float32)
                               for lang, rows in self.samples.items()}

    def rank(self, query: Query, depth: int, keep: np.ndarray | None = None) -> Ranking:
        if query.vector is None or not self.index.size:
            return Ranking.empty(self.name)
        rows, scores = self.index.search_vectors(query.vector, depth, keep)
        if not self.calibrate:
            return Ranking(self.name, rows, scores)
        other = self.languages != query.language
        more, more_scores = self.index.search_vectors(query.vector, depth, other if keep is None else other & keep)
        found = dict(zip(more.tolist(), more_scores.tolist(), strict=True))
        found.update(zip(rows.tolist(), scores.tolist(), strict=True))
        centre = {lang: float(np.median(sample @ query.vector)) for lang, sample in self.sample_vectors.items()}
        merged = np.array(list(found), dtype=np.int64)
        calibrated = np.array([found[r] - centre[self.languages[r]] for r in merged.tolist()], dtype=np.float32)
        order = np.lexsort((merged, -calibrated))[:depth]
        return Ranking(self.name, merged[order], calibrated[order])


class LexicalLeg:
    name = "bm25"

    def __init__(self, lexical: LexicalIndex, languages: np.ndarray, translated_weight: float = 1.0) -> None:
        self.lexical = lexical
        self.languages = languages
        self.translated_weight = translated_weight

    def scores(self, query: Query) -> np.ndarray:
        """BM25 of every passage: the question's own terms, plus, for passages in the other
        language, its dictionary translation (never in its own language, where a translated word's
        key can collide with a native one: ``дата`` → ``~data``, English "data")."""
        scores = self.lexical.scores(query.terms)
        if query.concepts and self.translated_weight:
            translated = self.lexical.concept_scores(query.concepts)
            translated[self.languages == query.language] = 0.0
            scores = scores + self.translated_weight * translated
        return scores

    def rank(self, query: Query, depth: int, keep: np.ndarray | None = None) -> Ranking:
        return Ranking.top(self.name, self.scores(query), depth, keep)


class NamesLeg:
    """Passages holding a name of the question spelt only in the other script."""

    name = "names"

    def __init__(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical

    def rank(self, query: Query, depth: int, keep: np.ndarray | None = None) -> Ranking:
        hits = [(r, s) for r, s in self.lexical.cross_script(query.names, depth * 2) if keep is None or keep[r]]
        hits = hits[:depth]
        return Ranking(self.name, np.array([r for r, _ in hits], dtype=np.int64),
                       np.array([s for _, s in hits], dtype=np.float32))


class TranslationLeg:
    name = "translation"

    def __init__(self, lexical: LexicalIndex, languages: np.ndarray) -> None:
        self.lexical = lexical
        self.languages = languages

    def rank(self, query: Query, depth: int, keep: np.ndarray | None = None) -> Ranking:
        if not query.concepts:
            return Ranking.empty(self.name)
        other = self.languages != query.language
        return Ranking.top(self.name, self.lexical.concept_scores(query.concepts), depth,
                           other if keep is None else other & keep)
