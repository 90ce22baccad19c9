"""Hybrid retrieval: dense search ∥ BM25 ∥ cross-script name matches ∥ BM25 over the question's
dictionary translation, fused by reciprocal rank fusion, deduplicated.

>>> [(d, round(s, 4)) for d, s in rrf([["a", "b", "c"], ["c", "a"]], k=60)]
[('a', 0.0325), ('c', 0.0323), ('b', 0.0161)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from assistant.embed import Embedder
from assistant.ingest.language import detect_language
from assistant.lexical import LexicalIndex, analyze
from assistant.lexicon import Lexicon
from assistant.records import Passage
from assistant.store import StoredIndex
from assistant.translate import Concept, Translator


def rrf(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: ``score(d) = Σ w_i / (k + rank_i(d))``, ranks from 1, best first."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


class Searcher:
    """Everything a query needs, in memory: vectors, BM25, passages."""

    def __init__(self, index: StoredIndex, embedder: Embedder, *, candidates: int = 40, rrf_k: int = 60,
                 dense_weight: float = 1.0, lexical_weight: float = 1.0, dedup_threshold: float = 0.8,
                 foreign_dense_weight: float = 0.3, lexicon: Lexicon | None = None,
                 translated_weight: float = 1.0, other_language_weight: float = 1.0) -> None:
        self.index = index
        self.passages = index.passages
        self.embedder = embedder
        self.matrix = index.vector_matrix()
        self.lexical = LexicalIndex([f"{p.section}\n{p.text}" if p.section else p.text for p in self.passages])
        self.terms = [set(analyze(p.text)) for p in self.passages]
        # An English-only model compares an English question with Russian passages at random:
        # in hybrid search those must not outvote BM25 (dense-only mode still ranks everything).
        self.english_only = not embedder.info.multilingual
        self.english = [p.language == "en" for p in self.passages]
        self.languages = np.array([p.language for p in self.passages])
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.weights = (dense_weight, lexical_weight)
        self.foreign_dense_weight = foreign_dense_weight
        self.dedup_threshold = dedup_threshold
        self.lexicon = lexicon
        self.translator = Translator(lexicon, self.lexical.idf) if lexicon is not None else None
        self.translated_weight = translated_weight
        self.other_language_weight = other_language_weight
        self._concepts: dict[str, list[Concept]] = {}

    def concepts(self, query: str) -> list[Concept]:
        """The query's words translated into the corpus's other language (empty without a lexicon)."""
        if self.translator is None:
            return []
        found = self._concepts.get(query)
        if found is None:
            found = self.translator.concepts(query)
            if len(self._concepts) > 512:
                self._concepts.clear()
            self._concepts[query] = found
        return found

    def translations(self, query: str) -> dict[str, dict[str, float]]:
        """Question stem → its translated index terms and their weights (for answer scoring)."""
        return {c.source: dict(c.terms) for c in self.concepts(query)}

    def dense_scores(self, query: str) -> np.ndarray:
        """Cosine similarity of the query to every passage (exact inner product over unit vectors)."""
        if not len(self.passages):
            return np.zeros(0, dtype=np.float32)
        q = self.embedder.embed_queries([query])[0]
        return self.matrix @ q

    def dense_search(self, query: str, depth: int) -> tuple[list[int], np.ndarray]:
        """FAISS's top ``depth`` rows for the query, and every passage's similarity.

        The ranking comes from the FAISS index; the full similarity vector (one matrix product
        over the same vectors) gives the passages that only BM25 found their dense score too,
        which the answer composer weighs.
        """
        q = self.embedder.embed_queries([query])[0]
        _, rows = self.index.vectors.search(q[None, :].astype(np.float32), depth)
        return [int(r) for r in rows[0] if r >= 0], self.matrix @ q

    def reads(self, query: str) -> bool:
        """Whether the embedding model reads the query's language."""
        return self.embedder.info.multilingual or detect_language(query) == "en"

    def dense_weight(self, query: str, passage_language: str | None = None) -> float:
        """The dense leg's weight: lowered when the model cannot read the query (or the passage).

        An English-only model maps Russian text to near-random vectors, so its ranking of a
        Russian question would only add noise to BM25's, and so would its similarity between
        an English question and a Russian passage.
        """
        info = self.embedder.info
        unread = detect_language(query) != "en" or passage_language not in (None, "en")
        if not info.multilingual and unread:
            return self.weights[0] * self.foreign_dense_weight
        return self.weights[0]

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """Top ``k`` passages for ``query``; ``mode`` is ``hybrid``, ``dense`` or ``lexical``."""
        n = len(self.passages)
        if not n or not query.strip():
            return []
        depth = min(max(self.candidates, k), n)
        dense = np.zeros(n, np.float32)
        dense_top: list[int] = []
        if mode in ("hybrid", "dense"):
            dense_top, dense = self.dense_search(query, depth)
        lex = self.lexical.scores(query) if mode in ("hybrid", "lexical") else np.zeros(n, np.float32)
        concepts = self.concepts(query) if mode == "hybrid" else []
        translated = self.lexical.concept_scores(concepts) if concepts else np.zeros(n, np.float32)
        if concepts:
            # translations count in the other language only: in the question's own, a translated
            # word's key can collide with a native one (``дата`` → ``~data``, English "data")
            own = detect_language(query)
            translated[self.languages == own] = 0.0
        # one bilingual BM25: a passage in the other language scores through the question's
        # translation on the same scale, so passages of either language compete on coverage
        lex = lex + self.translated_weight * translated
        rankings: list[list[str]] = []
        weights: list[float] = []
        if mode in ("hybrid", "dense"):
            mask = mode == "hybrid" and self.english_only and detect_language(query) == "en"
            top = [i for i in dense_top if not mask or self.english[i]]
            rankings.append([str(i) for i in top])
            weights.append(self.dense_weight(query))
        if mode in ("hybrid", "lexical"):
            top = [i for i in np.argsort(-lex)[:depth] if lex[i] > 0]
            rankings.append([str(i) for i in top])
            weights.append(self.weights[1])
        if mode == "hybrid":
            rankings.append([str(i) for i, _ in self.lexical.cross_script(query, depth)])
            weights.append(self.weights[1])
            if self.other_language_weight and concepts and self.reads(query):
                # The other language's passages ranked by the translation alone, as a leg of
                # their own. Only where the dense leg reads the question: its native votes then
                # keep same-language answers on top (main set: en→ru hit@5 0.08 → 0.92, en→en
                # unchanged). A Russian question has no such anchor with the English-only model,
                # and this leg let English passages crowd out Russian answers (ru→ru hit@5 0.96 → 0).
                rankings.append([str(i) for i in np.argsort(-translated)[:depth]
                                 if translated[i] > 0 and self.passages[i].language != own])
                weights.append(self.other_language_weight)
        fused = rrf(rankings, self.rrf_k, weights)
        out: list[Passage] = []
        kept: list[int] = []
        for key, score in fused:
            row = int(key)
            if any(jaccard(self.terms[row], self.terms[j]) >= self.dedup_threshold for j in kept):
                continue  # near-duplicate of a better passage (repeated blocks across documents)
            kept.append(row)
            out.append(replace(self.passages[row], score=round(score, 6),
                               dense=round(float(dense[row]), 4) if mode != "lexical" else None,
                               lexical=round(float(lex[row]), 4) if mode != "dense" else None))
            if len(out) >= k:
                break
        return out


def to_langchain(p: Passage) -> LCDocument:
    meta = p.to_dict()
    text = meta.pop("text")
    return LCDocument(page_content=text, metadata=meta, id=p.id)


def from_langchain(doc: LCDocument) -> Passage:
    return Passage(text=doc.page_content, **doc.metadata)


class HybridRetriever(BaseRetriever):
    """The same search as a LangChain retriever: passages come back as ``Document`` objects
    whose metadata holds the passage record (source, title, offsets, scores)."""

    searcher: Any
    k: int = 5
    mode: str = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [to_langchain(p) for p in self.searcher.search(query, k=self.k, mode=self.mode)]
