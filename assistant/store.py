"""The index on disk: FAISS vectors, BM25, passages and documents in SQLite, and a manifest.

Layout of the index folder::

    CURRENT              name of the live generation (replaced atomically)
    gen-<id>/manifest.json   what built it: format, model, chunking, corpus fingerprint, checksums
    gen-<id>/passages.sqlite passages (by row, in vector order) and cleaned documents (text and
                             offset map) by source; read a row at a time, never whole
    gen-<id>/languages.npy, owners.npy   per passage row: language, owner code (``manifest["owners"]``)
    gen-<id>/vectors.faiss   FAISS inner-product index over unit vectors (exact or IVF-SQ8, by size:
                             ``assistant.vectors``; the manifest's ``vectors`` records which)
    gen-<id>/passage_vectors.npy  the passages' unit vectors, full precision (read by row when large)
    gen-<id>/lexical/        BM25 (bm25s's saved index, memory-mapped) and the cross-script keys
    gen-<id>/sentence_spans.npy, sentence_start.npy  each passage's sentence spans (offsets into its text)
    gen-<id>/sentence_vectors.npy  one unit vector per sentence, in passage order (read by row when large)
    gen-<id>/delta-<id>/     past SEGMENTS_ABOVE passages: a segment of documents added since the
                             last full build, with the same files as above (``assistant.segments``)
    vectors.sqlite           vectors by content hash, shared by the generations (``embed.cache``)

With ``vector_store = "milvus"`` the two FAISS files are replaced by a Milvus collection
(``assistant.milvus``). A build writes a new generation beside the live one and only then points
``CURRENT`` at it, so a crash half-way leaves the previous index in force. Nothing is pickled:
LangChain's ``FAISS.save_local`` pickles its docstore, which is why passages live in SQLite here.
Opening a generation reads its manifest and maps its arrays; passages and documents are read
when asked for, so it costs the same at a hundred passages as at a million.

An update of a large index (:func:`append`) does not rewrite it: the new generation hard-links the
live one's files, adds a delta segment for the added documents and lists the removed ones in its
manifest (``deltas``, ``removed``); the next update past :data:`MERGE_SHARE` rebuilds it whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexCorruptError
from assistant.ingest.load import file_sha256
from assistant.lexical import LexicalIndex
from assistant.records import Document, Passage
from assistant.vectors import MMAP_ABOVE, FaissVectors, MatrixFile, VectorIndex, write_faiss

FORMAT_VERSION = 5
CURRENT = "CURRENT"
BASE_FILES = ("passages.sqlite", "languages.npy", "owners.npy", "sentence_spans.npy", "sentence_start.npy",
              "sentence_vectors.npy", *(f"lexical/{n}" for n in LexicalIndex.LEXICAL_FILES))
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


PASSAGE_COLUMNS = ("id", "source", "title", "language", "start", "end", "text", "section")
SAMPLED_ABOVE = 64 * 1024 * 1024  # files past this get a sampled checksum at load (see checksum())


class Rows:
    """Read access to a generation's SQLite file, shared by threads (one connection, a lock)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.lock = threading.Lock()

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()


def _passage(row: tuple) -> Passage:
    return Passage(*row)


class Passages(Sequence[Passage]):
    """The passages of a generation by row, read from SQLite when asked for."""

    CACHE = 4096  # passages kept after a read (the candidates of recent questions)

    def __init__(self, rows: Rows, size: int) -> None:
        self.rows = rows
        self.size = size
        self._cache: OrderedDict[int, Passage] = OrderedDict()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.size))]
        i = int(i)
        if i < 0:
            i += self.size
        with self.rows.lock:
            hit = self._cache.get(i)
        if hit is not None:
            return hit
        found = self.rows.all(f"SELECT {', '.join(PASSAGE_COLUMNS)} FROM passages WHERE row = ?", (i,))
        if not found:
            raise IndexError(i)
        passage = _passage(found[0])
        with self.rows.lock:
            self._cache[i] = passage
            while len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return passage

    def __iter__(self) -> Iterator[Passage]:
        step = 20_000
        for a in range(0, self.size, step):
            for row in self.rows.all(f"SELECT {', '.join(PASSAGE_COLUMNS)} FROM passages WHERE row >= ? AND row < ? "
                                     "ORDER BY row", (a, a + step)):
                yield _passage(row)


def _document(data: dict[str, Any]) -> Document:
    data["spans"] = tuple(tuple(s) for s in data.get("spans", ()))
    data["warnings"] = tuple(data.get("warnings", ()))
    return Document(**data)


