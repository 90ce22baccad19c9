"""Passage vectors behind one small interface: FAISS on this machine, or a Milvus collection.

Retrieval needs two things of a vector store, and only these (:class:`VectorIndex`):

* ``search(vector, depth, keep)`` — the ``depth`` passage rows nearest to a unit ``vector``
  (inner product), restricted to the rows where the boolean mask ``keep`` is true;
* ``vectors_of(rows)`` — the stored vectors of a few rows (the candidates of one question,
  a calibration sample), never the whole matrix.

:class:`FaissVectors` picks its FAISS index by size (:func:`choose_kind`): exact search
(``IndexFlatIP``) up to :data:`FLAT_LIMIT` passages, where it is both exact and fast enough; past
it an inverted file with 8-bit scalar quantisation (``IndexIVFScalarQuantizer``), trained on a
sample of the vectors, whose candidates are re-scored exactly against the full-precision vectors.
Those live in ``passage_vectors.npy``, read a row at a time (:class:`MatrixFile`), so ``vectors_of`` reads only the rows
it is asked for. The choice and its parameters are recorded in the manifest (``vectors``).

:class:`assistant.milvus.MilvusVectors` implements the same interface over a Milvus collection.
"""

from __future__ import annotations

import contextlib
import math
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Exact search up to here. Measured on this 2-core machine, 384-dimensional clustered vectors, one
# search of depth 40, one FAISS thread: IndexFlatIP 0.5 ms at 10k rows, 1.6 ms at 20k, 5.1 ms at
# 50k, 10.6 ms at 100k (linear); IVF-SQ8 with exact re-scoring 0.8, 2.5, 3.7 and 3.0 ms, recall@10
# 0.985-1.0. The two cross near 40-50k.
FLAT_LIMIT = 50_000
# share of the inverted lists visited per query. Measured at 100k synthetic passages
# (benchmarks/scale.py): 1/48 of 1024 lists gave recall@10 0.92, 1/16 gave 0.965, both ~3.5 ms.
NPROBE_SHARE = 1 / 16
REFINE = 4  # ANN candidates per wanted row, re-scored exactly
# One question is one vector: FAISS's OpenMP threads only add overhead there (measured: a flat
# search of 10k rows took 16 ms with 2 threads on a busy 2-core machine, 0.4 ms with 1).
# Building (k-means, adding) uses every core.
SEARCH_THREADS = 1
MIN_REFINE = 100
MMAP_ABOVE = 32 * 1024 * 1024
VECTORS_FILE = "vectors.faiss"
MATRIX_FILE = "passage_vectors.npy"


