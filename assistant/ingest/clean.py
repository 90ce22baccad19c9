"""Turn PDF-extracted or scraped text into clean paragraphs, keeping a map back to the original.

What it undoes, each seen in the default corpus:

* hyphenation across line breaks: ``"экономиче-\\nского"`` becomes ``"экономического"``
  (a hyphen the document also uses inside a line, as in ``научно-технических``, is kept);
* hard-wrapped lines: joined into paragraphs unless a line ends a sentence and the next
  starts a new one, or the next is a list item;
* site boilerplate and stray page furniture: banners, "Найти в Дзене", page numbers,
  running headers (short lines repeated three times or more), journal page headers;
* repeated blocks: a paragraph whose word trigrams (80% or more) recur in later paragraphs
  is dropped, so a repeated reference list or a teaser of the opening is indexed once.

>>> c = clean("Евразийского экономиче-\\nского союза.\\n\\nНайти в Дзене\\n")
>>> c.text
'Евразийского экономического союза.'
>>> c.to_original(c.text.index("союза"))
30

Why by hand: no maintained library does dehyphenation and boilerplate removal while keeping
character offsets into the source, which citations need.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

BOILERPLATE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^i?\s*Надоели баннеры\?",
        r"^i?\s*Не можете найти то, что вам нужно\?",
        r"^Найти в Дзене$",
        r"^Оглавление$",
        r"^Научная статья на тему\b",
        r"Текст научной (статьи|работы) (по специальности|на тему)",
        r"^Аннотация научной статьи по\b",
        r"^Статья проверена программой Антиплагиат",
        r"^CC BY(-[A-Z]{2})*$",
        r"^(Подписаться|Поделиться|Читать также|Реклама)$",
        r"\bISSN \d{4}-\d{3}[\dX]\b.*\(print\)",  # journal page header
    )
]
PAGE_FURNITURE = re.compile(r"^[-–—]?\s*\d{1,4}\s*$|^[^\w«\"“(]{0,3}$")
TERMINAL = tuple(".!?…:;»\"”)")
BULLETS = "[•●▪◦·*–—-]"  # the marks a bulleted line opens with (a character class)
LIST_ITEM = re.compile(rf"^(?:{BULLETS}\s|\d{{1,2}}[.)]\s|[a-zа-я][.)]\s)")
HYPHEN_BREAK = re.compile(r"(\w)-$")  # (a soft hyphen at a line end is made a "-" first)
WORD_AT_END = re.compile(r"(\w+)-$")
WORD_AT_START = re.compile(r"^(\w+)")
WORD = re.compile(r"\w+")
COMPOUND = re.compile(r"\w+(?:-\w+)+")


@dataclass
class Cleaned:
    """Cleaned text plus spans ``(clean_start, original_start, length)`` of copied runs."""

    text: str
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    dropped_lines: int = 0
    dropped_duplicates: int = 0

    def to_original(self, pos: int) -> int:
        """Offset in the original text of the character at ``pos`` in the cleaned text
        (``pos`` may be an exclusive end: one past the last character maps one past its origin)."""
        return to_original(self.spans, pos)


def to_original(spans: Sequence[tuple[int, int, int]], pos: int) -> int:
    """Map a cleaned-text offset through ``spans`` (as stored in ``Document.spans``)."""
    if not spans:
        return pos
    i = max(bisect.bisect_right([s[0] for s in spans], pos) - 1, 0)
    start, orig, length = spans[i]
    if pos >= start + length:  # an exclusive end, or a separator inserted after this span
        return orig + length
    return orig + max(pos - start, 0)


class _Builder:
    """Appends pieces of the original (with their offset) or inserted separators."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, int]] = []
        self.length = 0

    def copy(self, text: str, orig_start: int) -> None:
        offset = 0
        for piece in text.split("\u00ad"):
            if piece:
                self.spans.append((self.length, orig_start + offset, len(piece)))
                self.parts.append(piece)
                self.length += len(piece)
            offset += len(piece) + 1

    def insert(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def build(self) -> tuple[str, list[tuple[int, int, int]]]:
        return "".join(self.parts), self.spans


@dataclass
class _Line:
    text: str  # stripped
    start: int  # offset of text in the original


def _lines(raw: str) -> list[_Line | None]:
    """Stripped lines with their offsets; ``None`` for blank lines."""
    out: list[_Line | None] = []
    pos = 0
    for line in raw.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        stripped = body.strip()
        if stripped:
            out.append(_Line(stripped, pos + body.index(stripped)))
        else:
            out.append(None)
        pos += len(line)
    return out


def is_boilerplate(line: str) -> bool:
    return any(p.search(line) for p in BOILERPLATE) or bool(PAGE_FURNITURE.match(line))


def _running_headers(lines: list[_Line | None]) -> set[str]:
    # Short lines repeated three or more times are page headers ("Yang Liyun"), not content.
    counts = Counter(ln.text for ln in lines if ln is not None and len(ln.text) <= 60)
    return {text for text, n in counts.items() if n >= 3 and not LIST_ITEM.match(text)}


class _Vocabulary:
    """The document's words and in-line hyphenated word pairs, collected once.

    (It was a string searched for every line-break hyphen, which made cleaning quadratic in
    the document's length: 4.7 s of 8.4 s for a 2 MB hard-wrapped text.)
    """

    def __init__(self, lines: Sequence[str]) -> None:
        self.words: set[str] = set()
        self.compounds: set[tuple[str, str]] = set()
        for line in lines:
            self.words.update(WORD.findall(line))
            for chain in COMPOUND.findall(line):
                parts = chain.split("-")
                self.compounds.update(pairwise(parts))


def _keeps_hyphen(left: str, right: str, vocabulary: _Vocabulary) -> bool:
    # A real compound ("научно-технических") shows up elsewhere in the document with its
    # hyphen inside a line; a line-break hyphen only shows up joined, or not at all.
    return (left, right) in vocabulary.compounds and f"{left}{right}" not in vocabulary.words


def _join(prev: str, nxt: str, vocabulary: _Vocabulary) -> str:
    """How line ``prev`` continues into ``nxt``: ``""`` (dehyphenate), ``" "`` or ``"\\n"``."""
    if HYPHEN_BREAK.search(prev) and nxt[:1].islower():
        left = WORD_AT_END.search(prev)
        right = WORD_AT_START.search(nxt)
        if left and right and _keeps_hyphen(left.group(1), right.group(1), vocabulary):
            return "-"
        return ""
    if LIST_ITEM.match(nxt):
        return "\n"
    if prev.endswith(TERMINAL) and not nxt[:1].islower():
        return "\n"
    return " "


def _paragraphs(lines: list[_Line | None], vocabulary: _Vocabulary) -> list[list[tuple[str, int, str]]]:
    """Group kept lines into paragraphs: each a list of (line, offset, separator-before).

    A blank line ends a paragraph, except where a page break cut a sentence: the text before
    it has no closing punctuation and the text after it starts in lower case.
    """
    paragraphs: list[list[tuple[str, int, str]]] = []
    current: list[tuple[str, int, str]] = []
    gap = False
    for line in lines:
        if line is None:
            gap = True
            continue
        if current:
            prev = current[-1][0]
            if gap and not (line.text[:1].islower() and not prev.endswith(TERMINAL)):
                sep = "\n"
            else:
                sep = _join(prev, line.text, vocabulary)
            if sep == "\n":
                paragraphs.append(current)
                current = []
                sep = ""
            current.append((line.text, line.start, sep))
        else:
            current.append((line.text, line.start, ""))
        gap = False
    if current:
        paragraphs.append(current)
    return paragraphs


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class _DuplicateFilter:
    """Drops a paragraph whose word trigrams are mostly found in the paragraphs after it.

    Run from the last paragraph to the first, so the later, complete copy survives: a
    repeated reference list keeps one copy, and a site's teaser that splices together the
    article's opening paragraphs (003 in the default corpus) goes, while those paragraphs
    stay. Short paragraphs (under three words) are only dropped when repeated exactly.
    """

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self.exact: set[str] = set()
        self.trigrams: set[tuple[str, ...]] = set()

    def seen(self, text: str) -> bool:
        words = _words(text)
        key = " ".join(words)
        if not key:
            return False
        if key in self.exact:
            return True
        self.exact.add(key)
        if len(words) < 3:
            return False
        grams = {tuple(words[i : i + 3]) for i in range(len(words) - 2)}
        if len(grams & self.trigrams) / len(grams) >= self.threshold:
            return True
        self.trigrams |= grams
        return False


def clean(raw: str, dedup_threshold: float = 0.8) -> Cleaned:
    """Clean ``raw``; see the module docstring for what is undone."""
    # Soft hyphens: at a line end one is a hyphenation break (same length, so offsets hold);
    # inside a line the builder drops it without splitting the word.
    raw = raw.replace("\u00ad\n", "-\n")
    lines = _lines(raw)
    headers = _running_headers(lines)
    dropped = 0
    kept: list[_Line | None] = []
    for line in lines:
        if line is not None and (line.text in headers or is_boilerplate(line.text)):
            dropped += 1
            continue
        kept.append(line)
    vocabulary = _Vocabulary([ln.text for ln in kept if ln is not None])

    paragraphs = _paragraphs(kept, vocabulary)
    dedup = _DuplicateFilter(dedup_threshold)
    keep = [not dedup.seen("".join(sep + text for text, _, sep in p)) for p in reversed(paragraphs)][::-1]
    duplicates = keep.count(False)

    builder = _Builder()
    for paragraph, wanted in zip(paragraphs, keep, strict=True):
        if not wanted:
            continue
        if builder.length:
            builder.insert("\n\n")
        for i, (text, start, sep) in enumerate(paragraph):
            if i and sep == "":
                # dehyphenated: drop the trailing hyphen of the previous line
                builder.parts[-1] = builder.parts[-1][:-1]
                span_start, orig, length = builder.spans[-1]
                builder.spans[-1] = (span_start, orig, length - 1)
                builder.length -= 1
            elif i and sep == "-":
                pass  # the previous line already ends with the kept hyphen
            elif i:
                builder.insert(sep)
            builder.copy(text, start)
    text, spans = builder.build()
    return Cleaned(text=text, spans=spans, dropped_lines=dropped, dropped_duplicates=duplicates)


_HEADING_END = tuple(".,;!?")


def is_heading(paragraph: str) -> bool:
    """A short line with no sentence punctuation at its end: a section title."""
    line = paragraph.strip()
    if not line or "\n" in line or len(line) > 120 or line.endswith(_HEADING_END):
        return False
    letters = [c for c in line if c.isalpha()]
    if len(letters) < 3:
        return False
    upper = sum(c.isupper() for c in letters) / len(letters)
    return upper > 0.6 or len(line.split()) <= 12
