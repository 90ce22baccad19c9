"""The index on disk: FAISS vectors, passages and documents as JSON, and a manifest.

Layout of the index folder::

    CURRENT              name of the live generation (replaced atomically)
    gen-<id>/manifest.json   what built it: format, model, chunking, corpus fingerprint, checksums
    gen-<id>/passages.json   passages, in vector order
    gen-<id>/documents.json  cleaned documents (text and offset map) by source
    gen-<id>/vectors.faiss   FAISS inner-product index over unit vectors (exact or IVF-SQ8, by size:
                             ``assistant.vectors``; the manifest's ``vectors`` records which)
    gen-<id>/passage_vectors.npy  the passages' unit vectors, full precision (memory-mapped)
    gen-<id>/sentences.json  each passage's sentence spans (offsets into the passage text)
    gen-<id>/sentence_vectors.npy  one unit vector per sentence, in passage order (memory-mapped)
    vectors.sqlite           vectors by content hash, shared by the generations (``embed.cache``)

A build writes a new generation beside the live one and only then points ``CURRENT`` at it,
so a crash half-way leaves the previous index in force. Nothing is pickled: LangChain's
``FAISS.save_local`` pickles its docstore, which is why passages live in JSON here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexCorruptError
from assistant.ingest.load import file_sha256
from assistant.records import Document, Passage
from assistant.vectors import FaissVectors, VectorIndex, write_faiss

FORMAT_VERSION = 4
CURRENT = "CURRENT"
BASE_FILES = ("passages.json", "documents.json", "sentences.json", "sentence_vectors.npy")
FAISS_FILES = ("vectors.faiss", "passage_vectors.npy")
FILES = BASE_FILES + FAISS_FILES  # a FAISS generation; a Milvus one has BASE_FILES only


@dataclass(frozen=True)
class MilvusTarget:
    """Where a build puts the passage vectors when ``vector_store = "milvus"``."""

    uri: str
    collection: str
    token: str = ""


def files_of(manifest: dict[str, Any]) -> tuple[str, ...]:
    return BASE_FILES if manifest.get("vectors", {}).get("kind") == "milvus" else FILES


@dataclass
class StoredIndex:
    """A loaded generation: everything retrieval needs, in memory."""

    path: Path
    manifest: dict[str, Any]
    passages: list[Passage]
    documents: dict[str, Document]
    vectors: VectorIndex
    sentences: list[list[tuple[int, int]]]  # per passage row: sentence spans in the passage text
    sentence_vectors: np.ndarray  # (sentences, dim), rows in passage order

    def __post_init__(self) -> None:
        self._rows = {p.id: i for i, p in enumerate(self.passages)}
        self._sentence_start = np.concatenate([[0], np.cumsum([len(s) for s in self.sentences])]).astype(np.int64)

    def sentences_of(self, row: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        """A passage's sentence spans (offsets into its text) and their vectors."""
        a, b = self._sentence_start[row], self._sentence_start[row + 1]
        return self.sentences[row], np.asarray(self.sentence_vectors[a:b], dtype=np.float32)

    @property
    def size(self) -> int:
        return len(self.passages)

    def row_of(self, passage_id: str) -> int | None:
        return self._rows.get(passage_id)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of the given passage rows (only those are read)."""
        return self.vectors.vectors_of(rows)

    def search_vectors(self, vector: np.ndarray, depth: int,
                       keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``depth`` nearest rows to ``vector`` (inner product), restricted to ``keep``."""
        return self.vectors.search(vector, depth, keep)


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder (readers never wait)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise IndexCorruptError(f"{pointer} does not name an index generation")
    return index_dir / name


def load(index_dir: Path, milvus_token: str = "") -> StoredIndex | None:
    """The live generation, verified; ``None`` when no index was ever built.

    Raises :class:`IndexCorruptError` (with the reason) for anything truncated, foreign or
    from another format version; the caller rebuilds from the corpus. A build that switched
    ``CURRENT`` while this was reading gets one more try with the new generation.
    """
    gen = current_generation(index_dir)
    if gen is None:
        return None
    try:
        return _load(gen, milvus_token)
    except IndexCorruptError:
        now = current_generation(index_dir)
        if now is None or now == gen:
            raise
        return _load(now, milvus_token)


