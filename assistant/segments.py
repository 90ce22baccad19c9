"""An index in segments: a base generation, small delta segments for documents added since, and
the documents removed since, masked rather than rewritten (as Lucene does it).

A million passages take minutes to index again; adding or removing one document should not.
:func:`assistant.store.append` writes an update as a delta segment beside the base's files
(hard-linked into the new generation) and records the removed documents' sources; the next full
build merges everything back into one segment. :class:`SegmentedIndex` presents the segments as
one index with one row space (the base's rows, then each delta's), with the same attributes as
:class:`assistant.store.StoredIndex`, so retrieval and answering do not know the difference:

* ``live`` — a row mask, false for the rows of removed documents; the searcher applies it to
  every leg, as it applies a user's visibility;
* dense search asks each segment for its best rows and merges them by score (the scores are
  inner products of unit vectors: comparable across segments);
* BM25 is scored per segment. The base's scores are its own. A delta's are rescaled term by term
  to the whole index's IDF (document frequencies summed over segments, removed rows included until
  the merge, as in Lucene), so a term rare in the corpus is not worth little in a small delta
  just because the delta is small; only the length normalisation stays the delta's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.lexical import Idf, LexicalIndex
from assistant.records import Document, Passage
from assistant.store import StoredIndex

if TYPE_CHECKING:
    from assistant.translate import Concept


class Segments:
    """Where each segment's rows start in the one row space."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.offsets = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64)
        self.size = int(self.offsets[-1])

    def locate(self, row: int) -> tuple[int, int]:
        """(segment, row within it) of a row of the whole index."""
        if not 0 <= row < self.size:
            raise IndexError(row)
        i = int(np.searchsorted(self.offsets, row, side="right")) - 1
        return i, row - int(self.offsets[i])

    def split(self, rows: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(segment, positions in ``rows``, rows within the segment) for each segment hit."""
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for i in np.unique(which).tolist():
            at = np.flatnonzero(which == i)
            yield i, at, rows[at] - self.offsets[i]


class SegmentedPassages(Sequence[Passage]):
    """Every row by index; iteration yields only the passages in force."""

    def __init__(self, parts: Sequence[StoredIndex], where: Segments, removed: Sequence[set[str]]) -> None:
        self.parts, self.where, self.removed = parts, where, removed

    def __len__(self) -> int:
        return self.where.size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        seg, row = self.where.locate(i + len(self) if i < 0 else i)
        return self.parts[seg].passages[row]

    def __iter__(self) -> Iterator[Passage]:
        for part, gone in zip(self.parts, self.removed, strict=True):
            yield from (p for p in part.passages if p.source not in gone)


class SegmentedDocuments(Mapping[str, Document]):
    """The documents in force: a source lives in one segment at a time (an update removes the
    older copy of a document it adds again)."""

    def __init__(self, parts: Sequence[StoredIndex], removed: Sequence[set[str]]) -> None:
        self.parts, self.removed = parts, removed

    def segment(self, source: str) -> int | None:
        for i in range(len(self.parts) - 1, -1, -1):
            if source not in self.removed[i] and source in self.parts[i].documents:
                return i
        return None

    def __getitem__(self, source: str) -> Document:
        i = self.segment(source)
        if i is None:
            raise KeyError(source)
        return self.parts[i].documents[source]

    def __contains__(self, source: object) -> bool:
        return isinstance(source, str) and self.segment(source) is not None

    def __iter__(self) -> Iterator[str]:
        for part, gone in zip(self.parts, self.removed, strict=True):
            yield from (s for s in part.documents if s not in gone)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class SegmentedVectors:
    """The segments' vector indexes as one :class:`assistant.vectors.VectorIndex`."""

    def __init__(self, parts: Sequence[StoredIndex], where: Segments) -> None:
        self.parts, self.where = parts, where
        self.kind = parts[0].vectors.kind
        self.meta = getattr(parts[0].vectors, "meta", {})

    @property
    def size(self) -> int:
        return self.where.size

    def search(self, vector: np.ndarray, depth: int,
               keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = [], []
        for i, part in enumerate(self.parts):
            a, b = int(self.where.offsets[i]), int(self.where.offsets[i + 1])
            r, s = part.vectors.search(vector, depth, None if keep is None else keep[a:b])
            rows.append(r + a)
            scores.append(s)
        all_rows, all_scores = np.concatenate(rows), np.concatenate(scores)
        order = np.lexsort((all_rows, -all_scores))[:depth]
        return all_rows[order].astype(np.int64), all_scores[order].astype(np.float32)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        idx = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(idx), self.parts[0].vectors.vectors_of([]).shape[1]), dtype=np.float32)
        for i, at, local in self.where.split(idx):
            out[at] = self.parts[i].vectors.vectors_of(local.tolist())
        return out


