"""Passage vectors in a Milvus collection: the way past one machine (``vector_store = "milvus"``).

``milvus_uri`` names the engine: a file path runs Milvus Lite (the real engine, embedded in this
process: ``pip install milvus-lite``), ``http://host:19530`` a Milvus server or cluster. The
collection holds one entity per passage — its id (a content hash of source, offset and text),
its source and its unit vector — and nothing else: passages, documents, offsets and sentence
vectors stay in the local generation folder, so answers and citations are the same whichever
store serves the vectors.

BM25 stays local (``assistant.lexical``), and Milvus serves only the dense leg. Milvus's own full
text search (BM25 over its analyzers) could hold the sparse side, but this product's lexical leg
is more than BM25 over one analyzer: Snowball stems chosen per word by script (Latin names inside
Russian text stay English), cross-script transliteration keys (``Khorgos`` ↔ ``Хоргоса``) and
dictionary-translated queries scored per concept. Measured on Milvus Lite 3.2 (the engine the
tests run): its BM25 tokenizes without stemming — ``Хоргос`` does not find ``Хоргоса``,
``investment`` does not find ``invested`` — and a ``stemmer`` filter in ``analyzer_params`` is
accepted but changes nothing. A Milvus server's analyzers (which do have a stemmer filter) were not
measured here.

Updates are incremental: a sync inserts only the passages the collection lacks, and deletes the
ones no document holds any more only after the new generation is live (a crash in between leaves
extra entities, which no generation maps to a row and the next sync removes). A collection built
by another model (its fingerprint is a collection property) is dropped and rebuilt, never mixed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assistant.errors import IndexCorruptError, IndexWriteError

log = logging.getLogger(__name__)

FINGERPRINT = "assistant.fingerprint"
MAX_TOPK = 16_384  # Milvus's limit on one search's results
ID_FILTER_LIMIT = 4_096  # a mask allowing at most this many rows is sent as an id filter
BATCH = 2_000

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def is_lite(uri: str) -> bool:
    return "://" not in uri


def client(uri: str, token: str = "") -> Any:
    """One client per URI and process (Milvus Lite serves a file to one process at a time)."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    with _clients_lock:
        found = _clients.get(uri)
        if found is None:
            try:
                found = _clients[uri] = MilvusClient(uri, token=token) if token else MilvusClient(uri)
            except MilvusException as exc:
                hint = " (Milvus Lite serves a file to one process at a time)" if is_lite(uri) else ""
                raise IndexWriteError(f"cannot open Milvus at {uri}: {exc.message}{hint}") from exc
        return found


def close(uri: str) -> None:
    """Close this process's client of ``uri`` (Milvus Lite then releases the file)."""
    with _clients_lock:
        found = _clients.pop(uri, None)
    if found is not None:
        found.close()
    if is_lite(uri):  # the embedded engine outlives its clients: stop it, which unlocks the file
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def index_params(uri: str) -> dict[str, Any]:
    """Exact search on Milvus Lite (one machine, like FAISS's flat index); HNSW on a server."""
    if is_lite(uri):
        return {"index_type": "FLAT", "metric_type": "IP", "params": {}}
    return {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 200}}


def _create(c: Any, name: str, dim: int, fingerprint: str, uri: str) -> None:
    from pymilvus import DataType

    schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("source", DataType.VARCHAR, max_length=4096)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    params = c.prepare_index_params()
    spec = index_params(uri)
    params.add_index(field_name="vector", index_type=spec["index_type"], metric_type=spec["metric_type"],
                     params=spec["params"])
    c.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")
    c.alter_collection_properties(name, properties={FINGERPRINT: f"{fingerprint}|{dim}"})


def stored_ids(c: Any, name: str) -> set[str]:
    ids: set[str] = set()
    it = c.query_iterator(name, batch_size=BATCH * 4, filter="", output_fields=["id"])
    try:
        while True:
            page = it.next()
            if not page:
                return ids
            ids.update(row["id"] for row in page)
    finally:
        it.close()


