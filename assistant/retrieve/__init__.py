"""Retrieval, in the order a question travels: analysed once into a :class:`Query`, ranked by
each leg the :class:`LanguagePolicy` plans (dense ∥ BM25 ∥ …), fused by :class:`RRF`, scoped to
what the user may see, deduplicated.

| module | holds |
|---|---|
| ``query.py`` | the query record and the lexical analysis |
| ``legs.py`` | one class per leg: ``rank(query) -> Ranking`` |
| ``fusion.py`` | ``Ranking`` and reciprocal rank fusion |
| ``policy.py`` | ``SearchOptions`` and the language policy (multilingual or English-only model) |
| ``searcher.py`` | ``Retriever``: the index, the legs and the fusion together |
| ``langchain.py`` | the LangChain ``BaseRetriever`` |
"""

from assistant.retrieve.fusion import RRF, Ranking, rrf
from assistant.retrieve.langchain import HybridRetriever, from_langchain, to_langchain
from assistant.retrieve.policy import EnglishOnlyPolicy, LanguagePolicy, MultilingualPolicy, SearchOptions
from assistant.retrieve.query import Query, analyse_text
from assistant.retrieve.searcher import MODES, Retriever

__all__ = [
    "MODES",
    "RRF",
    "EnglishOnlyPolicy",
    "HybridRetriever",
    "LanguagePolicy",
    "MultilingualPolicy",
    "Query",
    "Ranking",
    "Retriever",
    "SearchOptions",
    "analyse_text",
    "from_langchain",
    "rrf",
    "to_langchain",
]