class SegmentedIdf(Idf):
    """IDF over all segments: document frequencies summed, as one index would count them."""

    def __init__(self, parts: Sequence[LexicalIndex], size: int) -> None:  # no super(): no vocabulary of its own
        self.parts = parts
        self.n = max(size, 1)

    def df(self, term: str) -> int:
        return sum(p.idf.df(term) for p in self.parts)  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for p in self.parts:
            for t in p.idf:
                if t not in seen:
                    seen.add(t)
                    yield t


class SegmentedLexical(LexicalIndex):
    """The segments' BM25 and cross-script keys as one :class:`assistant.lexical.LexicalIndex`."""

    def __init__(self, parts: Sequence[LexicalIndex], where: Segments) -> None:  # no super(): nothing to build
        self.parts, self.where = parts, where
        self.size = where.size
        self.idf = SegmentedIdf(parts, self.size)
        self.max_idf = math.log(1 + (max(self.size, 1) + 0.5) / 0.5)

    def _term(self, part: LexicalIndex, term: str) -> np.ndarray:
        """A delta's BM25 for one term, at the whole index's IDF."""
        own = part.idf.get(term)
        if not own:
            return np.zeros(part.size, dtype=np.float32)
        scale = self.idf[term] / own
        return scale * np.asarray(part.bm25.get_scores([term]), dtype=np.float32)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        out = [self.parts[0].scores(terms)]
        for part in self.parts[1:]:
            total = np.zeros(part.size, dtype=np.float32)
            for t in terms:
                total += self._term(part, t)
            out.append(total)
        return np.concatenate(out).astype(np.float32)

    def concept_scores(self, concepts: Sequence[Concept]) -> np.ndarray:  # type: ignore[override]
        concepts = list(concepts)
        out = [self.parts[0].concept_scores(concepts)]
        for part in self.parts[1:]:
            total = np.zeros(part.size, dtype=np.float32)
            for concept in concepts:
                best = np.zeros(part.size, dtype=np.float32)
                for term, w in concept.terms:
                    best = np.maximum(best, w * self._term(part, term))
                total += best
            out.append(total)
        return np.concatenate(out).astype(np.float32)

    def _own_script(self, key: str, cyrillic: bool) -> bool:
        return any(key in p.by_script[cyrillic] for p in self.parts)

    def _other_script(self, key: str, cyrillic: bool) -> np.ndarray:
        return np.concatenate([p.by_script[not cyrillic].get(key) + int(self.where.offsets[i])
                               for i, p in enumerate(self.parts)])


class SegmentedIndex(StoredIndex):
    """A generation of several segments, presented as one :class:`assistant.store.StoredIndex`."""

    # no super().__init__(): every field is set here, from the segments
    def __init__(self, path: Path, manifest: dict[str, Any], parts: Sequence[StoredIndex], names: Sequence[str],
                 removed: Mapping[str, Sequence[str]]) -> None:
        self.path, self.manifest, self.parts, self.names = path, manifest, list(parts), list(names)
        self.where = Segments([p.size for p in parts])
        self.removed = [set(removed.get(name, ())) for name in names]
        live = np.ones(self.where.size, dtype=bool)
        for i, (part, gone) in enumerate(zip(parts, self.removed, strict=True)):
            if gone:
                live[part.rows_of_sources(sorted(gone)) + int(self.where.offsets[i])] = False
        self.live: np.ndarray | None = None if live.all() else live
        self.passages = SegmentedPassages(self.parts, self.where, self.removed)
        self.documents = self.docs = SegmentedDocuments(self.parts, self.removed)
        self.vectors = SegmentedVectors(self.parts, self.where)
        self.languages = np.concatenate([p.languages for p in parts])
        self.owners = np.concatenate([p.owners for p in parts])
        self.lexical = SegmentedLexical([p.lexical for p in parts], self.where)
        self.rows = None

    @property
    def size(self) -> int:
        return self.where.size

    @property
    def passage_count(self) -> int:
        return self.size if self.live is None else int(self.live.sum())

    def segment_of(self, source: str) -> str | None:
        i = self.docs.segment(source)
        return None if i is None else self.names[i]

    def row_of(self, passage_id: str) -> int | None:
        for i in range(len(self.parts) - 1, -1, -1):
            row = self.parts[i].row_of(passage_id)
            if row is not None and self.parts[i].passages[row].source not in self.removed[i]:
                return row + int(self.where.offsets[i])
        return None

    def id_of(self, row: int) -> str:
        i, local = self.where.locate(int(row))
        return self.parts[i].id_of(local)

    def sentences_of(self, row: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        i, local = self.where.locate(int(row))
        return self.parts[i].sentences_of(local)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        return self.vectors.vectors_of(rows)

    def search_vectors(self, vector: np.ndarray, depth: int,
                       keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.vectors.search(vector, depth, keep)
