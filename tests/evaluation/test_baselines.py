"""The LangChain tutorial baseline on a tiny corpus, with a tiny bag-of-words embedder (the pipeline's
splitting, FAISS and ranking are real; only the vectors are made simple enough to reason about)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.embed import Embedder
from assistant.evaluation.baselines import EmbedderEmbeddings, TutorialPipeline
from assistant.records import Document, ModelInfo

WORDS = ["silk", "road", "borscht", "football", "khorgos", "japan"]


class BagOfWords(Embedder):
    """A deterministic toy embedder: counts of a few words."""

    def __init__(self) -> None:
        self.info = ModelInfo("toy", "toy", "", len(WORDS), False, False)
        self.calls: list[list[str]] = []

    def embed_batch(self, texts: Sequence[str], kind: str) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[t.lower().count(w) + 0.01 for w in WORDS] for t in texts], dtype=np.float32)


def documents() -> dict[str, Document]:
    a = ("The Silk Road runs through Khorgos. " * 40).strip()
    b = ("Japan invested in Kazakhstan. " * 30 + "Football is played in Almaty. " * 20).strip()
    return {
        "a.txt": Document("a.txt", "A", "en", a, "h1"),
        "b.txt": Document("b.txt", "B", "en", b, "h2"),
    }


def test_tutorial_pipeline_chunks_point_into_the_documents():
    docs = documents()
    pipeline = TutorialPipeline(docs, BagOfWords())
    assert len(pipeline.passages) > 2
    for p in pipeline.passages:
        assert docs[p.source].text[p.start : p.end] == p.text
        assert len(p.text) <= 1000
    # 1000/200: consecutive chunks of a document overlap
    firsts = [p for p in pipeline.passages if p.source == "a.txt"]
    assert firsts[1].start < firsts[0].end


def test_tutorial_pipeline_ranks_by_similarity():
    pipeline = TutorialPipeline(documents(), BagOfWords())
    top = pipeline.search("football", k=2)
    assert len(top) == 2
    assert top[0].source == "b.txt" and "Football" in top[0].text
    assert top[0].score >= top[1].score
    assert pipeline.search("japan", k=50)  # k larger than the index is fine
    assert "1000/200" in pipeline.describe()


def test_embeddings_adapter_speaks_langchain():
    emb = EmbedderEmbeddings(BagOfWords())
    docs = emb.embed_documents(["silk road", "japan"])
    assert len(docs) == 2 and len(docs[0]) == len(WORDS)
    assert abs(np.linalg.norm(emb.embed_query("khorgos")) - 1.0) < 1e-5
