"""The embedder seam: one abstract ``embed_batch``; everything else is shared.

A backend turns texts into vectors for one *kind* of text, ``"query"`` or ``"passage"``, and
applies the model's prompt for it its own way (sentence-transformers prepends
``info.query_prompt``; the bundled engine adds ``query: `` itself), so a prompt is applied once,
by whoever knows how. The base class cleans every text first (``assistant.text.safe_text``:
nothing a user types or a file holds may reach a C tokenizer unchecked), normalises the rows and
remembers recent question vectors.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import numpy as np

from assistant.records import ModelInfo
from assistant.text import safe_text

Kind = Literal["query", "passage"]
QUERY_CACHE = 256
# Characters of a text the model is given, after normalisation. The model reads 512 tokens at a time
# (sentence-transformers cuts there; the bundled engine averages further windows), and NFKC can make
# a text 18 times longer (U+FDFA): the cap bounds the cost of any input. Passages never reach it.
MAX_CHARS: dict[str, int] = {"query": 2048, "passage": 16384}


class Embedder(ABC):
    """Turns texts into L2-normalised float32 rows. Backends implement :meth:`embed_batch`."""

    info: ModelInfo

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Vectors for ``texts`` (already cleaned), prompt for ``kind`` applied: ``(len(texts), dim)``."""

    # --- what the stages call -----------------------------------------------------------
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(list(texts), "passage")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Question vectors; the last few are remembered (retrieval and answering share them)."""
        if not texts:
            return self._embed([], "query")
        cache = self._memo()
        with self._memo_lock:
            found = {t: cache[t] for t in texts if t in cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = dict(zip(missing, self._embed(missing, "query"), strict=True))
            found.update(fresh)
            with self._memo_lock:
                cache.update(fresh)
                while len(cache) > QUERY_CACHE:
                    cache.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def clear_query_cache(self) -> None:
        """Forget remembered question vectors (benchmarks time each call's own forward pass)."""
        with self._memo_lock:
            self._memo().clear()

    @property
    def fingerprint(self) -> str:
        """What an index built with this embedder must match to be reused: the model, its
        backend and quantisation, its dimension and prompts, and its weights' identity."""
        i = self.info
        return "|".join((i.name, i.backend, i.quantization, str(i.dimension), i.query_prompt,
                         i.passage_prompt, i.weights_id))

    # --- shared machinery -----------------------------------------------------------------
    _memo_lock = threading.Lock()

    def _memo(self) -> OrderedDict[str, np.ndarray]:
        memo = self.__dict__.get("_query_memo")
        if memo is None:
            memo = self.__dict__.setdefault("_query_memo", OrderedDict())
        return memo

    def _embed(self, texts: list[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        limit = MAX_CHARS[kind]
        vectors = np.asarray(self.embed_batch([safe_text(t)[:limit] for t in texts], kind), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


def text_key(text: str) -> str:
    """Content hash of a text: the key of its cached vector (same text, same vector)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
