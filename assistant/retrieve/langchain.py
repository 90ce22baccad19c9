"""The search as a LangChain retriever: passages come back as ``Document`` objects whose metadata
holds the passage record (source, title, offsets, scores)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from assistant.records import Passage


def to_langchain(p: Passage) -> LCDocument:
    meta = p.to_dict()
    text = meta.pop("text")
    return LCDocument(page_content=text, metadata=meta, id=p.id)


def from_langchain(doc: LCDocument) -> Passage:
    return Passage(text=doc.page_content, **doc.metadata)


class HybridRetriever(BaseRetriever):
    """``Retriever.search`` behind LangChain's ``BaseRetriever`` interface."""

    retriever: Any  # assistant.retrieve.Retriever
    k: int = 5
    mode: str = "hybrid"
    user: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        analysed = self.retriever.analyse(query, user=self.user, mode=self.mode)
        return [to_langchain(p) for p in self.retriever.search(analysed, k=self.k, mode=self.mode)]
