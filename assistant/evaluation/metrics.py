"""Deterministic evaluation metrics: gold matching and the per-question / aggregate figures.

Gold matching never depends on chunking. A passage *holds* an evidence phrase when the
normalised phrase (lowercased, ``-\\n`` between letters removed, whitespace collapsed) is
inside the normalised passage text, or — for a phrase cut by a chunk boundary — when the
passage's ``[start, end)`` covers at least half of the phrase's location in the cleaned
document text.

Retrieval figures take, per question, ``found``: for each ranked passage (best first) the set
of evidence-phrase indices it holds.

>>> found = [set(), {0}, set(), {0, 1}]
>>> hit_at_k(found, 1), hit_at_k(found, 2), recall_at_k(found, 2, 2), recall_at_k(found, 2, 4)
(0.0, 1.0, 0.5, 1.0)
>>> reciprocal_rank(found, 10)
0.5
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])-\n(?=[^\W\d_])")


class Located(Protocol):
    """Anything with a text and a place in a cleaned document (``Passage``, ``Citation``)."""

    source: str
    start: int
    end: int
    text: str


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """``(normalised text, offsets)``: ``offsets[i]`` is where normalised char ``i`` came from.

    >>> normalise_with_offsets("  Big-\\nData\\n  AI ")
    ('bigdata ai', [2, 3, 4, 7, 8, 9, 10, 11, 14, 15])
    """
    removed: set[int] = set()
    for m in _HYPHEN_BREAK.finditer(text):
        removed.update(range(m.start(), m.end()))
    out: list[str] = []
    pos: list[int] = []
    space_at: int | None = None
    for i, ch in enumerate(text):
        if i in removed:
            continue
        if ch.isspace():
            if out and space_at is None:
                space_at = i
            continue
        if space_at is not None:
            out.append(" ")
            pos.append(space_at)
            space_at = None
        for c in ch.lower():
            out.append(c)
            pos.append(i)
    return "".join(out), pos


@lru_cache(maxsize=20_000)
def normalise(text: str) -> str:
    """Lowercased, ``-\\n`` between letters removed, whitespace collapsed and stripped.

    >>> normalise("Artificial  Intelli-\\ngence\\n")
    'artificial intelligence'
    """
    return normalise_with_offsets(text)[0]


@lru_cache(maxsize=256)
def _normalised_document(text: str) -> tuple[str, tuple[int, ...]]:
    norm, pos = normalise_with_offsets(text)
    return norm, tuple(pos)


@lru_cache(maxsize=4096)
def locate(phrase: str, document_text: str) -> tuple[tuple[int, int], ...]:
    """Every ``[start, end)`` of ``phrase`` in ``document_text``, matched after normalisation,
    in the document's own offsets. Empty when the phrase is not there (e.g. cleaned away).

    >>> locate("big data", "Use BIG\\n data. Big data!")
    ((4, 13), (15, 23))
    """
    needle = normalise(phrase)
    if not needle:
        return ()
    norm, pos = _normalised_document(document_text)
    spans = []
    at = norm.find(needle)
    while at >= 0:
        spans.append((pos[at], pos[at + len(needle) - 1] + 1))
        at = norm.find(needle, at + 1)
    return tuple(spans)


def holds_evidence(
    passage: Located,
    phrase: str,
    document: str = "",
    document_text: str | None = None,
    min_overlap: float = 0.5,
) -> bool:
    """Whether ``passage`` holds the evidence ``phrase`` (which comes from ``document``).

    True when the normalised phrase is inside the normalised passage text; otherwise, when the
    passage is from ``document`` and its ``[start, end)`` covers at least ``min_overlap`` of
    one of the phrase's locations in ``document_text`` (a phrase cut by a chunk boundary).
    """
    needle = normalise(phrase)
    if not needle:
        return False
    if needle in normalise(passage.text):
        return True
    if document_text is None or (document and passage.source != document):
        return False
    for start, end in locate(phrase, document_text):
        overlap = min(end, passage.end) - max(start, passage.start)
        if overlap > 0 and overlap >= min_overlap * (end - start):
            return True
    return False


# --- retrieval -------------------------------------------------------------------------------
def hit_at_k(found: Sequence[set[int]], k: int) -> float:
    """1.0 when any of the top ``k`` passages holds evidence, else 0.0."""
    return 1.0 if any(found[:k]) else 0.0


def recall_at_k(found: Sequence[set[int]], n_phrases: int, k: int) -> float:
    """Share of the question's ``n_phrases`` evidence phrases held by the top ``k`` passages."""
    if n_phrases <= 0:
        return 0.0
    held = set().union(*found[:k]) if found[:k] else set()
    return len(held) / n_phrases


