"""The vector-store seam: FAISS's index type follows the size, dense scores only for candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, store
from assistant.vectors import FLAT_LIMIT, FaissVectors, choose_kind, write_faiss


def clustered(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Unit vectors as mixtures of a few centres plus noise (clustered, like real embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim)).astype(np.float32)
    pick = rng.integers(0, len(centres), size=(n, 2))
    x = centres[pick[:, 0]] + 0.5 * centres[pick[:, 1]] + 0.4 * rng.normal(size=(n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_index_kind_follows_the_size():
    assert choose_kind(112) == {"kind": "flat"}
    assert choose_kind(FLAT_LIMIT)["kind"] == "flat"
    big = choose_kind(1_000_000)
    assert big["kind"] == "ivf-sq8" and 2048 <= big["nlist"] <= 8192 and big["nprobe"] >= 8


def test_ivf_search_matches_exact_search_and_honours_the_mask(tmp_path: Path):
    x = clustered(6000)
    meta = write_faiss(tmp_path, x, x.shape[1], {"kind": "ivf-sq8", "nlist": 64, "nprobe": 8, "refine": 4})
    vectors = FaissVectors.open(tmp_path, meta)
    assert vectors.kind == "ivf-sq8" and vectors.size == len(x)
    keep = np.random.default_rng(1).random(len(x)) < 0.5
    recall = []
    for q in x[:40]:
        rows, scores = vectors.search(q, 10, keep)
        assert keep[rows].all() and len(rows) == 10
        np.testing.assert_allclose(scores, x[rows] @ q, rtol=1e-5, atol=1e-5)  # re-scored at full precision
        exact = np.argsort(-np.where(keep, x @ q, -np.inf))[:10]
        recall.append(len(set(rows.tolist()) & set(exact.tolist())) / 10)
    assert np.mean(recall) >= 0.95
    np.testing.assert_array_equal(vectors.vectors_of([7, 3, 7]), x[[7, 3, 7]])
    assert vectors.search(x[0], 10, np.zeros(len(x), dtype=bool))[0].size == 0


def test_default_corpus_is_exact_and_recorded_in_the_manifest(bot: Assistant):
    saved = store.load(bot.index_dir)
    assert saved is not None and saved.manifest["vectors"] == {"kind": "flat"}
    assert saved.vectors.matrix.shape == (saved.size, saved.manifest["model"]["dimension"])
    q = saved.vectors_of([0])[0]
    rows, scores = saved.search_vectors(q, 5)
    assert rows[0] == 0 and abs(scores[0] - 1) < 1e-5


def _rss_file_kb() -> int:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["RssFile"].split()[0])


def test_large_matrices_are_read_by_row_and_only_those_rows_stay_resident(tmp_path: Path):
    """Read through a memory map, a few hundred scattered rows counted the whole file in the
    process's memory (fault-around maps 16 neighbouring pages each); read by row, they do not."""
    from assistant.vectors import MMAP_ABOVE, MatrixFile

    x = np.random.default_rng(0).normal(size=(MMAP_ABOVE // (4 * 96) + 20_000, 96)).astype(np.float32)
    meta = write_faiss(tmp_path, x, x.shape[1], {"kind": "flat"})
    vectors = FaissVectors.open(tmp_path, meta)
    assert isinstance(vectors.matrix, MatrixFile) and vectors.matrix.shape == x.shape
    rows = np.random.default_rng(1).choice(len(x), size=2000, replace=False)
    before = _rss_file_kb()
    got = vectors.vectors_of(rows.tolist())
    grown = _rss_file_kb() - before
    np.testing.assert_array_equal(got, x[rows])
    np.testing.assert_array_equal(vectors.matrix.slice(5, 9), x[5:9])
    np.testing.assert_array_equal(np.asarray(vectors.matrix), x)
    mapped = np.load(tmp_path / "passage_vectors.npy", mmap_mode="r")
    before_map = _rss_file_kb()
    np.asarray(mapped[np.sort(rows)])
    grown_map = _rss_file_kb() - before_map
    # 2,000 rows of 384 bytes are 0.75 MB: by row, nothing of the file stays mapped
    assert grown < 1024 < grown_map
    with pytest.raises(IndexError):
        vectors.matrix.take(np.array([len(x)]))
