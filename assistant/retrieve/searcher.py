"""Hybrid retrieval: analyse the question once, let each leg rank it, fuse, scope, deduplicate.

>>> from assistant import Assistant                                                   # doctest: +SKIP
>>> r = Assistant().retriever()                                                       # doctest: +SKIP
>>> q = r.analyse("Where is Khorgos?")                                                # doctest: +SKIP
>>> [p.source for p in r.search(q, k=3)]                                              # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from assistant.embed import Embedder, text_key
from assistant.ingest.chunk import split_sentences
from assistant.lexical import LexicalIndex, analyze
from assistant.lexicon import Lexicon
from assistant.records import Passage
from assistant.retrieve.fusion import RRF, ConvexFusion, Ranking
from assistant.retrieve.legs import DenseLeg, Leg, LexicalLeg, NamesLeg, TranslationLeg
from assistant.retrieve.policy import LanguagePolicy, SearchOptions, policy_for
from assistant.retrieve.query import Query, analyse_text
from assistant.translate import Translator

MODES = ("hybrid", "dense", "lexical")
CONCEPT_CACHE = 512
SENTENCE_MEMO = 20_000
TERMS_MEMO = 20_000


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


class Retriever:
    """One loaded index, searchable. Thread-safe: queries share nothing mutable but a cache."""

    def __init__(self, index, embedder: Embedder, options: SearchOptions | None = None,
                 lexicon: Lexicon | None = None) -> None:
        self.index = index  # store.StoredIndex
        self.embedder = embedder
        self.options = options or SearchOptions()
        # everything per row comes from the index as saved (arrays, BM25): nothing is re-read or rebuilt here
        self.passages: Sequence[Passage] = index.passages
        self.languages: np.ndarray = index.languages
        self.owners: np.ndarray = index.owners
        self.private = bool(len(self.owners)) and bool((self.owners != "").any())
        self.policy: LanguagePolicy = policy_for(embedder.info, self.options, self.languages,
                                                 dictionary=lexicon is not None)
        self.lexical: LexicalIndex = index.lexical
        self.lexicon = lexicon
        self.translator = Translator(lexicon, self.lexical.idf) if lexicon is not None and self.policy.translates \
            else None
        self.legs: dict[str, Leg] = {
            "dense": DenseLeg(index, self.languages, calibrate=self.policy.calibrate_dense),
            "bm25": LexicalLeg(self.lexical, self.languages, self.options.translated_weight),
            "names": NamesLeg(self.lexical),
            "translation": TranslationLeg(self.lexical, self.languages),
        }
        self.fusion = RRF(self.options.rrf_k) if self.policy.fusion == "rrf" else ConvexFusion()
        self._concepts: OrderedDict[str, tuple] = OrderedDict()
        self._sentence_memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._terms: OrderedDict[int, set[str]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self.passages)

    # --- the one analysis ---------------------------------------------------------------
    def analyse(self, question: str, text: str | None = None, user: str | None = None,
                mode: str = "hybrid") -> Query:
        """``question`` analysed once: words, terms, names, translation (if the policy uses one)
        and its vector (unless ``mode="lexical"``). ``text``: what to search for instead (a
        follow-up's standalone form)."""
        query = analyse_text(question, text, user)
        if self.translator is not None and mode == "hybrid":
            query = replace(query, concepts=self._translate(query.text))
        if mode != "lexical" and self.size:
            # each part of a two-part question is embedded too (one batch): the composer looks for a
            # sentence that answers each part, across languages, where shared words cannot show it
            vectors = self.embedder.embed_queries([query.text, *query.part_texts])
            query = replace(query.with_vector(vectors[0]),
                            part_vectors=np.asarray(vectors[1:]) if query.part_texts else None)
        return query

    def _translate(self, text: str) -> tuple:
        assert self.translator is not None
        with self._lock:
            found = self._concepts.get(text)
        if found is None:
            found = tuple(self.translator.concepts(text))
            with self._lock:
                self._concepts[text] = found
                while len(self._concepts) > CONCEPT_CACHE:
                    self._concepts.popitem(last=False)
        return found

    # --- ranking ------------------------------------------------------------------------
    def visible(self, query: Query) -> np.ndarray | None:
        """Rows the question may see: the shared corpus and its user's own uploads."""
        live = self.index.live  # rows of documents removed since the last merge are masked
        if not self.private or query.user is None:
            return live
        mine = (self.owners == "") | (self.owners == query.user)
        return mine if live is None else mine & live

    def rankings(self, query: Query, depth: int, mode: str = "hybrid") -> list[tuple[Ranking, float]]:
        """Each planned leg's ranking with its fusion weight."""
        visible = self.visible(query)
        out = []
        for step in self.policy.plan(query, mode):
            keep = step.keep if visible is None else (visible if step.keep is None else step.keep & visible)
            out.append((self.legs[step.leg].rank(query, depth, keep), step.weight))
        return out

    def search(self, query: Query | str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """Top ``k`` passages, best first, each with its fused score and each leg's own score."""
        if isinstance(query, str):
            query = self.analyse(query, mode=mode)
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}")
        if not self.size:
            return []
        depth = min(max(self.options.candidates, k), self.size)
        ranked = self.rankings(query, depth, mode)
        fused = self.fusion.fuse(ranked)
        lexical = {int(r): float(s) for rk, _ in ranked if rk.leg == "bm25"
                   for r, s in zip(rk.rows, rk.scores, strict=True)}
        kept = self._dedup([row for row, _ in fused], k)
        scores = dict(fused)
        dense = self.dense_scores(query, kept) if mode != "lexical" else None
        out = []
        for i, row in enumerate(kept):
            out.append(replace(self.passages[row], score=round(scores[row], 6),
                               dense=None if dense is None else round(float(dense[i]), 4),
                               lexical=None if mode == "dense" else round(lexical.get(row, 0.0), 4)))
        return out

    def _dedup(self, rows: list[int], k: int) -> list[int]:
        """The first ``k`` rows that are no near-duplicate of a better one (repeated blocks)."""
        kept: list[int] = []
        terms: list[set[str]] = []
        for row in rows:
            mine = self._terms_of(row)
            if any(jaccard(mine, other) >= self.options.dedup_threshold for other in terms):
                continue
            kept.append(row)
            terms.append(mine)
            if len(kept) >= k:
                break
        return kept

    def _terms_of(self, row: int) -> set[str]:
        """A passage's analysed terms, remembered: the same candidates come back question after question."""
        with self._lock:
            found = self._terms.get(row)
        if found is None:
            found = set(analyze(self.passages[row].text))
            with self._lock:
                self._terms[row] = found
                while len(self._terms) > TERMS_MEMO:
                    self._terms.popitem(last=False)
        return found

    # --- what composers read --------------------------------------------------------------
    def dense_scores(self, query: Query, rows: list[int]) -> np.ndarray:
        """Cosine similarity of the query to the given passage rows only."""
        if query.vector is None or not rows:
            return np.zeros(len(rows), dtype=np.float32)
        return self.index.vectors_of(rows) @ query.vector

    def sentences(self, passage: Passage) -> tuple[list[tuple[int, int]], np.ndarray]:
        """A passage's sentence spans (offsets into its text) and their unit vectors: stored at
        index time for indexed passages; embedded once and remembered for any other."""
        row = self.index.row_of(passage.id)
        if row is not None and self.passages[row].text == passage.text:
            return self.index.sentences_of(row)
        spans = split_sentences(passage.text)
        texts = [passage.text[a:b] for a, b in spans]
        keys = [text_key(t) for t in texts]
        with self._lock:
            missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self._sentence_memo]
        if missing:
            vectors = self.embedder.embed_passages([t for _, t in missing])
            with self._lock:
                for (k, _), v in zip(missing, vectors, strict=True):
                    self._sentence_memo[k] = v
                while len(self._sentence_memo) > SENTENCE_MEMO:
                    self._sentence_memo.popitem(last=False)
        with self._lock:
            found = [self._sentence_memo.get(k) for k in keys]
        dim = self.embedder.info.dimension
        matrix = np.stack([v if v is not None else np.zeros(dim, np.float32) for v in found]) if found \
            else np.zeros((0, dim), dtype=np.float32)
        return spans, matrix

    def weight(self, term: str) -> float:
        """IDF of an index term (unseen terms weigh the most: they are the most specific)."""
        return self.lexical.weight(term)

    def row_of(self, passage_id: str) -> int | None:
        return self.index.row_of(passage_id)

    def describe(self) -> str:
        return self.policy.describe()
