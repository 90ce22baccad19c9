"""The document library: who owns a document, who may see, delete or share it, and its listing.

Ownership is where the file lives in the corpus folder, so it survives a rebuild and can be
read off a directory listing:

* ``uploads/<user>/<file>`` — *user*'s own upload. Only that user's questions search it
  (``Retriever.visible``) and only that user (or an admin) sees it in the library.
* anything else — the shared corpus, searched for everyone: the articles put there by whoever
  runs the assistant, ``shared/<file>`` (uploads an admin shared with everyone), and files
  added by the Python API without a user.

Sharing an upload moves its file from ``uploads/<user>/`` to ``shared/``; the index update
that follows re-reads it under its new path and reuses its vectors (the vector cache is keyed
by text). Who uploaded and shared what, and when, is kept in ``.library.json`` in the corpus
folder (a dot file, so never indexed).

>>> owner_of("uploads/ann/notes.txt"), owner_of("shared/notes.txt"), owner_of("uploads/old.txt")
('ann', '', '')
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.ingest.clean import to_original
from assistant.ingest.load import extract_text, file_sha256
from assistant.records import Document, Passage

UPLOADS = "uploads"
SHARED = "shared"
RECORDS = ".library.json"
LOCAL_USER = "local"  # who uses a chat that asks for no login


def owner_of(source: str) -> str:
    """The user whose upload ``source`` is (``uploads/<user>/…``), or ``""`` for the shared corpus."""
    parts = source.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == UPLOADS else ""


@dataclass(frozen=True)
class Access:
    """Who is asking, and whether they may act for everyone.

    ``user=None`` is whoever runs the assistant (Python API, command line): everything is
    visible and allowed. The chat always names a user.
    """

    user: str | None = None
    admin: bool = False

    @property
    def operator(self) -> bool:
        return self.user is None

    def sees(self, owner: str) -> bool:
        return self.operator or self.admin or owner in ("", self.user)

    def may_delete(self, owner: str) -> bool:
        return self.operator or self.admin or (owner != "" and owner == self.user)

    def may_share(self, owner: str) -> bool:
        return owner != "" and (self.operator or self.admin)


OPERATOR = Access()


@dataclass(frozen=True)
class LibraryEntry:
    """One document as the library lists it."""

    source: str
    title: str
    language: str
    passages: int
    characters: int
    origin: str  # "corpus", "upload" (someone's own) or "shared upload"
    owner: str = ""  # for an upload: whose it is
    added_by: str = ""
    added_at: str = ""  # ISO 8601, UTC
    shared_by: str = ""
    shared_at: str = ""
    note: str = ""  # what the corpus manifest says of it (e.g. "PDF-extracted article")
    can_delete: bool = False
    can_share: bool = False


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Records:
    """``.library.json``: who added and shared each upload, and when (source → record)."""

    def __init__(self, corpus_dir: Path) -> None:
        self.path = corpus_dir / RECORDS
        self._lock = threading.Lock()

    def read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def update(self, changes: dict[str, dict[str, str] | None]) -> None:
        """Merge ``changes`` (``None`` removes a record) and write the file atomically."""
        with self._lock:
            data = self.read()
            for source, record in changes.items():
                if record is None:
                    data.pop(source, None)
                else:
                    data[source] = {**data.get(source, {}), **record}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".library.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, ensure_ascii=False, indent=1)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise


def entries(documents: dict[str, Document], passages: Iterable[Passage], records: dict[str, dict[str, str]],
            access: Access) -> list[LibraryEntry]:
    """The library as ``access`` may see it: the shared corpus first, then uploads; by title."""
    counts = Counter(p.source for p in passages)
    out = []
    for source, doc in documents.items():
        owner = doc.owner
        if not access.sees(owner):
            continue
        record = records.get(source, {})
        origin = "upload" if owner else ("shared upload" if record else "corpus")
        out.append(LibraryEntry(
            source=source, title=doc.title, language=doc.language, passages=counts.get(source, 0),
            characters=len(doc.text), origin=origin, owner=owner, added_by=record.get("by", ""),
            added_at=record.get("at", ""), shared_by=record.get("shared_by", ""),
            shared_at=record.get("shared_at", ""), note=doc.origin,
            can_delete=access.may_delete(owner), can_share=access.may_share(owner),
        ))
    order = {"corpus": 0, "shared upload": 1, "upload": 2}
    return sorted(out, key=lambda e: (order[e.origin], e.title.casefold(), e.source))


@dataclass(frozen=True)
class DocumentView:
    """A document's text to read, and how citation offsets (into the cleaned text) map into it.

    ``from_file`` — the text as extracted from the file itself, which the offsets shown on the
    source cards point into; otherwise (the file is gone or changed since it was indexed) the
    cleaned text the index holds.
    """

    source: str
    title: str
    text: str
    from_file: bool
    spans: tuple[tuple[int, int, int], ...] = ()

    def locate(self, start: int, end: int) -> tuple[int, int]:
        """``(start, end)`` in the cleaned text → the same characters in :attr:`text`."""
        if not self.from_file:
            return start, end
        a, b = map_span(self.spans, start, end)
        return min(a, len(self.text)), min(b, len(self.text))


_views: OrderedDict[tuple[str, str], str] = OrderedDict()
_views_lock = threading.Lock()
VIEW_CACHE = 8


def view(doc: Document, corpus_dir: Path) -> DocumentView:
    """The document as extracted from its file when the file is unchanged, else its cleaned text."""
    path = corpus_dir / doc.source
    key = (doc.source, doc.content_hash)
    text: str | None = None
    try:
        if path.is_file() and file_sha256(path) == doc.content_hash:
            with _views_lock:
                text = _views.get(key)
            if text is None:
                text, _ = extract_text(path.suffix.lower(), path.read_bytes())
                with _views_lock:
                    _views[key] = text
                    while len(_views) > VIEW_CACHE:
                        _views.popitem(last=False)
    except Exception:  # unreadable now: the indexed text still reads
        text = None
    if text is None:
        return DocumentView(doc.source, doc.title, doc.text, from_file=False)
    return DocumentView(doc.source, doc.title, text, from_file=True, spans=doc.spans)


def map_span(spans: tuple[tuple[int, int, int], ...], start: int, end: int) -> tuple[int, int]:
    """Cleaned-text offsets → offsets in the text extracted from the file (``Document.spans``).
    The end maps through its last character, so characters cleaning dropped right after the
    span (a page number, a banner) are not counted in."""
    if not spans:
        return start, end
    a = to_original(spans, start)
    b = to_original(spans, end - 1) + 1 if end > start else a
    return a, max(a, b)


def record_for(user: str | None, name: str) -> dict[str, Any]:
    return {"by": user or "", "at": now(), "name": name}