def reciprocal_rank(found: Sequence[set[int]], k: int = 10) -> float:
    """``1 / rank`` of the first passage holding evidence within the top ``k``, else 0."""
    for rank, phrases in enumerate(found[:k], start=1):
        if phrases:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(found: Sequence[set[int]], n_phrases: int, k: int = 10) -> float:
    """Binary nDCG over evidence phrases, so it does not depend on chunking.

    Gain at rank ``i`` = number of evidence phrases first held at that rank (a passage
    repeating an already-found phrase gains nothing). The ideal ranking finds one new phrase
    per rank: ``IDCG = Σ_{i=1..min(n_phrases, k)} 1/log2(i+1)``. The ratio is capped at 1
    (a single passage holding several phrases is as good as it gets). With one evidence
    phrase this is the usual binary nDCG with one relevant item: ``1/log2(1 + rank)``.
    """
    if n_phrases <= 0:
        return 0.0
    seen: set[int] = set()
    dcg = 0.0
    for rank, phrases in enumerate(found[:k], start=1):
        new = phrases - seen
        if new:
            dcg += len(new) / math.log2(rank + 1)
            seen |= new
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(n_phrases, k) + 1))
    return min(1.0, dcg / ideal)


# --- answers ---------------------------------------------------------------------------------
def key_share(answer: str, keys: Sequence[str]) -> float:
    """Share of answer keys contained in the answer (case-insensitive, whitespace collapsed).

    >>> key_share("Big data and AI [1].", ["big data", "AI", "blockchain"])
    0.6666666666666666
    """
    if not keys:
        return 0.0
    text = normalise(answer)
    return sum(1 for key in keys if normalise(key) in text) / len(keys)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation, as numpy), or ``None`` for no values."""
    data = [v for v in values if v is not None]
    return float(np.percentile(data, q)) if data else None


def mean(values: Iterable[float | None]) -> float | None:
    data = [v for v in values if v is not None]
    return sum(data) / len(data) if data else None


def aggregate(rows: Sequence[dict], k: int) -> dict[str, float | int | None]:
    """Figures over per-question rows of one system (see ``harness.score_question``).

    Retrieval, answer-key and citation figures are over answerable questions; abstention over
    unanswerable ones; ``accuracy`` over all (answerable: every key in a non-abstained answer;
    unanswerable: abstained). ``None`` where a slice has no question to measure.
    """
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    cited = sum(r["citations"] for r in ans)
    return {
        "questions": len(rows),
        "answerable": len(ans),
        "unanswerable": len(una),
        "accuracy": mean(r["correct"] for r in rows),
        f"hit@{k}": mean(r["hit"] for r in ans),
        f"recall@{k}": mean(r["recall"] for r in ans),
        "mrr@10": mean(r["rr"] for r in ans),
        "ndcg@10": mean(r["ndcg"] for r in ans),
        "answer_key_accuracy": mean(float(r["key_share"] == 1.0 and not r["abstained"]) for r in ans),
        "answer_key_recall": mean(r["key_share"] for r in ans),
        "citation_precision": (sum(r["citations_with_evidence"] for r in ans) / cited) if cited else None,
        "citation_recall": mean(float(r["evidence_cited"] > 0) for r in ans),
        "citation_evidence_recall": mean(r["evidence_cited"] / r["phrases"] for r in ans if r["phrases"]),
        "abstention_unanswerable": mean(float(r["abstained"]) for r in una),
        "false_abstention": mean(float(r["abstained"]) for r in ans),
        "retrieve_p50_ms": percentile((r["retrieve_ms"] for r in rows), 50),
        "retrieve_p95_ms": percentile((r["retrieve_ms"] for r in rows), 95),
        "answer_p50_ms": percentile((r["answer_ms"] for r in rows), 50),
        "answer_p95_ms": percentile((r["answer_ms"] for r in rows), 95),
    }
