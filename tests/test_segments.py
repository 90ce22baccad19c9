"""Updates of a large index as delta segments (assistant.segments): what they answer, on disk.

The default corpus is far below ``store.SEGMENTS_ABOVE``, so these tests lower it: the same code
then runs on 84 passages as on a million, and every result can be compared with a full rebuild.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from assistant import Assistant, store
from assistant.errors import IndexCorruptError
from assistant.segments import SegmentedIndex

NEW = "# Aktau\n\nThe port of Aktau on the Caspian Sea handles ferries to Baku and grain for Iran.\n"
QUESTIONS = ["Which sea is the port of Aktau on?", "How much has Japan invested in the economy of Kazakhstan?",
             "Что говорит эксперт о Хоргосе?", "What risks does the article name for the corridor?"]


@pytest.fixture
def segmenting(fresh_bot: Assistant, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    """The session's index, copied, with updates written as segments however small it is."""
    assert fresh_bot.index().embedded == 0
    monkeypatch.setattr(store, "SEGMENTS_ABOVE", 1)
    monkeypatch.setattr(store, "MERGE_SHARE", 1.0)
    return fresh_bot


def _live(bot: Assistant):
    return bot.retriever().index


def test_adding_a_document_writes_a_delta_and_hard_links_the_rest(segmenting: Assistant):
    base = _live(segmenting)
    (segmenting.corpus_dir / "new.md").write_text(NEW, encoding="utf-8")
    report = segmenting.index()
    index = _live(segmenting)
    assert isinstance(index, SegmentedIndex) and report.added == ("new.md",)
    assert [d["passages"] for d in index.manifest["deltas"]] == [1]
    # the base's files are the previous generation's, linked, not copied or rewritten
    for name in ("passages.sqlite", "vectors.faiss", "lexical/bm25/data.csc.index.npy"):
        assert os.path.samefile(base.path / name, index.path / name)
    assert index.passage_count == base.passage_count + 1 == report.passages
    assert len(index.documents) == len(base.documents) + 1
    top = segmenting.retrieve("Which sea is the port of Aktau on?", k=1)[0]
    assert top.source == "new.md" and top.text in NEW
    answer = segmenting.answer("Which sea is the port of Aktau on?")
    assert not answer.abstained and answer.citations[0].source == "new.md" and "Caspian" in answer.answer


def test_changing_and_removing_a_document_masks_its_old_rows(segmenting: Assistant):
    corpus = segmenting.corpus_dir
    (corpus / "new.md").write_text(NEW, encoding="utf-8")
    segmenting.index()
    (corpus / "new.md").write_text("# Aktau\n\nThe port of Aktau ships wool to Romania.\n", encoding="utf-8")
    report = segmenting.index()
    index = _live(segmenting)
    assert report.changed == ("new.md",) and len(index.manifest["deltas"]) == 2
    assert index.live is not None and int((~index.live).sum()) == 1  # the first copy's one passage
    found = segmenting.retrieve("port of Aktau", k=10)
    assert [p.text.strip().endswith("Romania.") for p in found if p.source == "new.md"] == [True]
    assert sum(p.source == "new.md" for p in index.passages) == 1
    assert index.documents["new.md"].text.strip().endswith("Romania.")
    # what the update handed back (its base kept open) is what a new process opens from disk
    reopened = store.load(segmenting.index_dir)
    assert isinstance(reopened, SegmentedIndex) and reopened.names == index.names
    assert reopened.live is not None and index.live is not None
    assert np.array_equal(reopened.live, index.live) and list(reopened.documents) == list(index.documents)
    assert [p.id for p in reopened.passages] == [p.id for p in index.passages]

    first = sorted(index.documents)[0]
    (corpus / first).unlink()
    (corpus / "new.md").unlink()
    report = segmenting.index()
    index = _live(segmenting)
    assert set(report.removed) == {first, "new.md"}
    assert first not in index.documents and "new.md" not in index.documents
    for q in QUESTIONS:
        assert all(p.source not in (first, "new.md") for p in segmenting.retrieve(q, k=10))
    assert segmenting.status().passages == index.passage_count == sum(1 for _ in index.passages)


