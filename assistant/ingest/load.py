"""Read a folder of .txt/.md/.pdf/.docx/.html files into raw text, one file at a time.

A file that cannot be read is skipped with a one-line warning; it never stops the others.
Text files need not be UTF-8: charset-normalizer picks the encoding (and we say which).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import CorpusError

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class RawFile:
    """A readable file: its text before cleaning, and what the corpus manifest says of it."""

    source: str
    text: str
    content_hash: str
    title: str = ""
    language: str = ""
    origin: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks (model weights, index files)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def list_files(folder: Path) -> list[Path]:
    """Supported files under ``folder``, sorted, hidden files and folders left out."""
    if not folder.exists():
        raise CorpusError(f"corpus folder {folder} does not exist")
    if not folder.is_dir():
        raise CorpusError(f"corpus path {folder} is not a folder")
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """``corpus/manifest.json``: ``{"file.txt": {"title", "language", "origin"}}``; optional."""
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    docs = data.get("documents", data) if isinstance(data, dict) else {}
    return {k: v for k, v in docs.items() if isinstance(v, dict)}


def read_bytes(path: Path, folder: Path, max_bytes: int) -> tuple[str, bytes] | Skipped:
    """``(source, bytes)`` of one corpus file, or why it was skipped (too large, unreadable)."""
    source = path.relative_to(folder).as_posix()
    try:
        if path.stat().st_size > max_bytes:
            return Skipped(source, f"larger than the {max_bytes / 1_000_000:g} MB limit")
        return source, path.read_bytes()
    except OSError as exc:
        return Skipped(source, f"cannot be read: {exc.strerror or exc}")


def parse(source: str, data: bytes, meta: dict[str, str] | None = None) -> RawFile | Skipped:
    """The text of a file's bytes by its format, with what the corpus manifest says of it."""
    try:
        text, warnings = extract_text(Path(source).suffix.lower(), data)
    except Exception as exc:  # UnreadableFile, or a parser's own error on a damaged file
        return Skipped(source, str(exc) or type(exc).__name__)
    if not text.strip():
        return Skipped(source, "holds no text")
    meta = meta or {}
    title = str(meta.get("title", "")) or embedded_title(Path(source).suffix.lower(), data) or first_line(text)
    return RawFile(source=source, text=text, content_hash=file_hash(data), title=title,
                   language=str(meta.get("language", "")), origin=str(meta.get("origin", "")),
                   warnings=tuple(warnings))


TITLE_CHARS = 160
JUNK_TITLE = re.compile(r"^(untitled|microsoft word\b|document\d*$)|\.(docx?|pdf|tex|rtf|odt|txt)$", re.IGNORECASE)


def embedded_title(suffix: str, data: bytes) -> str:
    """The title a PDF or .docx file names in its own metadata, unless it is a placeholder
    ("Microsoft Word - draft.docx", "Untitled")."""
    title = ""
    try:
        if suffix == ".pdf":
            from pypdf import PdfReader

            info = PdfReader(io.BytesIO(data)).metadata
            title = str(info.title or "") if info else ""
        elif suffix == ".docx":
            import docx

            title = docx.Document(io.BytesIO(data)).core_properties.title or ""
    except Exception:  # damaged metadata: the text itself still names the document
        return ""
    title = " ".join(title.split())
    letters = sum(c.isalpha() for c in title)
    return title[:TITLE_CHARS] if letters >= 3 and not JUNK_TITLE.search(title) else ""


def first_line(text: str) -> str:
    """The document's first line of text, as extracted (before cleaning joins a title to the
    paragraph under it), shortened at a word if long; page numbers and banners are passed over.

    >>> first_line("\\n 12 \\nThe Belt and Road\\nInitiative in Central Asia begins here.")
    'The Belt and Road'
    """
    from assistant.ingest.clean import is_boilerplate

    for line in text.splitlines():
        line = " ".join(line.split())
        if sum(c.isalpha() for c in line) < 3 or is_boilerplate(line):
            continue
        if len(line) <= TITLE_CHARS:
            return line
        return line[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:–—-") + "…"
    return ""


def iter_files(folder: Path, max_bytes: int) -> Iterator[RawFile | Skipped]:
    """Yield a :class:`RawFile` or a :class:`Skipped` for every supported file of ``folder``."""
    manifest = read_manifest(folder)
    for path in list_files(folder):
        got = read_bytes(path, folder, max_bytes)
        yield got if isinstance(got, Skipped) else parse(got[0], got[1], manifest.get(got[0]))


class UnreadableFile(Exception):
    pass


def extract_text(suffix: str, data: bytes) -> tuple[str, list[str]]:
    """Text of one file's bytes, by format; raises :class:`UnreadableFile` with the reason."""
    if suffix in (".txt", ".md"):
        return decode_text(data)
    if suffix in (".html", ".htm"):
        text, warnings = decode_text(data)
        return html_text(text), warnings
    if suffix == ".pdf":
        return pdf_text(data), []
    if suffix == ".docx":
        return docx_text(data), []
    raise UnreadableFile(f"unsupported file type {suffix}")


def decode_text(data: bytes) -> tuple[str, list[str]]:
    if looks_binary(data):
        raise UnreadableFile("is binary, not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnreadableFile("is not UTF-8 and its encoding could not be recognised")
    return str(best), [f"not UTF-8: decoded as {best.encoding}"]


def looks_binary(data: bytes) -> bool:
    # NUL bytes never occur in text in any 8-bit or UTF-8 encoding; a high share of other
    # control bytes means an image or archive renamed to .txt.
    head = data[:8192]
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return bool(head) and controls / len(head) > 0.05


def html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    body = soup.get_text("\n")
    return f"{title}\n\n{body}" if title and title not in body[:500] else body


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("is an encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise UnreadableFile(f"is not a readable PDF ({exc})") from exc
    return "\n\n".join(pages)


def docx_text(data: bytes) -> str:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableFile(f"is not a readable .docx ({exc})") from exc
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(b for b in blocks if b.strip())
