"""Vectors cached by content hash, so unchanged text is never embedded twice.

One SQLite file per index folder (``vectors.sqlite``), one table per embedder fingerprint: a
text's vector is stored the moment its batch is embedded and committed, so a build killed
half-way resumes from what it had already embedded, and an edited document only embeds its new
passages and sentences. Vectors are raw float32 bytes (no pickle).

>>> import numpy as np, tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     cache = VectorCache(pathlib.Path(d) / "v.sqlite", "model-a", 3)
...     cache.put({"h1": np.array([1, 0, 0], np.float32)})
...     got = cache.get(["h1", "h2"])
...     cache.close()
>>> sorted(got), got["h1"].tolist()
(['h1'], [1.0, 0.0, 0.0])
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

BATCH = 500  # SQLite's host-parameter limit is 999 in old builds


class VectorCache:
    def __init__(self, path: Path, fingerprint: str, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self.table = "v_" + hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._db.commit()
        self._lock = threading.Lock()

    def get(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors of the given content hashes (absent keys are left out)."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), BATCH):
                part = keys[i : i + BATCH]
                marks = ",".join("?" * len(part))
                for key, blob in self._db.execute(f"SELECT key, vector FROM {self.table} WHERE key IN ({marks})",
                                                  part):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self.dimension,):
                        out[key] = vector
        return out

    def put(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Store and commit (a crash after this keeps them)."""
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()]
        with self._lock:
            self._db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", rows)
            self._db.commit()

    def keep_only(self, keys: Iterable[str]) -> int:
        """Forget every vector whose text is not in ``keys`` (after a build); how many went."""
        with self._lock:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM live")
            self._db.executemany("INSERT OR IGNORE INTO live VALUES (?)", ((k,) for k in keys))
            gone = self._db.execute(f"DELETE FROM {self.table} WHERE key NOT IN (SELECT key FROM live)").rowcount
            self._db.execute("DELETE FROM live")
            self._db.commit()
        return gone

    def close(self) -> None:
        with self._lock:
            self._db.close()
