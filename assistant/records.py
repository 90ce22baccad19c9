"""Typed records that flow between the stages, and out of the public API.

All are frozen dataclasses with JSON-able fields, so ``dataclasses.asdict`` is the wire format
for ``--json``, the index files and the evaluation reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One cleaned document of the corpus.

    ``source`` is the path relative to the corpus folder; ``text`` is the cleaned text that all
    passage offsets point into; ``spans`` map it back to the text extracted from the file
    (``ingest.clean.to_original``), so a citation can be located in the source itself.
    """

    source: str
    title: str
    language: str
    text: str
    content_hash: str
    origin: str = ""
    spans: tuple[tuple[int, int, int], ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    """A chunk of a document: ``document.text[start:end] == text``.

    ``score`` is the fused retrieval score when the passage comes out of ``retrieve()``;
    ``dense`` (cosine similarity) and ``lexical`` (BM25) are each leg's own score for it,
    ``None`` only when the retrieval mode left that leg out.
    """

    id: str
    source: str
    title: str
    language: str
    start: int
    end: int
    text: str
    section: str = ""
    score: float = 0.0
    dense: float | None = None
    lexical: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """One numbered citation: marker ``[number]`` in the answer points here.

    ``start``/``end`` locate the passage in the cleaned document; ``highlights`` are the
    document offsets of the sentences that the answer drew from it.
    """

    number: int
    source: str
    title: str
    start: int
    end: int
    score: float
    text: str
    passage_id: str
    section: str = ""
    language: str = ""
    highlights: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Answer:
    """What ``answer()`` returns."""

    question: str
    answer: str
    citations: tuple[Citation, ...]
    abstained: bool
    language: str
    composer: str = "extractive"
    passages: tuple[Passage, ...] = ()
    confidence: float = 0.0
    warnings: tuple[str, ...] = ()
    notices: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelInfo:
    """Which embedding model runs, and why it is that one."""

    requested: str
    name: str
    path: str
    dimension: int
    multilingual: bool
    fallback: bool
    reason: str = ""
    query_prompt: str = ""
    passage_prompt: str = ""

    def describe(self) -> str:
        if not self.fallback and self.multilingual:
            return f"embedding model {self.name} ({self.dimension}-d, multilingual)"
        if not self.fallback:
            return (f"embedding model {self.name} ({self.dimension}-d) — ENGLISH-ONLY: cross-lingual "
                    "retrieval is lexical only (names, numbers, transliteration, dictionary)")
        return (
            f"embedding model {self.name} — OFFLINE ENGLISH-ONLY STAND-IN for {self.requested} "
            f"({self.reason}); cross-lingual retrieval is lexical only (names, numbers, transliteration, "
            "dictionary) until the multilingual model is available"
        )


@dataclass(frozen=True)
class IndexReport:
    """What an index build or update did."""

    documents: int
    passages: int
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    embedded: int = 0
    reused: int = 0
    skipped: tuple[str, ...] = ()
    rebuilt_reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Status:
    """What the faces show in their status line."""

    model: ModelInfo
    documents: int
    passages: int
    composer: str
    corpus_dir: str
    index_dir: str
    warnings: tuple[str, ...] = ()
    lexicon: str = "none"  # the English–Russian dictionary behind cross-lingual BM25

    def describe(self) -> str:
        return (
            f"{self.model.describe()} · {self.documents} documents, {self.passages} passages · "
            f"answers: {self.composer} · cross-lingual lexicon: {self.lexicon}"
        )
