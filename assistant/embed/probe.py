"""Facts about a model or this machine that are measured once and remembered.

* whether a model reads Russian and English into one space — measured, never guessed from its
  name: it must match each sentence to its translation among the others, both ways;
* whether the bundled engine runs on this CPU — its instruction set, then a real embedding in a
  child process (an illegal instruction kills the child, not this process).

Answers are stamped in ``$XDG_CACHE_HOME/assistant/stamps.json`` under a key that changes
whenever what was measured changes (weights, engine file, CPU), so each costs its time once.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

_LOCK = threading.Lock()

# Six everyday sentences and their translations, on subjects far from the corpus.
PARALLEL = (
    ("The weather is cold today.", "Сегодня холодная погода."),
    ("The central bank raised interest rates.", "Центральный банк повысил процентные ставки."),
    ("My brother plays football on Sundays.", "Мой брат играет в футбол по воскресеньям."),
    ("The river flows into the sea.", "Река впадает в море."),
    ("She is reading a book in the library.", "Она читает книгу в библиотеке."),
    ("Trains to the capital are delayed.", "Поезда в столицу задерживаются."),
)
MATCH_SHARE = 0.8  # all-MiniLM-L6-v2 matches 1 in 6; multilingual-e5-small 6 in 6


def stamp_file() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "assistant" / "stamps.json"


def cached_stamp(key: str, compute: Callable[[], bool]) -> bool:
    """``compute()``, remembered under ``key`` (a read-only home only costs a recompute)."""
    path = stamp_file()
    with _LOCK:
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        if isinstance(known, dict) and isinstance(known.get(key), bool):
            return known[key]
    value = bool(compute())
    with _LOCK, contextlib.suppress(OSError):
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        known = known if isinstance(known, dict) else {}
        known[key] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".stamps.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(known, fh)
        os.replace(tmp, path)
    return value


def reads_both_languages(embed: Callable[[Sequence[str]], np.ndarray]) -> bool:
    """Whether ``embed`` (texts → unit rows) matches English sentences to their Russian
    translations, and back, for at least ``MATCH_SHARE`` of :data:`PARALLEL`.

    >>> import numpy as np
    >>> same_space = lambda texts: np.eye(6)[: len(texts)]          # a translation lands on its original
    >>> reads_both_languages(same_space)
    True
    >>> calls = iter([np.eye(12)[:6], np.eye(12)[6:]])             # Russian lands somewhere else entirely
    >>> reads_both_languages(lambda texts: next(calls))
    False
    """
    english = embed([e for e, _ in PARALLEL])
    russian = embed([r for _, r in PARALLEL])
    sims = english @ russian.T
    n = len(PARALLEL)
    forward = float(np.mean(sims.argmax(axis=1) == np.arange(n)))
    backward = float(np.mean(sims.argmax(axis=0) == np.arange(n)))
    return min(forward, backward) >= MATCH_SHARE


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``); empty where they cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()
