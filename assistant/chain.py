"""The LCEL chain: retrieve → compose → check citations.

``build_chain(retriever, composer)`` returns a runnable taking ``{"question", "language"}``
(plus an optional ``"query"`` to retrieve with, for follow-ups) and giving an
:class:`~assistant.records.Answer`. Any composer with the ``Composer`` interface plugs in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from assistant.cite import check_markers
from assistant.compose.base import Composer, Draft
from assistant.records import Answer, Citation, Passage
from assistant.retrieve import HybridRetriever, from_langchain


def finish(question: str, language: str, passages: list[Passage], draft: Draft,
           warnings: tuple[str, ...] = ()) -> Answer:
    """Check the draft's markers and build the ``Answer`` record."""
    citations: list[Citation]
    if draft.abstained:
        text, citations = draft.text, []
    else:
        text, citations = check_markers(draft.text, passages, draft.highlights)
    return Answer(
        question=question,
        answer=text,
        citations=tuple(citations),
        abstained=draft.abstained,
        language=language,
        composer=draft.composer,
        passages=tuple(passages),
        confidence=draft.confidence,
        warnings=warnings,
        notices=tuple(draft.notices),
    )


def build_chain(retriever: HybridRetriever, composer: Composer) -> Runnable[dict[str, Any], Answer]:
    def retrieve(x: dict[str, Any]) -> list[Passage]:
        return [from_langchain(d) for d in retriever.invoke(x.get("query") or x["question"])]

    def compose(x: dict[str, Any]) -> dict[str, Any]:
        context = x.get("query") if x.get("query") != x["question"] else None
        return {**x, "draft": composer.compose(x["question"], x["passages"], x["language"], context)}

    def cite(x: dict[str, Any]) -> Answer:
        return finish(x["question"], x["language"], x["passages"], x["draft"], tuple(x.get("warnings", ())))

    return (
        RunnablePassthrough.assign(passages=RunnableLambda(retrieve, name="retrieve"))
        | RunnableLambda(compose, name="compose")
        | RunnableLambda(cite, name="cite")
    )


def stream_answer(question: str, language: str, passages: list[Passage], composer: Composer,
                  warnings: tuple[str, ...] = (), context: str | None = None) -> Iterator[str | Answer]:
    """Text deltas as the composer writes them, then the checked ``Answer``."""
    draft: Draft | None = None
    for item in composer.stream(question, passages, language, context):
        if isinstance(item, Draft):
            draft = item
        else:
            yield item
    if draft is None:  # a composer must end with its draft; treat silence as abstention
        draft = Draft("", abstained=True)
    yield finish(question, language, passages, draft, warnings)
