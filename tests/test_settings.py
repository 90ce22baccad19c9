from __future__ import annotations

from pathlib import Path

import pytest

from assistant import ConfigError, load_settings


def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "i"))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_MODEL", "/models/e5")
    monkeypatch.setenv("ASSISTANT_TOP_K", "7")
    s = load_settings()
    assert (s.corpus_dir, s.index_dir, s.embedding_model, s.top_k) == (tmp_path / "c", tmp_path / "i", "/models/e5", 7)


def test_toml_file_and_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    toml = tmp_path / "assistant.toml"
    toml.write_text('top_k = 4\nchunk_size = 900\nembedding_model = "intfloat/multilingual-e5-base"\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(toml))
    monkeypatch.setenv("ASSISTANT_TOP_K", "6")  # the environment wins over the file
    s = load_settings()
    assert (s.top_k, s.chunk_size, s.embedding_model) == (6, 900, "intfloat/multilingual-e5-base")


def test_local_assistant_toml_is_read(tmp_path: Path):
    (tmp_path / "assistant.toml").write_text("top_k = 9\n")  # the autouse fixture chdir'ed here
    assert load_settings().top_k == 9


@pytest.mark.parametrize(
    ("where", "content", "message"),
    [
        ("env", ("ASSISTANT_EMBEDING_MODEL", "x"), "ASSISTANT_EMBEDING_MODEL"),
        ("toml", "topk = 3\n", "topk"),
        ("env", ("ASSISTANT_TOP_K", "zero"), "top_k"),
        ("env", ("ASSISTANT_CHUNK_OVERLAP", "5000"), "chunk_overlap"),
        ("toml", "top_k = \n", "invalid settings"),
    ],
)
def test_unknown_or_invalid_keys_are_errors(monkeypatch, tmp_path: Path, where, content, message):
    if where == "env":
        monkeypatch.setenv(*content)
    else:
        (tmp_path / "assistant.toml").write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_named_config_file(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("ASSISTANT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()


def test_logins_and_admins_are_validated_without_echoing_a_password(monkeypatch):
    monkeypatch.setenv("ASSISTANT_UI_AUTH", "ann:pw1, bob:pa:ss")
    monkeypatch.setenv("ASSISTANT_UI_ADMINS", "ann")
    s = load_settings()
    assert s.logins() == {"ann": "pw1", "bob": "pa:ss"} and s.admins() == {"ann"}
    assert s.public()["ui_auth"] == "***"
    for bad, message in [("ann", "must look like user:password"), ("a b:hunter2", "is not a login name"),
                         ("ann:x,ann:hunter2", "names 'ann' twice"), ("../x:hunter2", "is not a login name")]:
        monkeypatch.setenv("ASSISTANT_UI_AUTH", bad)
        with pytest.raises(ConfigError) as info:
            load_settings()
        assert message in str(info.value) and "hunter2" not in str(info.value)
    monkeypatch.setenv("ASSISTANT_UI_AUTH", "ann:pw1")
    monkeypatch.setenv("ASSISTANT_UI_ADMINS", "ann,../root")
    with pytest.raises(ConfigError, match="ui_admins"):
        load_settings()
