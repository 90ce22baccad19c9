"""Library changes off the request path: one worker thread runs uploads, deletions and sharing
in turn, and records each job's progress for the page to poll.

Questions are answered from the current index all the while (an index update swaps the new
index in only when it is complete). One job at a time, because embedding already uses every
core; a job that waits says how many are ahead of it.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.errors import AssistantError
from assistant.records import IndexReport

log = logging.getLogger(__name__)
KEEP_FINISHED = 200  # finished jobs remembered for their pages to read


@dataclass
class Job:
    """One library change for one user: what it is, how far it got, and what it said."""

    user: str
    title: str  # "notes.txt", "Delete notes.txt"
    work: Callable[[Callable[[str, int, int], None]], tuple[IndexReport | None, list[str]]]
    cleanup: Callable[[], None] = lambda: None  # always run afterwards (temp files)
    id: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    state: str = "waiting"  # waiting, running, done, failed
    stage: str = ""
    done: int = 0
    total: int = 0
    messages: list[str] = field(default_factory=list)
    report: IndexReport | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def over(self) -> bool:
        return self.state in ("done", "failed")

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total


class Jobs:
    """The queue and its worker (started on the first job)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Job] = queue.Queue()
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.changes = 0  # finished jobs so far: pages refresh their library when it moves

    def submit(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.id] = job
            self._order.append(job.id)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="library-jobs", daemon=True)
                self._worker.start()
        self._queue.put(job)
        return job

    def get(self, ids: list[str]) -> list[Job]:
        with self._lock:
            return [self._jobs[i] for i in ids if i in self._jobs]

    def ahead_of(self, job: Job) -> int:
        """How many jobs run or wait before ``job``."""
        with self._lock:
            earlier = self._order[: self._order.index(job.id)] if job.id in self._order else []
            return sum(1 for i in earlier if not self._jobs[i].over)

    def busy(self) -> bool:
        with self._lock:
            return any(not j.over for j in self._jobs.values())

    def wait(self, timeout: float = 60.0) -> bool:
        """Until every job is over (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.busy():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            job.state, job.started = "running", time.time()
            state = "failed"
            try:
                job.report, messages = job.work(job.progress)
                job.messages.extend(messages)
                state = "done"
            except AssistantError as exc:
                job.messages.append(f"not done: {exc}")
            except Exception as exc:  # the worker keeps serving; the error is logged once
                log.error("library job %r failed: %s: %s", job.title, type(exc).__name__, exc)
                log.debug("library job %r failed", job.title, exc_info=True)
                job.messages.append(f"not done: something went wrong ({type(exc).__name__}); the error was logged")
            finally:
                try:
                    job.cleanup()
                except OSError as exc:
                    log.warning("cleaning up after %r: %s", job.title, exc)
                with self._lock:
                    job.finished, job.state = time.time(), state  # over only once its files are cleaned up
                    self.changes += 1
                    finished = [i for i in self._order if self._jobs[i].over]
                    for old in finished[:-KEEP_FINISHED]:
                        self._order.remove(old)
                        del self._jobs[old]
