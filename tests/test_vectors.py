"""The vector-store seam: FAISS's index type follows the size, dense scores only for candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