class Documents(Mapping[str, Document]):
    """The cleaned documents of a generation by source, read from SQLite when asked for."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self._sources: list[str] | None = None

    def __getitem__(self, source: str) -> Document:
        found = self.rows.all("SELECT data FROM documents WHERE source = ?", (source,))
        if not found:
            raise KeyError(source)
        return _document(json.loads(found[0][0]))

    def sources(self) -> list[str]:
        if self._sources is None:
            self._sources = [s for (s,) in self.rows.all("SELECT source FROM documents ORDER BY ord")]
        return self._sources

    def __iter__(self) -> Iterator[str]:
        return iter(self.sources())

    def __len__(self) -> int:
        return len(self.sources())

    def __contains__(self, source: object) -> bool:
        return bool(self.rows.all("SELECT 1 FROM documents WHERE source = ?", (source,)))


class SentenceSpans(Sequence[list[tuple[int, int]]]):
    """Each passage row's sentence spans (offsets into its text), from two arrays."""

    def __init__(self, spans: np.ndarray, start: np.ndarray) -> None:
        self.spans = spans
        self.start = start

    def __len__(self) -> int:
        return len(self.start) - 1

    def __getitem__(self, row):
        a, b = int(self.start[row]), int(self.start[row + 1])
        return [(int(x), int(y)) for x, y in np.asarray(self.spans[a:b])]