def sync(uri: str, name: str, fingerprint: str, dim: int, ids: Sequence[str], sources: Sequence[str],
         vectors: np.ndarray, token: str = "") -> tuple[dict[str, Any], set[str]]:
    """Bring collection ``name`` to hold these passages (inserting only what it lacks).

    Returns the manifest record and the ids to delete once the new generation is live."""
    from pymilvus.exceptions import MilvusException

    try:
        c = client(uri, token)
        if c.has_collection(name):
            found = c.describe_collection(name).get("properties", {}).get(FINGERPRINT)
            if found != f"{fingerprint}|{dim}":
                log.warning("Milvus collection %s was built by another model (%s): rebuilt", name, found)
                c.drop_collection(name)
        if not c.has_collection(name):
            _create(c, name, dim, fingerprint, uri)
        c.load_collection(name)
        have = stored_ids(c, name)
        todo = [i for i, pid in enumerate(ids) if pid not in have]
        for a in range(0, len(todo), BATCH):
            part = todo[a : a + BATCH]
            c.insert(name, [{"id": ids[i], "source": sources[i], "vector": vectors[i].tolist()} for i in part])
        wanted = set(ids)
    except MilvusException as exc:
        raise IndexWriteError(f"cannot write Milvus collection {name} at {uri}: {exc.message}") from exc
    spec = index_params(uri)
    return ({"kind": "milvus", "uri": uri, "collection": name, "index_type": spec["index_type"]},
            have - wanted)


def delete(uri: str, name: str, stale: set[str], token: str = "") -> None:
    """Remove entities no live passage maps to (after the generation that dropped them is live)."""
    if not stale:
        return
    c = client(uri, token)
    ids = sorted(stale)
    for a in range(0, len(ids), BATCH):
        c.delete(name, ids=ids[a : a + BATCH])


class MilvusVectors:
    """The :class:`assistant.vectors.VectorIndex` interface over a Milvus collection."""

    kind = "milvus"

    def __init__(self, meta: dict[str, Any], fingerprint: str, dim: int, size: int, id_of: Callable[[int], str],
                 row_of: Callable[[str], int | None], token: str = "") -> None:
        from pymilvus.exceptions import MilvusException

        self.meta = meta
        self.uri, self.name = str(meta["uri"]), str(meta["collection"])
        self._size = size
        self.id_of = id_of
        self.row_of = row_of
        self.dimension = dim
        try:
            self.client = client(self.uri, token)
        except IndexWriteError as exc:  # unreachable or locked: this index cannot serve
            raise IndexCorruptError(str(exc)) from exc
        try:
            exists = self.client.has_collection(self.name)
            found = self.client.describe_collection(self.name).get("properties", {}).get(FINGERPRINT) \
                if exists else None
            if found == f"{fingerprint}|{dim}":
                self.client.load_collection(self.name)  # a restarted engine starts with it released
        except MilvusException as exc:
            raise IndexCorruptError(f"Milvus collection {self.name} at {self.uri} unreadable: {exc.message}") from exc
        if found != f"{fingerprint}|{dim}":
            raise IndexCorruptError(f"Milvus collection {self.name} at {self.uri} is missing or was built by "
                                    f"another model ({found})")
        self.search_params: dict[str, Any] = {"metric_type": "IP"}

    @property
    def size(self) -> int:
        return self._size

    def _search(self, vector: np.ndarray, limit: int, expr: str) -> list[tuple[str, float]]:
        params = dict(self.search_params)
        if self.meta.get("index_type") == "HNSW":
            params["params"] = {"ef": max(64, limit)}
        hits = self.client.search(self.name, data=[np.asarray(vector, dtype=np.float32).tolist()], limit=limit,
                                  filter=expr, anns_field="vector", search_params=params, output_fields=[])
        return [(h["id"], float(h["distance"])) for h in hits[0]]

    def search(self, vector: np.ndarray, depth: int,
               keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        depth = min(depth, self.size)
        expr, allowed = "", None
        if keep is not None:
            allowed = np.flatnonzero(keep)
            if not len(allowed) or depth <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if len(allowed) <= ID_FILTER_LIMIT:  # a narrow mask (a user's own uploads) is pushed to Milvus
                expr = f"id in {json.dumps([self.id_of(r) for r in allowed.tolist()])}"
        limit = depth
        while True:
            # entities no row maps to (written by a newer build, or awaiting deletion) are skipped,
            # and so are rows outside a wide mask: search deeper until ``depth`` rows remain
            got = [(row, s) for pid, s in self._search(vector, min(limit, MAX_TOPK), expr)
                   for row in [self.row_of(pid)] if row is not None and (keep is None or keep[row])]
            if len(got) >= depth or limit >= min(MAX_TOPK, self.size * 2):
                break
            limit *= 4
        got = got[:depth]
        return np.array([r for r, _ in got], dtype=np.int64), np.array([s for _, s in got], dtype=np.float32)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ids = {r: self.id_of(r) for r in set(rows)}
        wanted = sorted(set(ids.values()))
        found: dict[str, np.ndarray] = {}
        for a in range(0, len(wanted), BATCH):
            for e in self.client.get(self.name, ids=wanted[a : a + BATCH], output_fields=["vector"]):
                found[e["id"]] = np.asarray(e["vector"], dtype=np.float32)
        return np.stack([found[ids[r]] for r in rows])
