"""Composers turn retrieved passages into a draft answer with [n] markers.

``make_composer`` is the small factory: extractive (no LLM, the default and the fallback),
or an LLM composer through a LangChain chat model when ``llm_provider`` is set.
"""

from __future__ import annotations

from typing import Any

from assistant.compose.base import ABSTAIN, Composer, Draft
from assistant.compose.extractive import ExtractiveComposer
from assistant.settings import Settings

__all__ = ["ABSTAIN", "Composer", "Draft", "ExtractiveComposer", "make_composer"]


def make_composer(settings: Settings, retriever: Any) -> Composer:
    extractive = ExtractiveComposer(retriever, max_sentences=settings.max_answer_sentences,
                                    abstain_threshold=settings.abstain_threshold)
    if settings.llm_provider == "none":
        return extractive
    from assistant.compose.llm import LLMComposer  # optional extra: langchain-openai / -ollama

    return LLMComposer.from_settings(settings, fallback=extractive)