@dataclass
class StoredIndex:
    """An opened generation: its arrays memory-mapped, its passages and documents read on demand."""

    path: Path
    manifest: dict[str, Any]
    passages: Sequence[Passage]
    documents: Mapping[str, Document]
    vectors: VectorIndex
    sentences: SentenceSpans  # per passage row: sentence spans in the passage text
    sentence_vectors: np.ndarray | MatrixFile  # (sentences, dim), rows in passage order
    languages: np.ndarray  # per passage row: "ru" / "en"
    owners: np.ndarray  # per passage row: the owner's name ("" for the shared corpus), object array
    lexical: LexicalIndex
    rows: Rows | None = None
    live: np.ndarray | None = None  # rows still in force (``None``: all); see assistant.segments

    @property
    def passage_count(self) -> int:
        """Passages in force (a segmented index also holds rows of removed documents)."""
        return self.size if self.live is None else int(self.live.sum())

    def rows_of_sources(self, sources: Sequence[str]) -> np.ndarray:
        """The rows of these documents' passages (read through SQLite's index on source)."""
        if self.rows is None:
            wanted = set(sources)
            return np.array([i for i, p in enumerate(self.passages) if p.source in wanted], dtype=np.int64)
        out: list[int] = []
        names = list(sources)
        for a in range(0, len(names), 500):
            part = names[a : a + 500]
            out.extend(r for (r,) in self.rows.all(
                f"SELECT row FROM passages WHERE source IN ({', '.join('?' * len(part))})", part))
        return np.array(sorted(out), dtype=np.int64)

    def segment_of(self, source: str) -> str | None:
        """Which segment holds ``source`` in force: ``""`` (the base) or ``None``."""
        return "" if source in self.documents else None

    def sentences_of(self, row: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        """A passage's sentence spans (offsets into its text) and their vectors."""
        spans = self.sentences[row]
        a = int(self.sentences.start[row])
        if isinstance(self.sentence_vectors, MatrixFile):
            return spans, self.sentence_vectors.slice(a, a + len(spans))
        return spans, np.asarray(self.sentence_vectors[a : a + len(spans)], dtype=np.float32)

    @property
    def size(self) -> int:
        return len(self.passages)

    def row_of(self, passage_id: str) -> int | None:
        if self.rows is None:
            return next((i for i, p in enumerate(self.passages) if p.id == passage_id), None)
        found = self.rows.all("SELECT row FROM passages WHERE id = ?", (passage_id,))
        return int(found[0][0]) if found else None

    def id_of(self, row: int) -> str:
        if self.rows is None:
            return self.passages[row].id
        return str(self.rows.all("SELECT id FROM passages WHERE row = ?", (int(row),))[0][0])

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of the given passage rows (only those are read)."""
        return self.vectors.vectors_of(rows)

    def search_vectors(self, vector: np.ndarray, depth: int,
                       keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``depth`` nearest rows to ``vector`` (inner product), restricted to ``keep``."""
        return self.vectors.search(vector, depth, keep)


def checksum(path: Path) -> str:
    """sha256 of a file; past :data:`SAMPLED_ABOVE` bytes, of its size and 32 blocks of 64 KiB
    spread over it (first and last included). Hashing every byte of a million passages' files
    takes seconds at each start; the sample still catches truncation, a file from another build
    (sizes and contents differ) and most damage. ``assistant index --force`` rebuilds from scratch."""
    size = path.stat().st_size
    if size <= SAMPLED_ABOVE:
        return file_sha256(path)
    digest = hashlib.sha256(f"sampled:{size}:".encode())
    block = 64 * 1024
    with path.open("rb") as fh:
        for i in range(32):
            fh.seek((size - block) * i // 31)
            digest.update(fh.read(block))
    return "sampled:" + digest.hexdigest()


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
    base = _open_segment(gen, manifest, base_segment(manifest), milvus_token)
    deltas = manifest.get("deltas", [])
    if not deltas and not manifest.get("removed"):
        return base
    from assistant.segments import SegmentedIndex

    try:
        parts = [base] + [_open_segment(gen / d["dir"], manifest, d) for d in deltas]
        return SegmentedIndex(gen, manifest, parts, ["", *(d["dir"] for d in deltas)], manifest.get("removed", {}))
    except (KeyError, TypeError, ValueError, sqlite3.Error) as exc:
        raise IndexCorruptError(f"index segments unreadable ({type(exc).__name__}: {exc})") from exc


def base_segment(manifest: dict[str, Any]) -> dict[str, Any]:
    """The base segment's description: the generation's own top-level entries."""
    return {"passages": manifest.get("counts", {}).get("passages", -1), "owners": manifest.get("owners", []),
            "vectors": manifest.get("vectors", {"kind": "flat"}), "checksums": manifest.get("checksums", {})}


def _open_segment(folder: Path, manifest: dict[str, Any], seg: dict[str, Any], milvus_token: str = "") -> StoredIndex:
    """One segment's files, verified and opened (the base is the generation folder itself)."""
    vector_meta = seg.get("vectors", {"kind": "flat"})
    for name in files_of({"vectors": vector_meta}):
        path = folder / name
        if not path.is_file() or checksum(path) != seg.get("checksums", {}).get(name):
            raise IndexCorruptError(f"index file {name} is missing or does not match its checksum")
    dim = manifest.get("model", {}).get("dimension")
    n = int(seg.get("passages", -1))
    try:
        rows = Rows(folder / "passages.sqlite")
        stored = rows.all("SELECT count(*), coalesce(max(row), -1) FROM passages")[0]
        if stored != (n, n - 1):
            raise ValueError(f"{stored[0]} passages stored, {n} recorded")
        faiss_vectors = None if vector_meta.get("kind") == "milvus" else FaissVectors.open(folder, vector_meta)
        sentences = SentenceSpans(np.load(folder / "sentence_spans.npy", mmap_mode="r", allow_pickle=False),
                                  np.load(folder / "sentence_start.npy", allow_pickle=False))
        sentence_path = folder / "sentence_vectors.npy"
        sentence_vectors = MatrixFile(sentence_path) if sentence_path.stat().st_size > MMAP_ABOVE \
            else np.load(sentence_path, mmap_mode="r", allow_pickle=False)
        languages = np.load(folder / "languages.npy", allow_pickle=False)
        names = np.array(["", *seg.get("owners", [])], dtype=object)
        owners = names[np.load(folder / "owners.npy", allow_pickle=False)]
        lexical = LexicalIndex.open(folder / "lexical")
    except (OSError, ValueError, TypeError, AttributeError, RuntimeError, KeyError, IndexError,
            sqlite3.Error) as exc:
        raise IndexCorruptError(f"index files unreadable ({type(exc).__name__}: {exc})") from exc
    if (faiss_vectors is not None and (faiss_vectors.size != n or faiss_vectors.dimension != dim
                                       or faiss_vectors.matrix.shape != (n, dim))) \
            or len(sentences) != n or sentence_vectors.shape != (int(sentences.start[-1]), dim) \
            or len(languages) != n or len(owners) != n or lexical.size != n:
        raise IndexCorruptError("index vectors do not match its passages or its model")
    saved = StoredIndex(folder, manifest, Passages(rows, n), Documents(rows), faiss_vectors,  # type: ignore[arg-type]
                        sentences, sentence_vectors, languages, owners, lexical, rows)
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
                         saved.size, saved.id_of, saved.row_of, token)


def _fsync(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def _save_npy(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def _write_sqlite(path: Path, passages: Sequence[Passage], documents: Mapping[str, Document]) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = OFF")  # a fresh file in a build folder: nothing to roll back to
        db.execute("PRAGMA synchronous = OFF")  # fsynced once, below, before the generation goes live
        db.execute("CREATE TABLE passages (row INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL, "
                   "title TEXT, language TEXT, start INTEGER, end INTEGER, text TEXT, section TEXT)")
        db.execute("CREATE TABLE documents (source TEXT PRIMARY KEY, ord INTEGER, data TEXT NOT NULL)")
        db.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       ((i, p.id, p.source, p.title, p.language, p.start, p.end, p.text, p.section)
                        for i, p in enumerate(passages)))
        db.executemany("INSERT INTO documents VALUES (?, ?, ?)",
                       ((s, i, json.dumps(asdict(d), ensure_ascii=False))
                        for i, (s, d) in enumerate(documents.items())))
        db.execute("CREATE INDEX passages_id ON passages (id)")
        db.execute("CREATE INDEX passages_source ON passages (source)")
        db.commit()
    finally:
        db.close()
    _fsync(path)


def _write_segment(folder: Path, passages: Sequence[Passage], documents: Mapping[str, Document],
                   vectors: np.ndarray, sentences: Sequence[Sequence[tuple[int, int]]], sentence_vectors: np.ndarray,
                   dim: int, milvus: MilvusTarget | None = None,
                   fingerprint: str = "") -> tuple[dict[str, Any], set[str]]:
    """Write one segment's files into ``folder``; returns its description (passages, documents,
    owners, vectors, checksums) and, with Milvus, the ids no passage needs any more."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_sqlite(folder / "passages.sqlite", passages, documents)
    _save_npy(folder / "languages.npy", np.array([p.language for p in passages], dtype="<U2"))
    owner_of_source = {s: d.owner for s, d in documents.items()}
    names = sorted({o for o in owner_of_source.values() if o})
    code = {"": 0, **{name: i + 1 for i, name in enumerate(names)}}
    _save_npy(folder / "owners.npy", np.array([code[owner_of_source.get(p.source, "")] for p in passages],
                                              dtype=np.int32))
    lexical = LexicalIndex(f"{p.section}\n{p.text}" if p.section else p.text for p in passages)
    lexical.save(folder / "lexical")
    for name in LexicalIndex.LEXICAL_FILES:
        _fsync(folder / "lexical" / name)
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    _save_npy(folder / "sentence_start.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    flat = [pair for spans in sentences for pair in spans]
    _save_npy(folder / "sentence_spans.npy", np.array(flat, dtype=np.int32).reshape(-1, 2))
    _save_npy(folder / "sentence_vectors.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
    stale: set[str] = set()
    if milvus is None:
        vector_meta = write_faiss(folder, vectors, dim)
    else:
        from assistant import milvus as mv

        vector_meta, stale = mv.sync(milvus.uri, milvus.collection, fingerprint, dim,
                                     [p.id for p in passages], [p.source for p in passages],
                                     np.asarray(vectors, dtype=np.float32), milvus.token)
    return {"passages": len(passages), "documents": len(documents), "owners": names, "vectors": vector_meta,
            "checksums": {name: checksum(folder / name) for name in files_of({"vectors": vector_meta})}}, stale


def _new_generation(index_dir: Path) -> tuple[Path, Path, Path | None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    try:
        previous = current_generation(index_dir)
    except IndexCorruptError:
        previous = None
    gen = index_dir / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".building-{gen.name}"
    tmp.mkdir()
    return gen, tmp, previous


def _go_live(index_dir: Path, tmp: Path, gen: Path, manifest: dict[str, Any], previous: Path | None) -> None:
    _write_json(tmp / "manifest.json", manifest)
    os.replace(tmp, gen)
    _atomic_write_text(index_dir / CURRENT, gen.name + "\n")
    _remove_old(index_dir, keep={gen.name, *([previous.name] if previous else [])})


def save(
    index_dir: Path,
    manifest: dict[str, Any],
    passages: Sequence[Passage],
    documents: Mapping[str, Document],
    vectors: np.ndarray,
    sentences: Sequence[Sequence[tuple[int, int]]],
    sentence_vectors: np.ndarray,
    milvus: MilvusTarget | None = None,
) -> StoredIndex:
    """Write a new generation and make it live; old generations are removed afterwards.

    With ``milvus``, the passage vectors go to that Milvus collection instead of FAISS files:
    what it lacks is inserted before the switch, what no passage needs any more is deleted after."""
    gen, tmp, previous = _new_generation(index_dir)
    try:
        seg, stale = _write_segment(tmp, passages, documents, vectors, sentences, sentence_vectors,
                                    int(manifest["model"]["dimension"]), milvus,
                                    str(manifest["model"].get("fingerprint")))
        manifest = {
            **{k: v for k, v in manifest.items() if k not in ("deltas", "removed")},
            "format_version": FORMAT_VERSION,
            "counts": {**manifest.get("counts", {}), "passages": len(passages), "documents": len(documents)},
            "owners": seg["owners"],
            "vectors": seg["vectors"],
            "checksums": seg["checksums"],
        }
        _go_live(index_dir, tmp, gen, manifest, previous)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if milvus is not None:
        from assistant import milvus as mv

        mv.delete(milvus.uri, milvus.collection, stale, milvus.token)
    return _load(gen, milvus.token if milvus is not None else "")


# Segments (as Lucene has them): past SEGMENTS_ABOVE passages, an update does not rewrite the index.
# It hard-links the live generation's files into a new generation, writes the added documents as a
# small delta segment beside them and records the removed documents' sources; the next full build
# merges everything. Below SEGMENTS_ABOVE an update is a full rebuild (8 s at 10,000 passages,
# benchmarks/scale.py), which keeps the index in one piece: nothing changes for a small corpus.
SEGMENTS_ABOVE = 20_000
MERGE_SHARE = 0.10  # deltas past this share of the base: the next update merges (a full build)
MAX_DELTAS = 16


def can_append(previous: StoredIndex | None, added_passages: int) -> bool:
    """Whether an update adding ``added_passages`` passages may be written as a delta segment."""
    if previous is None or previous.manifest.get("vectors", {}).get("kind") == "milvus":
        return False
    base = int(previous.manifest.get("counts", {}).get("passages", 0))
    deltas = previous.manifest.get("deltas", [])
    held = sum(int(d["passages"]) for d in deltas)
    return base >= SEGMENTS_ABOVE and held + added_passages <= MERGE_SHARE * base and len(deltas) < MAX_DELTAS


def append(
    index_dir: Path,
    previous: StoredIndex,
    manifest: dict[str, Any],
    passages: Sequence[Passage],
    documents: Mapping[str, Document],
    vectors: np.ndarray,
    sentences: Sequence[Sequence[tuple[int, int]]],
    sentence_vectors: np.ndarray,
    removed: Sequence[str] = (),
) -> StoredIndex:
    """A new generation: ``previous`` (its files hard-linked, not copied), minus the documents
    ``removed`` (their rows masked), plus ``documents`` written as a delta segment. A document
    that changed is both removed and added. ``manifest``: the build's description (model,
    corpus, counts of the whole index); the base's own entries are kept from ``previous``."""
    gen, tmp, pointer = _new_generation(index_dir)
    try:
        old = previous.manifest
        for path in previous.path.rglob("*"):
            if path.is_file() and path.name != "manifest.json":
                target = tmp / path.relative_to(previous.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(path, target)  # the files of a generation are never written again
                except OSError:
                    shutil.copy2(path, target)
        gone: dict[str, list[str]] = {k: list(v) for k, v in old.get("removed", {}).items()}
        for source in removed:
            where = previous.segment_of(source)
            if where is not None:
                gone.setdefault(where, []).append(source)
        deltas = list(old.get("deltas", []))
        if len(passages):
            name = f"delta-{uuid.uuid4().hex[:8]}"
            seg, _ = _write_segment(tmp / name, passages, documents, vectors, sentences, sentence_vectors,
                                    int(old["model"]["dimension"]))
            deltas.append({"dir": name, **seg})
        new = {**old, **{k: v for k, v in manifest.items() if k not in ("counts", "owners", "vectors", "checksums")},
               "format_version": FORMAT_VERSION, "counts": old["counts"],
               "deltas": deltas, "removed": {k: sorted(set(v)) for k, v in gone.items()}}
        _go_live(index_dir, tmp, gen, new, pointer)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # The segments ``previous`` holds open are the new generation's too (its files are links to the
    # same, immutable, already verified files): only the new delta is opened and checked.
    from assistant.segments import SegmentedIndex

    if isinstance(previous, SegmentedIndex):
        held, names = previous.parts, previous.names
    else:
        held, names = [previous], [""]
    parts = [replace(part, path=gen / name if name else gen, manifest=new)
             for part, name in zip(held, names, strict=True)]
    if len(deltas) > len(names) - 1:
        parts.append(_open_segment(gen / deltas[-1]["dir"], new, deltas[-1]))
        names = [*names, deltas[-1]["dir"]]
    return SegmentedIndex(gen, new, parts, names, new["removed"])


def _remove_old(index_dir: Path, keep: set[str]) -> None:
    """Drop superseded generations and abandoned builds. The generation live until a moment ago
    is kept, so a process that read ``CURRENT`` just before the switch can still open it."""
    for child in index_dir.iterdir():
        if child.is_dir() and child.name not in keep and child.name.startswith(("gen-", ".building-")):
            shutil.rmtree(child, ignore_errors=True)