class VectorIndex(Protocol):
    kind: str

    @property
    def size(self) -> int: ...

    def search(self, vector: np.ndarray, depth: int,
               keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner-product scores of the ``depth`` nearest rows, best first."""
        ...

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of ``rows`` (float32, one per row, in that order)."""
        ...


def choose_kind(n: int) -> dict[str, Any]:
    """The FAISS index for ``n`` vectors: exact below :data:`FLAT_LIMIT`, IVF-SQ8 above."""
    if n <= FLAT_LIMIT:
        return {"kind": "flat"}
    nlist = int(2 ** round(math.log2(4 * math.sqrt(n))))  # ~4·√n lists, a power of two
    return {"kind": "ivf-sq8", "nlist": nlist, "nprobe": max(8, int(nlist * NPROBE_SHARE)),
            "refine": REFINE}


def _fsync_save(path: Path, matrix: np.ndarray) -> None:
    with path.open("wb") as fh:
        np.save(fh, matrix, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def write_faiss(folder: Path, vectors: np.ndarray, dim: int, kind: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the FAISS index for ``vectors`` into ``folder``; returns what the manifest records."""
    import faiss

    matrix = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    meta = dict(kind or choose_kind(len(matrix)))
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        index = _build(matrix, dim, meta)
    finally:
        faiss.omp_set_num_threads(SEARCH_THREADS)
    faiss.write_index(index, str(folder / VECTORS_FILE))
    with (folder / VECTORS_FILE).open("rb+") as fh:  # on disk before the generation can go live
        os.fsync(fh.fileno())
    _fsync_save(folder / MATRIX_FILE, matrix)  # full precision: exact re-scoring and vectors_of
    return meta


def _build(matrix: np.ndarray, dim: int, meta: dict[str, Any]) -> Any:
    import faiss

    index: Any
    if meta["kind"] == "flat":
        index = faiss.IndexFlatIP(dim)
    elif meta["kind"] == "ivf-sq8":
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, int(meta["nlist"]), faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        # k-means wants ~30-256 points per list; more only costs time
        sample = min(len(matrix), 64 * int(meta["nlist"]))
        pick = np.random.default_rng(0).choice(len(matrix), size=sample, replace=False) if sample < len(matrix) \
            else np.arange(len(matrix))
        index.train(matrix[np.sort(pick)])
        index.nprobe = int(meta["nprobe"])
    else:
        raise ValueError(f"unknown vector index kind {meta['kind']!r}")
    if len(matrix):
        for i in range(0, len(matrix), 100_000):  # in slices: IVF assignment allocates per batch
            index.add(matrix[i : i + 100_000])
    return index


class MatrixFile:
    """The rows of a large float32 ``.npy`` matrix, read with ``pread``: only the bytes asked for.

    A memory map would do the same reads, but each page fault also maps up to 16 neighbouring
    pages already in the page cache (the kernel's fault-around), so a few hundred scattered rows
    per question end up counting the whole file in the process's resident memory (measured at
    100k passages: all 146 MB of ``passage_vectors.npy`` after 400 searches). The page cache is
    the kernel's either way; with ``pread`` the process holds only the rows it reads.
    """

    def __init__(self, path: Path) -> None:
        header = np.load(path, mmap_mode="r", allow_pickle=False)  # parses the header; maps, reads nothing
        if header.dtype != np.float32 or header.ndim != 2 or not header.flags.c_contiguous:
            raise ValueError(f"{path.name} is not a C-ordered float32 matrix")
        self.shape = header.shape
        self.offset = int(header.offset)
        self.row_bytes = 4 * int(header.shape[1])
        del header
        self.fd = os.open(path, os.O_RDONLY)
        with contextlib.suppress(AttributeError, OSError):  # no read-ahead: reads are a row each
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_RANDOM)
        weakref.finalize(self, os.close, self.fd)

    def __len__(self) -> int:
        return int(self.shape[0])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # the whole matrix, when really wanted
        return self.slice(0, len(self)).astype(dtype or np.float32, copy=False)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows ``rows`` (any order), as a new array."""
        out = bytearray(len(rows) * self.row_bytes)
        view = memoryview(out)
        for i, r in enumerate(rows.tolist()):
            if not 0 <= r < self.shape[0]:
                raise IndexError(r)
            got = os.preadv(self.fd, [view[i * self.row_bytes : (i + 1) * self.row_bytes]],
                            self.offset + r * self.row_bytes)
            if got != self.row_bytes:
                raise OSError(f"short read at row {r}")
        return np.frombuffer(out, dtype=np.float32).reshape(len(rows), self.shape[1])

    def slice(self, a: int, b: int) -> np.ndarray:
        """Rows ``a`` to ``b`` (one read)."""
        return self.take(np.arange(a, b)) if b - a < 2 else np.frombuffer(
            os.pread(self.fd, (b - a) * self.row_bytes, self.offset + a * self.row_bytes),
            dtype=np.float32).reshape(b - a, self.shape[1])


class FaissVectors:
    """A FAISS index (exact or IVF-SQ8) plus the full-precision vectors (read by row when large)."""

    def __init__(self, index: Any, matrix: np.ndarray | MatrixFile, meta: dict[str, Any]) -> None:
        self.index = index
        self.matrix = matrix  # (n, dim) float32: an array, or a MatrixFile when large
        self.meta = meta
        self.kind = str(meta.get("kind", "flat"))

    @classmethod
    def open(cls, folder: Path, meta: dict[str, Any]) -> FaissVectors:
        import faiss

        faiss.omp_set_num_threads(SEARCH_THREADS)
        path = str(folder / VECTORS_FILE)
        try:  # IVF lists and flat codes are memory-mapped where this FAISS build can
            index = faiss.read_index(path, faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            index = faiss.read_index(path)
        if meta.get("kind") == "ivf-sq8":
            faiss.extract_index_ivf(index).nprobe = int(meta.get("nprobe", 16))
        matrix_path = folder / MATRIX_FILE
        # large: read a row at a time when asked for (MatrixFile); small ones are simply read whole
        matrix = MatrixFile(matrix_path) if matrix_path.stat().st_size > MMAP_ABOVE \
            else np.load(matrix_path, allow_pickle=False)
        return cls(index, matrix, meta)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        idx = np.asarray(rows, dtype=np.int64)
        if not len(idx):
            return np.zeros((0, self.dimension), dtype=np.float32)
        if isinstance(self.matrix, MatrixFile):
            return self.matrix.take(idx)
        return np.asarray(self.matrix[idx], dtype=np.float32)

    def search(self, vector: np.ndarray, depth: int,
               keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        depth = min(depth, self.size)
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if depth <= 0:
            return empty
        sel, bits = None, None
        if keep is not None:
            if not keep.any():
                return empty
            # one bit per row: O(n/8) to build, unlike a set of allowed ids
            bits = np.packbits(np.asarray(keep, dtype=bool), bitorder="little")
            sel = faiss.IDSelectorBitmap(len(keep), faiss.swig_ptr(bits))
        query = np.ascontiguousarray(vector[None, :], dtype=np.float32)
        if self.kind == "flat":
            params = faiss.SearchParameters(sel=sel) if sel is not None else None  # type: ignore[call-arg]
            scores, rows = self.index.search(query, depth, params=params)
            found = rows[0] >= 0
            return rows[0][found].astype(np.int64), scores[0][found].astype(np.float32)
        wanted = min(self.size, max(depth * int(self.meta.get("refine", REFINE)), MIN_REFINE))
        params = faiss.SearchParametersIVF()
        params.nprobe = int(self.meta.get("nprobe", 16))
        if sel is not None:
            params.sel = sel
        _, rows = self.index.search(query, wanted, params=params)
        del bits  # kept alive until FAISS has read it
        cand = rows[0][rows[0] >= 0].astype(np.int64)
        if not len(cand):
            return empty
        exact = self.vectors_of(cand) @ query[0]  # full precision for the candidates only
        order = np.lexsort((cand, -exact))[:depth]
        return cand[order], exact[order].astype(np.float32)
