"""Optional LLM-judged figures: faithfulness and answer relevance.

They run only when an LLM is configured (``settings.llm_provider != "none"``), through the
same kind of LangChain chat model the LLM composer uses; every deterministic figure of the
harness is computed without them. Each judgement is one short prompt answered by a number
from 0 to 1; an unparsable reply counts as not judged (``None``), never as 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from assistant.records import Answer
from assistant.settings import Settings

FAITHFULNESS = (
    "You check whether an answer is supported by its numbered sources.\n\nSources:\n{sources}\n\n"
    "Answer:\n{answer}\n\nWhat share of the answer's statements is fully supported by the sources? "
    "Reply with a single number from 0 to 1 and nothing else."
)
RELEVANCE = (
    "Question:\n{question}\n\nAnswer:\n{answer}\n\nHow well does the answer address the question "
    "(0 = not at all, 1 = completely)? The answer may be in another language than the question. "
    "Reply with a single number from 0 to 1 and nothing else."
)
_NUMBER = re.compile(r"(?<![\d.])(0(?:[.,]\d+)?|1(?:[.,]0+)?)(?![\d.])")


def parse_score(reply: str) -> float | None:
    """The first number in 0..1 of a judge's reply, or ``None``.

    >>> parse_score("Score: 0.75"), parse_score("1"), parse_score("I cannot tell")
    (0.75, 1.0, None)
    """
    m = _NUMBER.search(reply or "")
    return float(m.group(1).replace(",", ".")) if m else None


def make_chat_model(settings: Settings) -> Any:
    """The configured LangChain chat model, at temperature 0 for judging."""
    if settings.llm_provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.llm_model or "",
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or SecretStr("not-needed"),
            timeout=settings.llm_timeout,
            temperature=0,
        )
    if settings.llm_provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(model=settings.llm_model or "", base_url=settings.llm_base_url, temperature=0)
    raise ValueError("no LLM configured (settings.llm_provider = 'none')")


def _ask(chat: Any, prompt: str) -> float | None:
    reply = chat.invoke(prompt)
    return parse_score(getattr(reply, "content", reply) if not isinstance(reply, str) else reply)


def judge_answers(
    chat: Any, questions: Sequence[Any], answers: Mapping[str, Answer]
) -> dict[str, dict[str, float | None]]:
    """``{question id: {"faithfulness": x, "answer_relevance": y}}`` for answered, answerable questions."""
    out: dict[str, dict[str, float | None]] = {}
    for q in questions:
        a = answers.get(q.id)
        if a is None or a.abstained or not q.answerable:
            continue
        sources = "\n\n".join(f"[{c.number}] {c.text}" for c in a.citations) or "(none)"
        out[q.id] = {
            "faithfulness": _ask(chat, FAITHFULNESS.format(sources=sources, answer=a.answer)),
            "answer_relevance": _ask(chat, RELEVANCE.format(question=q.question, answer=a.answer)),
        }
    return out