def _load(gen: Path, milvus_token: str = "") -> StoredIndex:
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index manifest unreadable ({type(exc).__name__})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checksums"), dict) \
            or not isinstance(manifest.get("model"), dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexCorruptError(f"index format {found!r} is not {FORMAT_VERSION}")
    for name in files_of(manifest):
        path = gen / name
        if not path.is_file() or file_sha256(path) != manifest.get("checksums", {}).get(name):
            raise IndexCorruptError(f"index file {name} is missing or does not match its checksum")
    try:
        passages = [Passage(**p) for p in json.loads((gen / "passages.json").read_text(encoding="utf-8"))]
        documents = {}
        for source, d in json.loads((gen / "documents.json").read_text(encoding="utf-8")).items():
            d["spans"] = tuple(tuple(s) for s in d.get("spans", ()))
            d["warnings"] = tuple(d.get("warnings", ()))
            documents[source] = Document(**d)
        faiss_vectors = None if manifest.get("vectors", {}).get("kind") == "milvus" \
            else FaissVectors.open(gen, manifest.get("vectors", {"kind": "flat"}))
        sentences = [[(int(a), int(b)) for a, b in spans]
                     for spans in json.loads((gen / "sentences.json").read_text(encoding="utf-8"))]
        sentence_vectors = np.load(gen / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
        raise IndexCorruptError(f"index files unreadable ({type(exc).__name__}: {exc})") from exc
    dim = manifest.get("model", {}).get("dimension")
    if (faiss_vectors is not None and (faiss_vectors.size != len(passages) or faiss_vectors.dimension != dim
                                       or faiss_vectors.matrix.shape != (len(passages), dim))) \
            or len(sentences) != len(passages) or sentence_vectors.shape != (sum(len(s) for s in sentences), dim):
        raise IndexCorruptError("index vectors do not match its passages or its model")
    saved = StoredIndex(gen, manifest, passages, documents, faiss_vectors, sentences,  # type: ignore[arg-type]
                        sentence_vectors)
    if faiss_vectors is None:
        saved.vectors = _open_milvus(saved, milvus_token)
    return saved


def _open_milvus(saved: StoredIndex, token: str) -> VectorIndex:
    try:
        from assistant.milvus import MilvusVectors
    except ImportError as exc:
        raise IndexCorruptError("index keeps its vectors in Milvus, but pymilvus is not installed "
                                "(pip install 'assistant[milvus]')") from exc
    model = saved.manifest["model"]
    return MilvusVectors(saved.manifest["vectors"], str(model.get("fingerprint")), int(model["dimension"]),
                         [p.id for p in saved.passages], saved.row_of, token)


def save(
    index_dir: Path,
    manifest: dict[str, Any],
    passages: list[Passage],
    documents: dict[str, Document],
    vectors: np.ndarray,
    sentences: list[list[tuple[int, int]]],
    sentence_vectors: np.ndarray,
    milvus: MilvusTarget | None = None,
) -> StoredIndex:
    """Write a new generation and make it live; old generations are removed afterwards.

    With ``milvus``, the passage vectors go to that Milvus collection instead of FAISS files:
    what it lacks is inserted before the switch, what no passage needs any more is deleted after."""
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        previous = current_generation(index_dir)
    except IndexCorruptError:
        previous = None
    gen = index_dir / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".building-{gen.name}"
    tmp.mkdir()
    try:
        _write_json(tmp / "passages.json", [p.to_dict() for p in passages])
        _write_json(tmp / "documents.json", {s: asdict(d) for s, d in documents.items()})
        dim = int(manifest["model"]["dimension"])
        stale: set[str] = set()
        if milvus is None:
            vector_meta = write_faiss(tmp, vectors, dim)
        else:
            from assistant import milvus as mv

            vector_meta, stale = mv.sync(milvus.uri, milvus.collection, str(manifest["model"]["fingerprint"]), dim,
                                         [p.id for p in passages], [p.source for p in passages],
                                         np.asarray(vectors, dtype=np.float32), milvus.token)
        _write_json(tmp / "sentences.json", sentences)
        with (tmp / "sentence_vectors.npy").open("wb") as fh:
            np.save(fh, np.ascontiguousarray(sentence_vectors, dtype=np.float32), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "vectors": vector_meta,
            "checksums": {name: file_sha256(tmp / name) for name in files_of({"vectors": vector_meta})},
        }
        _write_json(tmp / "manifest.json", manifest)
        os.replace(tmp, gen)
        _atomic_write_text(index_dir / CURRENT, gen.name + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_old(index_dir, keep={gen.name, *([previous.name] if previous else [])})
    saved = StoredIndex(gen, manifest, passages, documents, None, sentences,  # type: ignore[arg-type]
                        np.asarray(sentence_vectors, dtype=np.float32))
    if milvus is None:
        saved.vectors = FaissVectors.open(gen, vector_meta)
    else:
        from assistant import milvus as mv

        mv.delete(milvus.uri, milvus.collection, stale, milvus.token)
        saved.vectors = _open_milvus(saved, milvus.token)
    return saved


def _remove_old(index_dir: Path, keep: set[str]) -> None:
    """Drop superseded generations and abandoned builds. The generation live until a moment ago
    is kept, so a process that read ``CURRENT`` just before the switch can still open it."""
    for child in index_dir.iterdir():
        if child.is_dir() and child.name not in keep and child.name.startswith(("gen-", ".building-")):
            shutil.rmtree(child, ignore_errors=True)
