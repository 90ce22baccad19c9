"""The answer path, one for every face: retrieve → compose (streamed) → check citations.

``build_chain(retriever, composer)`` is an LCEL runnable over an analysed
:class:`~assistant.retrieve.Query`; its ``stream()`` yields the answer's text deltas as the
composer writes them, then the checked :class:`~assistant.records.Answer`. The stream is the
primitive: ``answer()``, the CLI, the chat and the evaluation harness all consume it, and
:func:`drain` is how a caller that only wants the result gets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from assistant.cite import check_markers
from assistant.compose.base import Composer, Draft
from assistant.records import Answer, Citation, Passage
from assistant.retrieve import Query

Item = str | Answer


def finish(query: Query, passages: list[Passage], draft: Draft, warnings: tuple[str, ...] = ()) -> Answer:
    """Check the draft's markers and build the ``Answer`` record."""
    citations: list[Citation]
    if draft.abstained:
        text, citations = draft.text, []
    else:
        text, citations = check_markers(draft.text, passages, draft.highlights)
    return Answer(
        question=query.question,
        answer=text,
        citations=tuple(citations),
        abstained=draft.abstained,
        language=query.language,
        composer=draft.composer,
        passages=tuple(passages),
        confidence=draft.confidence,
        warnings=warnings,
        notices=tuple(draft.notices),
        related=tuple(passages[i - 1] for i in draft.related if 1 <= i <= len(passages)),
    )


def stream_answer(query: Query, passages: list[Passage], composer: Composer,
                  warnings: tuple[str, ...] = ()) -> Iterator[Item]:
    """Text deltas as the composer writes them, then the checked ``Answer``."""
    draft: Draft | None = None
    for item in composer.stream(query, passages):
        if isinstance(item, Draft):
            draft = item
        else:
            yield item
    yield finish(query, passages, draft if draft is not None else Draft("", abstained=True), warnings)


def build_chain(retriever: Any, composer: Composer) -> Runnable[dict[str, Any], Item]:
    """``{"query": Query, "k": int, "warnings": tuple}`` → stream of deltas, then the Answer.

    ``retriever`` is an :class:`assistant.retrieve.Retriever`; ``"passages"`` in the input
    skips retrieval (to answer over passages found another way, as the baselines are).
    """

    def retrieve(x: dict[str, Any]) -> dict[str, Any]:
        if "passages" in x:
            return x
        return {**x, "passages": retriever.search(x["query"], k=x.get("k", 5), mode=x.get("mode", "hybrid"))}

    def compose(inputs: Iterable[dict[str, Any]]) -> Iterator[Item]:
        for x in inputs:
            yield from stream_answer(x["query"], x["passages"], composer, tuple(x.get("warnings", ())))

    return RunnableLambda(retrieve, name="retrieve") | RunnableGenerator(compose, name="compose")


def drain(stream: Iterable[Item]) -> Answer:
    """The finished ``Answer`` at the end of an answer stream."""
    final = None
    for item in stream:
        if isinstance(item, Answer):
            final = item
    if final is None:
        raise RuntimeError("the answer stream ended without an answer")
    return final
