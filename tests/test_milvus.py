"""The Milvus vector store, against the real engine (Milvus Lite, embedded; no mock).

One Milvus Lite file per module: the engine takes a few seconds to start, and serves a file to
one process at a time. The index is a copy of the session's, so nothing is embedded again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, store
from assistant.errors import ConfigError, IndexCorruptError
from assistant.settings import load_settings
from tests.conftest import CORPUS, ROOT, default_settings, import_or_unavailable

import_or_unavailable("pymilvus", "pip install -e '.[milvus]'")
import_or_unavailable("milvus_lite", "pip install -e '.[milvus]'")

from assistant import milvus  # noqa: E402  (after the availability check)

QUESTIONS = [
    "Что, по словам казахстанского эксперта, строит Казахстан вместо стен?",
    "Сколько составил объём внутреннего рынка ИИ-решений в России в 2025 году?",
    "How much has Japan invested in the economy of Kazakhstan?",
    "When did the Belarusian President sign the Decree on the Development of the Digital Economy?",
    "By how much did the tenge depreciate in April 2020?",
]
DOC = "001_25332e5ce76467f9.txt"


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory, bot: Assistant) -> Path:
    """A corpus copy and a copy of the session index (its vector cache: nothing re-embedded)."""
    root = tmp_path_factory.mktemp("milvus")
    shutil.copytree(CORPUS, root / "corpus")
    shutil.copytree(bot.index_dir, root / "index")
    return root


def milvus_settings(place: Path, **overrides):
    return default_settings(corpus_dir=place / "corpus", index_dir=place / "index", vector_store="milvus",
                            milvus_uri=str(place / "milvus.db"), **overrides)


@pytest.fixture(scope="module")
def mbot(place: Path) -> Assistant:
    assistant = Assistant(settings=milvus_settings(place))
    report = assistant.index()
    assert report.embedded == 0  # every vector came from the copied cache
    yield assistant
    milvus.close(str(place / "milvus.db"))


def collection_ids(place: Path) -> set[str]:
    return milvus.stored_ids(milvus.client(str(place / "milvus.db")), "assistant_passages")


def test_milvus_returns_the_same_dense_top_5_as_faiss(mbot: Assistant, bot: Assistant):
    faiss_index, milvus_index = bot.retriever().index, mbot.retriever().index
    assert milvus_index.manifest["vectors"]["kind"] == "milvus" and faiss_index.manifest["vectors"]["kind"] == "flat"
    assert [p.id for p in milvus_index.passages] == [p.id for p in faiss_index.passages]
    for question in QUESTIONS:
        vector = bot.embedder.embed_queries([question])[0]
        f_rows, f_scores = faiss_index.search_vectors(vector, 5)
        m_rows, m_scores = milvus_index.search_vectors(vector, 5)
        assert m_rows.tolist() == f_rows.tolist(), question
        np.testing.assert_allclose(m_scores, f_scores, atol=1e-4)
        # and through the whole product: the same passages, offsets and scores
        dense = [(p.id, p.start, p.end, p.dense) for p in mbot.retrieve(question, k=5, mode="dense")]
        assert dense == [(p.id, p.start, p.end, p.dense) for p in bot.retrieve(question, k=5, mode="dense")]
        assert [p.id for p in mbot.retrieve(question, k=5)] == [p.id for p in bot.retrieve(question, k=5)]
    rows = [3, 0, 3]
    np.testing.assert_allclose(milvus_index.vectors_of(rows), faiss_index.vectors_of(rows), atol=1e-6)


def test_milvus_generation_holds_no_faiss_files(mbot: Assistant, place: Path):
    gen = store.current_generation(place / "index")
    assert gen is not None and not (gen / "vectors.faiss").exists() and not (gen / "passage_vectors.npy").exists()
    assert collection_ids(place) == {p.id for p in mbot.retriever().passages}


def test_updated_document_replaces_its_passages_and_a_removed_one_disappears(mbot: Assistant, place: Path):
    path = place / "corpus" / DOC
    old_ids = {p.id for p in mbot.retriever().passages if p.source == DOC}
    others = {p.id for p in mbot.retriever().passages if p.source != DOC}
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("more than $7 billion", "more than $9 billion"), encoding="utf-8")
    report = mbot.index()
    assert report.changed == (DOC,) and report.embedded >= 1
    new_ids = {p.id for p in mbot.retriever().passages if p.source == DOC}
    ids = collection_ids(place)
    assert ids == new_ids | others and old_ids - new_ids and not (old_ids - new_ids) & ids
    hit = mbot.retrieve("How much has Japan invested in the economy of Kazakhstan?", k=3, mode="dense")
    assert any("$9 billion" in p.text for p in hit)

    path.unlink()
    report = mbot.index()
    assert report.removed == (DOC,) and report.embedded == 0
    assert collection_ids(place) == others
    assert all(p.source != DOC for p in mbot.retrieve("Japan invested in Kazakhstan", k=10, mode="dense"))
    path.write_text(text, encoding="utf-8")  # back as it was, for the tests after this one
    assert mbot.index().added == (DOC,)
    assert collection_ids(place) == {p.id for p in mbot.retriever().passages}


def test_collection_of_another_model_is_refused_and_rebuilt(mbot: Assistant, place: Path):
    c = milvus.client(str(place / "milvus.db"))
    c.alter_collection_properties("assistant_passages", properties={milvus.FINGERPRINT: "other/model|384"})
    with pytest.raises(IndexCorruptError, match="another model"):
        store.load(place / "index")
    report = mbot.index()
    assert "unusable" in report.rebuilt_reason and report.embedded == 0  # rebuilt from the vector cache
    props = c.describe_collection("assistant_passages")["properties"]
    assert props[milvus.FINGERPRINT] == f"{mbot.embedder.fingerprint}|{mbot.embedder.info.dimension}"
    assert collection_ids(place) == {p.id for p in mbot.retriever().passages}


def test_bad_milvus_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="vector_store"):
        load_settings(vector_store="qdrant")
    with pytest.raises(ConfigError, match="milvus_uri"):
        load_settings(milvus_uri="ftp://example.org")
    with pytest.raises(ConfigError, match="milvus_collection"):
        load_settings(milvus_collection="1-bad")


def test_restart_keeps_everything(mbot: Assistant, place: Path):
    """Last in the module: it closes this process's client so that another process can open the file."""
    question = QUESTIONS[2]
    vector = mbot.embedder.embed_queries([question])[0]
    rows, _ = mbot.retriever().index.search_vectors(vector, 5)
    expected = [mbot.retriever().passages[r].id for r in rows.tolist()]
    count = len(mbot.retriever().passages)
    answered = [p.id for p in mbot.retrieve(question, k=5, mode="dense")]
    np.save(place / "query.npy", vector)
    milvus.close(str(place / "milvus.db"))
    script = (
        "import json, sys, numpy as np\n"
        "from pathlib import Path\n"
        "from assistant import store, milvus\n"
        "place = Path(sys.argv[1])\n"
        "index = store.load(place / 'index')\n"
        "rows, _ = index.search_vectors(np.load(place / 'query.npy'), 5)\n"
        "ids = milvus.stored_ids(milvus.client(str(place / 'milvus.db')), 'assistant_passages')\n"
        "print(json.dumps({'top': [index.passages[r].id for r in rows.tolist()], 'count': len(ids),\n"
        "                  'passages': index.size, 'kind': index.vectors.kind}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, str(place)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"top": expected, "count": count, "passages": count, "kind": "milvus"}
    # and this process again, through the product: nothing to re-index, the same answer
    again = Assistant(settings=milvus_settings(place))
    assert [p.id for p in again.retrieve(question, k=5, mode="dense")] == answered
    rows, _ = again.retriever().index.search_vectors(vector, 5)
    assert [again.retriever().passages[r].id for r in rows.tolist()] == expected
    assert again.last_report is None  # served from what was there: no sync ran
