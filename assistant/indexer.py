"""Build or update the index from a corpus folder: load → clean → chunk → embed → store.

Incremental by content hash: a file whose bytes did not change keeps its cleaned text and
passages; a passage whose text did not change keeps its vector, so adding, editing or removing
one document embeds only that document's new passages.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from assistant import store
from assistant.embed import Embedder, text_key
from assistant.embed.cache import VectorCache
from assistant.errors import CorpusError, IndexCorruptError, IndexWriteError
from assistant.ingest.chunk import chunk_document, split_sentences
from assistant.ingest.clean import clean
from assistant.ingest.language import detect_language
from assistant.ingest.load import (
    MANIFEST,
    RawFile,
    Skipped,
    file_hash,
    file_sha256,
    list_files,
    parse,
    read_bytes,
    read_manifest,
)
from assistant.library import owner_of
from assistant.records import Document, IndexReport, Passage
from assistant.settings import Settings

log = logging.getLogger(__name__)

VECTOR_CACHE = "vectors.sqlite"
CLEANER_VERSION = 6  # bump when clean/chunk change what they produce: forces re-chunking
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def chunking_config(settings: Settings) -> dict[str, float]:
    """What decides the passages: a change here re-cleans and re-chunks (vectors of unchanged
    passage texts are still reused)."""
    return {"size": settings.chunk_size, "overlap": settings.chunk_overlap, "cleaner": CLEANER_VERSION,
            "repeat_threshold": settings.clean_repeat_threshold}


def _title(raw: RawFile, text: str) -> str:
    if raw.title:
        return raw.title
    for line in text.splitlines():
        line = line.strip()
        if 3 <= len(line) <= 200:
            return line
    return Path(raw.source).stem


def to_document(raw: RawFile, dedup_threshold: float) -> Document:
    cleaned = clean(raw.text, dedup_threshold)
    return Document(
        source=raw.source,
        title=_title(raw, cleaned.text),
        language=raw.language or detect_language(cleaned.text),
        text=cleaned.text,
        content_hash=raw.content_hash,
        origin=raw.origin,
        spans=tuple(cleaned.spans),
        warnings=raw.warnings,
        owner=owner_of(raw.source),
    )


def _embed_all(passages: list[Passage], sentences: list[list[tuple[int, int]]], embedder: Embedder,
               cache: VectorCache, settings: Settings,
               progress: Progress | None, prune: bool = True) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Vectors of every passage and every sentence, embedding only texts not in the cache.

    Passages and sentences (small-to-big: answering scores sentences by similarity without a
    model call) are embedded alike, as passages. Each batch is committed to the cache as soon
    as it is embedded, so a killed build resumes where it stopped. ``prune``: drop from the cache
    every vector these texts do not use (a full build; an update adds to what the index holds).
    """
    texts = [p.text for p in passages] + [p.text[a:b] for p, spans in zip(passages, sentences, strict=True)
                                          for a, b in spans]
    keys = [text_key(t) for t in texts]
    try:
        found = cache.get(keys)
        todo = list({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        batch = max(settings.embed_batch_size, 1)
        if progress:
            progress("embedding", 0, len(todo))
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            fresh = dict(zip([k for k, _ in part], embedder.embed_passages([t for _, t in part]), strict=True))
            cache.put(fresh)
            found.update(fresh)
            if progress:
                progress("embedding", min(i + batch, len(todo)), len(todo))
        if prune:
            cache.keep_only(keys)
    finally:
        cache.close()
    dim = embedder.info.dimension
    matrix = np.stack([found[k] for k in keys]) if keys else np.zeros((0, dim), dtype=np.float32)
    n = len(passages)
    embedded = {k for k, _ in todo}
    return matrix[:n], matrix[n:], len(todo), sum(1 for k in keys[:n] if k not in embedded)


def _read_corpus(
    folder: Path, previous: store.StoredIndex | None, settings: Settings
) -> tuple[list[Document], list[Skipped], set[str]]:
    """Documents of ``folder``, and the sources whose previous cleaned text (and passages) were
    reused because their file did not change. New and changed files are parsed in parallel."""
    manifest = read_manifest(folder)
    known = previous.documents if previous else {}
    reuse_clean = previous is not None and previous.manifest.get("chunking") == chunking_config(settings)
    slots: list[Document | Skipped | None] = []
    reused: set[str] = set()
    todo: list[tuple[int, str, bytes, dict]] = []
    max_bytes = int(settings.max_file_mb * 1_000_000)
    for path in list_files(folder):
        got = read_bytes(path, folder, max_bytes)
        if isinstance(got, Skipped):
            slots.append(got)
            continue
        source, data = got
        meta = manifest.get(source, {})
        old = known.get(source) if reuse_clean else None
        if old is not None and old.content_hash == file_hash(data) and old.title == (meta.get("title") or old.title):
            slots.append(old)
            reused.add(source)
            continue
        todo.append((len(slots), source, data, meta))
        slots.append(None)
    workers = min(len(todo), os.cpu_count() or 1)
    if workers > 1 and sum(len(d) for _, _, d, _ in todo) > PARALLEL_BYTES:
        # parsing and cleaning are pure Python: processes, not threads, use the other cores
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_parse_one, [(s, d, m, settings.clean_repeat_threshold) for _, s, d, m in todo],
                                    chunksize=max(1, len(todo) // (workers * 8))))
    else:
        results = [_parse_one((s, d, m, settings.clean_repeat_threshold)) for _, s, d, m in todo]
    for (slot, _, _, _), result in zip(todo, results, strict=True):
        slots[slot] = result
    docs = [d for d in slots if isinstance(d, Document)]
    skipped = [d for d in slots if isinstance(d, Skipped)]
    for s in skipped:
        log.warning("skipped %s: %s", s.source, s.reason)
    return docs, skipped, reused


PARALLEL_BYTES = 2_000_000  # below this, starting worker processes costs more than it saves


def _parse_one(job: tuple[str, bytes, dict, float]) -> Document | Skipped:
    """One file, parsed and cleaned (runs in a worker process for large folders)."""
    source, data, meta, threshold = job
    raw = parse(source, data, meta)
    if isinstance(raw, Skipped):
        return raw
    doc = to_document(raw, threshold)
    if not doc.text.strip():
        return Skipped(source, "holds nothing but boilerplate")
    return doc


def sync(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
    force: bool = False,
) -> tuple[store.StoredIndex, IndexReport]:
    """Bring the index in ``index_dir`` up to date with ``corpus_dir``."""
    started = time.perf_counter()
    list_files(corpus_dir)  # a missing corpus is reported before anything is written
    try:
        return _sync(corpus_dir, index_dir, embedder, settings, progress, force, started)
    except (OSError, RuntimeError, sqlite3.Error) as exc:  # RuntimeError: FAISS's own I/O errors
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise IndexWriteError(f"cannot write the index in {index_dir}: {reason}") from exc


def _sync(corpus_dir: Path, index_dir: Path, embedder: Embedder, settings: Settings,
          progress: Progress | None, force: bool, started: float) -> tuple[store.StoredIndex, IndexReport]:
    with store.build_lock(index_dir):
        previous, reason = None, ""
        if not force:
            try:
                previous = store.load(index_dir, milvus_token(settings))
            except IndexCorruptError as exc:
                reason = f"previous index unusable ({exc}): rebuilt from the corpus"
                log.warning("%s", reason)
        if previous is not None and previous.manifest.get("model", {}).get("fingerprint") != embedder.fingerprint:
            old = previous.manifest.get("model", {})
            backend, bits = old.get("backend", "sentence-transformers"), old.get("quantization", "fp32")
            built = f"{old.get('name')} ({backend}, {bits})"
            now = f"{embedder.info.name} ({embedder.info.backend}, {embedder.info.quantization})"
            reason = f"index was built by another model, {built}: rebuilt with {now}"
            log.warning("%s", reason)
            previous = None

        docs, skipped, reused_docs = _read_corpus(corpus_dir, previous, settings)
        if not docs:
            detail = f" ({len(skipped)} file(s) skipped: {skipped[0].source}: {skipped[0].reason})" if skipped else ""
            raise CorpusError(f"corpus folder {corpus_dir} has no readable .txt/.md/.pdf/.docx/.html files{detail}")

        old_sources = set(previous.documents) if previous else set()
        documents = {d.source: d for d in docs}
        cache = VectorCache(index_dir / VECTOR_CACHE, embedder.fingerprint, embedder.info.dimension)
        fresh = [d for d in docs if d.source not in reused_docs]  # new or changed: chunked anew
        fresh_passages = [p for d in fresh for p in chunk_document(d, settings.chunk_size, settings.chunk_overlap)]
        if milvus_target(settings) is None and store.can_append(previous, len(fresh_passages)):
            # a large index: the update is a delta segment (assistant.segments), not a rebuild
            assert previous is not None
            sentences = [split_sentences(p.text) for p in fresh_passages]
            vectors, sentence_vectors, embedded, reused = _embed_all(fresh_passages, sentences, embedder, cache,
                                                                     settings, progress, prune=False)
            dropped = sorted(s for s in old_sources if s not in reused_docs)  # removed or changed
            saved = store.append(index_dir, previous, _manifest(embedder, settings, corpus_dir, docs, skipped),
                                 fresh_passages, {d.source: d for d in fresh}, vectors, sentences, sentence_vectors,
                                 removed=dropped)
            reused += saved.passage_count - len(fresh_passages)
        else:
            old_passages: dict[str, list[Passage]] = {}
            if previous is not None:
                for p in previous.passages:
                    if p.source in reused_docs:
                        old_passages.setdefault(p.source, []).append(p)
            for p in fresh_passages:
                old_passages.setdefault(p.source, []).append(p)
            passages = [p for doc in docs for p in old_passages.get(doc.source, [])]
            sentences = [split_sentences(p.text) for p in passages]
            vectors, sentence_vectors, embedded, reused = _embed_all(passages, sentences, embedder, cache, settings,
                                                                     progress)
            saved = store.save(index_dir, _manifest(embedder, settings, corpus_dir, docs, skipped), passages,
                               documents, vectors, sentences, sentence_vectors, milvus=milvus_target(settings))

    added = tuple(s for s in documents if s not in old_sources)
    changed = tuple(s for s in documents if s in old_sources and s not in reused_docs)
    removed = tuple(s for s in sorted(old_sources) if s not in documents)
    report = IndexReport(
        documents=len(docs),
        passages=saved.passage_count,
        added=added if previous is not None else (),
        changed=changed,
        removed=removed,
        unchanged=len(docs) - len(added) - len(changed),
        embedded=embedded,
        reused=reused,
        skipped=tuple(f"{s.source}: {s.reason}" for s in skipped),
        rebuilt_reason=reason,
        seconds=time.perf_counter() - started,
    )
    return saved, report


def _manifest(embedder: Embedder, settings: Settings, corpus_dir: Path, docs: list[Document],
              skipped: list[Skipped]) -> dict:
    """What a build records about itself (the store adds what it wrote: counts, files, checksums)."""
    return {
        "model": {
            "name": embedder.info.name,
            "requested": embedder.info.requested,
            "fingerprint": embedder.fingerprint,
            "dimension": embedder.info.dimension,
            "multilingual": embedder.info.multilingual,
            "fallback": embedder.info.fallback,
            "backend": embedder.info.backend,
            "quantization": embedder.info.quantization,
        },
        "chunking": chunking_config(settings),
        "corpus": {
            "dir": str(corpus_dir),
            "fingerprint": text_key("\n".join(f"{d.source}:{d.content_hash}" for d in docs)),
            "manifest_hash": _manifest_hash(corpus_dir),
            "documents": {d.source: {"content_hash": d.content_hash, "title": d.title,
                                     "language": d.language} for d in docs},
        },
        "counts": {"documents": len(docs)},
        "skipped": sorted(s.source for s in skipped),
        # hashes of skipped files, so a repaired one is noticed at the next start
        "skipped_hashes": {s.source: _hash_or_empty(corpus_dir / s.source) for s in skipped},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def milvus_token(settings: Settings) -> str:
    return settings.milvus_token.get_secret_value() if settings.milvus_token is not None else ""


def milvus_target(settings: Settings) -> store.MilvusTarget | None:
    """Where the vectors go: ``None`` for FAISS files in the generation, else a Milvus collection."""
    if settings.vector_store != "milvus":
        return None
    return store.MilvusTarget(settings.milvus_address(), settings.milvus_collection, milvus_token(settings))


def store_matches(index: store.StoredIndex, settings: Settings) -> bool:
    """Whether the index keeps its vectors where the settings say (else the next sync moves them)."""
    meta = index.manifest.get("vectors", {})
    if settings.vector_store != "milvus":
        return meta.get("kind") != "milvus"
    return meta.get("kind") == "milvus" and meta.get("uri") == settings.milvus_address() \
        and meta.get("collection") == settings.milvus_collection


def corpus_unchanged(corpus_dir: Path, index: store.StoredIndex, settings: Settings) -> bool:
    """Whether the index still matches the corpus folder: same chunking, same corpus manifest,
    and every file (indexed or skipped last time) with the same content hash."""
    if index.manifest.get("chunking") != chunking_config(settings) or not store_matches(index, settings):
        return False
    try:
        files = list_files(corpus_dir)
    except CorpusError:
        return True  # the corpus went away: keep answering from the index we have
    recorded = index.manifest.get("corpus", {})
    if recorded.get("manifest_hash", "") != _manifest_hash(corpus_dir):
        return False
    known = {s: d["content_hash"] for s, d in recorded.get("documents", {}).items()}
    known.update(index.manifest.get("skipped_hashes", {}))
    current = {p.relative_to(corpus_dir).as_posix(): p for p in files}
    if set(current) != set(known):
        return False
    for source, path in current.items():
        try:
            if file_sha256(path) != known[source]:
                return False
        except OSError:
            return False
    return True


def _hash_or_empty(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError:
        return ""


def _manifest_hash(corpus_dir: Path) -> str:
    path = corpus_dir / MANIFEST
    return file_sha256(path) if path.is_file() else ""
