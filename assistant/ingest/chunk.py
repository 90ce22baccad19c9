"""Split cleaned documents into passages, and passages into sentences, with exact offsets.

Passages come from LangChain's ``RecursiveCharacterTextSplitter``, told to prefer paragraph,
then line, then sentence boundaries; each passage records where it sits in the cleaned text,
so ``document.text[p.start:p.end] == p.text`` always holds.

>>> from assistant.records import Document
>>> doc = Document("a.txt", "A", "en", "First sentence. Second one.\\n\\nNext paragraph.", "h")
>>> [(p.start, p.end, p.text) for p in chunk_document(doc, size=30, overlap=0)]
[(0, 27, 'First sentence. Second one.'), (29, 44, 'Next paragraph.')]
>>> split_sentences("Dr. R. Dalenov said so. Then 2.5% fell! Ok")
[(0, 23), (24, 39), (40, 42)]
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import re

from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.ingest.clean import is_heading
from assistant.ingest.language import detect_language
from assistant.records import Document, Passage

SEPARATORS = [r"\n\n", r"\n", r"(?<=[.!?…])\s+", r";\s", r",\s", r"\s", ""]

# Abbreviations after which a period does not end a sentence (Russian and English).
ABBREVIATIONS = {
    "г", "гг", "т", "е", "д", "др", "пр", "см", "стр", "рис", "млн", "млрд", "трлн", "руб",
    "тыс", "им", "ул", "проф", "акад", "no", "vol", "pp", "p", "dr", "mr", "mrs", "ms", "prof",
    "etc", "e", "i", "vs", "fig", "st", "inc", "ltd", "jr", "sr",
}  # fmt: skip
SENTENCE_END = re.compile(r"[.!?…]+[»\"”')\]]*(?=\s+|$)|\n+")


def passage_id(source: str, start: int, text: str) -> str:
    return hashlib.sha256(f"{source}\0{start}\0{text}".encode()).hexdigest()[:16]


def _splitter(size: int, overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=overlap,
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
        add_start_index=True,
    )


REFERENCES = "references"
REFERENCE_HEADING = re.compile(
    r"^\s*(references|bibliography|literature|works cited|sources|список (использованной |цитируемой )?"
    r"литературы|литература|библиографи\w*|источники)\s*:?\s*$", re.IGNORECASE)


def _sections(text: str) -> list[tuple[int, str]]:
    """(offset, heading) for every paragraph that reads as a section heading. A reference list's
    heading ("REFERENCES", "ЛИТЕРАТУРА", …) becomes the section ``references``: document structure
    the answer composer knows not to quote as prose."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        if is_heading(m.group()):
            heading = m.group().strip()
            out.append((m.start(), REFERENCES if REFERENCE_HEADING.match(heading) else heading))
    return out


def _parts(text: str, headings: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``text`` cut where a section starts or ends a reference list, so that no passage mixes
    prose with reference entries: ``(offset, part)`` pairs."""
    cuts = [0]
    for i, (offset, name) in enumerate(headings):
        after = headings[i - 1][1] if i else ""
        if (name == REFERENCES) != (after == REFERENCES) and offset > 0:
            cuts.append(offset)
    cuts.append(len(text))
    return [(a, text[a:b]) for a, b in itertools.pairwise(cuts) if text[a:b].strip()]


def chunk_document(doc: Document, size: int = 700, overlap: int = 100) -> list[Passage]:
    """Passages of ``doc``, in document order."""
    passages: list[Passage] = []
    headings = _sections(doc.text)
    offsets = [offset for offset, _ in headings]
    pieces = []
    for offset, part in _parts(doc.text, headings):
        for piece in _splitter(size, overlap).create_documents([part]):
            pieces.append((piece.page_content, offset + int(piece.metadata.get("start_index", -1)), offset))
    cursor = 0
    for text, start, offset in pieces:
        if start < offset or doc.text[start : start + len(text)] != text:
            start = doc.text.find(text, max(cursor - size, 0))
            if start < 0:  # cannot happen for contiguous splits; never emit a wrong offset
                continue
        cursor = start + len(text)
        if is_heading(text):
            continue  # a lone heading carries no answer; it still labels the passages after it
        # the last heading at or before the passage (a bisection: a scan per passage made
        # chunking quadratic in a document of many short headed sections)
        at = bisect.bisect_right(offsets, start) - 1
        section = headings[at][1] if at >= 0 else ""
        passages.append(
            Passage(
                id=passage_id(doc.source, start, text),
                source=doc.source,
                title=doc.title,
                language=detect_language(text, default=doc.language),
                start=start,
                end=start + len(text),
                text=text,
                section=section if section != text.strip() else "",
            )
        )
    return passages


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` in ``text``, whitespace excluded.

    Why by hand: NLTK's punkt needs a model download; this regex knows the abbreviations,
    initials ("R. Dalenov") and decimal numbers of these articles, and keeps exact offsets.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in SENTENCE_END.finditer(text):
        end = m.end()
        if m.group().startswith("."):
            word = re.search(r"(\w+)\.$", text[start : m.start() + 1])
            token = word.group(1).lower() if word else ""
            nxt = text[end:].lstrip()[:1]
            if token in ABBREVIATIONS or (len(token) == 1 and token.isalpha()) or (nxt and nxt.islower()):
                continue
        _append(spans, text, start, end)
        start = end
    _append(spans, text, start, len(text))
    return spans


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped)))
