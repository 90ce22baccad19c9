"""Fixtures for the LLM composer: a scripted LLM server on a free port, and assistants that use it.

The server is a real OpenAI-/Ollama-protocol HTTP peer (``tests/llm_server.py``): the product
talks to it through LangChain's chat models over 127.0.0.1, exactly as it would to llama.cpp,
vLLM or Ollama. Only its replies are scripted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from assistant import Assistant, Settings
from assistant.compose.base import Draft
from assistant.records import Passage
from assistant.retrieve import Query, analyse_text
from tests.llm_server import ScriptedLLMServer

TIMEOUT = 1.0  # seconds: every LLM call in these tests gives up after this


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def settings_for(base: Settings, server: ScriptedLLMServer, provider: str = "openai",
                 **overrides) -> Settings:
    """``base`` with the LLM composer pointed at ``server``."""
    url = server.openai_url if provider == "openai" else server.url
    values = {**base.model_dump(), "llm_provider": provider, "llm_base_url": url, "llm_model": "scripted",
              "llm_api_key": "test-key", "llm_timeout": TIMEOUT, **overrides}
    return Settings(**values)


@pytest.fixture
def llm_settings():
    """``llm_settings(base, server, provider="openai", **overrides)``: settings using ``server``."""
    return settings_for


@pytest.fixture
def llm_bot(bot: Assistant, llm_server: ScriptedLLMServer) -> Assistant:
    """An assistant over the session's index (nothing re-embedded) whose answers come from the LLM."""
    return Assistant(settings=settings_for(bot.settings, llm_server))


class CannedFallback:
    """A stand-in for the extractive composer in unit tests: a fixed answer, calls recorded.

    (The real extractive fallback is exercised end to end in ``test_llm.py`` too; this one
    keeps the many failure-mode tests fast.)"""

    name = "extractive"
    TEXT = "Canned extractive answer [1]."

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    def stream(self, query: Query, passages: list[Passage]):
        self.calls.append((query.question, len(passages), query.language))
        yield "Canned extractive answer"
        yield " [1]."
        yield Draft(self.TEXT, abstained=False, confidence=0.5, composer="extractive")


def passage(n: int, text: str, *, source: str | None = None, title: str = "", language: str = "en",
            start: int = 0) -> Passage:
    src = source or f"doc{n}.txt"
    return Passage(id=f"p{n}", source=src, title=title or f"Document {n}", language=language, start=start,
                   end=start + len(text), text=text, score=1.0 / n)


@pytest.fixture
def passages() -> list[Passage]:
    return [
        passage(1, "Khorgos is a dry port on the border between Kazakhstan and China. "
                   "It handles container trains travelling between China and Europe.",
                title="Khorgos dry port", start=100),
        passage(2, "Хоргос — сухой порт на границе Казахстана и Китая. Порт открыт в 2015 году.",
                title="Хоргос", language="ru"),
        passage(3, "More than 500 American companies work in Kazakhstan, in machinery, energy and finance.",
                title="Investors"),
    ]


@pytest.fixture
def canned() -> CannedFallback:
    return CannedFallback()


@pytest.fixture
def make_llm(llm_server: ScriptedLLMServer, canned: CannedFallback):
    """``make_llm(provider="openai", **settings)``: an LLMComposer on the scripted server, canned fallback."""
    from assistant.compose.llm import LLMComposer

    def make(provider: str = "openai", **overrides):
        settings = settings_for(Settings(), llm_server, provider, **overrides)
        return LLMComposer.from_settings(settings, fallback=canned)

    return make


def query_of(question: str, language: str | None = None) -> Query:
    """``question`` analysed as retrieval would (no vector), in ``language`` if given."""
    query = analyse_text(question)
    return replace(query, language=language) if language else query


def run(composer, question: str, passages: list[Passage], language: str = "en") -> tuple[list[str], Draft]:
    """Stream a composer: its text deltas and its final draft."""
    deltas, drafts = [], []
    for item in composer.stream(query_of(question, language), passages):
        (drafts if isinstance(item, Draft) else deltas).append(item)
    assert len(drafts) == 1, "a composer ends with exactly one Draft"
    return deltas, drafts[0]


@pytest.fixture
def stream_of():
    return run
