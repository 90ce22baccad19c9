"""Choosing the answer mode per question (the chat's "Answer mode" control)."""

from __future__ import annotations

import socket

import pytest

from assistant import Assistant, UsageError
from tests.conftest import default_settings

QUESTION = "How much has Japan invested in the economy of Kazakhstan?"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: connections are refused


def test_extractive_mode_skips_a_configured_llm(bot: Assistant):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with_llm = Assistant(settings=default_settings(index_dir=bot.index_dir, llm_provider="openai",
                                                   llm_base_url=url, llm_model="m", llm_api_key="k"))
    forced = with_llm.answer(QUESTION, mode="extractive")
    assert forced.composer == "extractive" and not forced.notices  # the LLM was never asked
    assert "$7 billion" in forced.answer
    default = with_llm.answer(QUESTION)  # the configured LLM is down: extractive, with a notice
    assert default.composer == "extractive" and default.notices
    streamed = list(with_llm.stream(QUESTION, mode="extractive"))[-1]
    assert streamed.answer == forced.answer


def test_unknown_mode_is_a_usage_error(bot: Assistant):
    with pytest.raises(UsageError, match="unknown answer mode"):
        bot.answer(QUESTION, mode="poetry")
    assert bot.answer(QUESTION, mode="extractive").composer == "extractive"