def test_a_segmented_index_ranks_as_the_rebuilt_one(segmenting: Assistant, monkeypatch: pytest.MonkeyPatch):
    """Dense search is exact across segments; BM25 of a delta is at the whole index's IDF, so a
    rebuild changes at most the delta's length normalisation."""
    (segmenting.corpus_dir / "new.md").write_text(NEW, encoding="utf-8")
    segmenting.index()
    segmented = _live(segmenting)
    retriever = segmenting.retriever()
    queries = [retriever.analyse(q) for q in QUESTIONS]
    dense_seg = [[(segmented.id_of(r), round(float(s), 5)) for r, s in zip(*segmented.search_vectors(q.vector, 10),
                                                                             strict=True)] for q in queries]
    bm25_seg = {q.text: segmented.lexical.scores(q.terms) for q in queries}
    hybrid_seg = [[p.id for p in retriever.search(q, k=5)] for q in queries]

    monkeypatch.setattr(store, "SEGMENTS_ABOVE", 10**9)
    segmenting.index(force=True)
    rebuilt = _live(segmenting)
    assert not isinstance(rebuilt, SegmentedIndex)
    retriever = segmenting.retriever()
    dense_one = [[(rebuilt.id_of(r), round(float(s), 5)) for r, s in zip(*rebuilt.search_vectors(q.vector, 10),
                                                                          strict=True)] for q in queries]
    assert dense_seg == dense_one
    for q in queries:
        one = rebuilt.lexical.scores(q.terms)
        seg = bm25_seg[q.text]
        by_id = {rebuilt.id_of(r): float(one[r]) for r in range(rebuilt.size)}
        for row in range(segmented.size):
            want = by_id[segmented.id_of(row)]
            # only the new passage's length normalisation (its segment's average length) differs
            assert seg[row] == pytest.approx(want, rel=0.35, abs=1e-4)
    assert [retriever.search(q, k=5)[0].id for q in queries] == [h[0] for h in hybrid_seg]


def test_past_the_merge_share_an_update_rebuilds_into_one_segment(segmenting: Assistant,
                                                                  monkeypatch: pytest.MonkeyPatch):
    (segmenting.corpus_dir / "new.md").write_text(NEW, encoding="utf-8")
    segmenting.index()
    assert isinstance(_live(segmenting), SegmentedIndex)
    monkeypatch.setattr(store, "MERGE_SHARE", 0.001)
    (segmenting.corpus_dir / "more.md").write_text("# Baku\n\nFerries leave Baku for Aktau daily.\n",
                                                   encoding="utf-8")
    segmenting.index()
    index = _live(segmenting)
    assert not isinstance(index, SegmentedIndex) and "deltas" not in index.manifest
    assert {"new.md", "more.md"} <= set(index.documents)


def test_a_damaged_delta_is_detected_and_the_index_rebuilt(segmenting: Assistant):
    (segmenting.corpus_dir / "new.md").write_text(NEW, encoding="utf-8")
    segmenting.index()
    index = _live(segmenting)
    delta = index.path / index.manifest["deltas"][0]["dir"]
    vectors = delta / "passage_vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-8:] = np.array([7.0, 7.0], dtype=np.float32).tobytes()
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=r"passage_vectors\.npy"):
        store.load(segmenting.index_dir)
    report = segmenting.index()
    assert "unusable" in report.rebuilt_reason
    assert segmenting.retrieve("Which sea is the port of Aktau on?", k=1)[0].source == "new.md"


def test_the_manifest_says_what_each_segment_holds(segmenting: Assistant):
    (segmenting.corpus_dir / "new.md").write_text(NEW, encoding="utf-8")
    segmenting.index()
    manifest = json.loads((_live(segmenting).path / "manifest.json").read_text(encoding="utf-8"))
    delta = manifest["deltas"][0]
    assert delta["passages"] == 1 and delta["documents"] == 1 and delta["vectors"] == {"kind": "flat"}
    assert set(delta["checksums"]) == set(store.FILES)
    assert "new.md" in manifest["corpus"]["documents"]
