"""The plain LangChain tutorial pipeline, as a baseline on the same corpus and embedding model.

``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)``
over the same cleaned document texts the assistant indexes, embedded with the same embedder
(through a LangChain ``Embeddings`` adapter), in a flat in-memory FAISS index (L2 over unit
vectors, as ``FAISS.from_texts`` builds it), top-k by similarity. Nothing is saved to disk.

The other two baselines need no code here: BM25 alone is ``assistant.retrieve(q, k,
mode="lexical")`` and dense alone is ``mode="dense"``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.embed import Embedder
from assistant.records import Document, Passage

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200


class EmbedderEmbeddings(Embeddings):
    """The assistant's :class:`~assistant.embed.Embedder` as a LangChain ``Embeddings``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_queries([text])[0].tolist()


class TutorialPipeline:
    """Split → embed → flat FAISS → top-k; ``search`` returns :class:`Passage` records whose
    ``start``/``end`` point into the cleaned documents, so the same gold matching applies."""

    name = "langchain"

    def __init__(
        self,
        documents: Mapping[str, Document],
        embedder: Embedder,
        chunk_size: int = CHUNK_SIZE,
        chunk_overlap: int = CHUNK_OVERLAP,
    ) -> None:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
        )
        self.passages: list[Passage] = []
        for source in sorted(documents):
            doc = documents[source]
            for i, chunk in enumerate(splitter.create_documents([doc.text])):
                start = int(chunk.metadata["start_index"])
                self.passages.append(
                    Passage(
                        id=f"lc:{source}:{i}",
                        source=source,
                        title=doc.title,
                        language=doc.language,
                        start=start,
                        end=start + len(chunk.page_content),
                        text=chunk.page_content,
                    )
                )
        self.embeddings = EmbedderEmbeddings(embedder)
        texts = [p.text for p in self.passages]
        metadatas = [{"row": i} for i in range(len(texts))]
        self.store = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # langchain-community announces its sunset on import
                from langchain_community.vectorstores import FAISS
            self.store = FAISS.from_texts(texts, self.embeddings, metadatas=metadatas)
            self.backend = "langchain_community FAISS.from_texts (IndexFlatL2, in memory)"
        except ImportError:
            import faiss

            vectors = np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)
            self.index = faiss.IndexFlatL2(vectors.shape[1])
            self.index.add(vectors)
            self.backend = "faiss IndexFlatL2 (in memory; langchain-community not installed)"

    def describe(self) -> str:
        return (
            f"RecursiveCharacterTextSplitter({CHUNK_SIZE}/{CHUNK_OVERLAP}) → {len(self.passages)} chunks → "
            f"{self.backend} → top-k"
        )

    def search(self, query: str, k: int = 5) -> list[Passage]:
        k = min(k, len(self.passages))
        if k <= 0:
            return []
        if self.store is not None:
            hits = self.store.similarity_search_with_score(query, k=k)
            rows = [(int(doc.metadata["row"]), float(dist)) for doc, dist in hits]
        else:
            q = np.asarray([self.embeddings.embed_query(query)], dtype=np.float32)
            dists, ids = self.index.search(q, k)
            rows = [(int(i), float(d)) for i, d in zip(ids[0], dists[0], strict=True) if i >= 0]
        # unit vectors: cosine similarity = 1 - L2²/2
        return [_scored(self.passages[row], 1.0 - dist / 2.0) for row, dist in rows]


def _scored(p: Passage, similarity: float) -> Passage:
    return replace(p, score=round(similarity, 6), dense=round(similarity, 4))
