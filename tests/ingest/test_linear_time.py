"""Cleaning and chunking take time in proportion to a document's length.

A 0.5 MB upload took a minute to index; most of that is the embedding model, but two steps
were quadratic and came to dominate larger files: the line-break hyphen check searched the
whole document once per hyphen, and each passage scanned every heading before it for its
section. Each test times the step on a document and on one several times longer, and divides
the ratio by the ratio of lengths: about 1 is linear, more is superlinear (CPU time, best of
three, so other load on the machine matters little). Before the fixes: 3.1 and 2.2; after, 1.05
and 1.08.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from assistant.ingest.chunk import chunk_document
from assistant.ingest.clean import clean
from assistant.records import Document

WORDS = ("digital economy Kazakhstan corridor investment railway logistics cooperation platform "
         "цифровой экономики Казахстан коридор инвестиции железная логистика сотрудничество платформа "
         "development infrastructure technology transport trade region initiative").split()


def wrapped_text(size: int, seed: int = 0) -> str:
    """Hard-wrapped lines, many words hyphenated across the line break (as PDFs come out)."""
    rng = random.Random(seed)
    lines, line, total = [], "", 0
    while total < size:
        word = rng.choice(WORDS) + str(rng.randrange(10_000))  # unique-ish words: no dedup
        if len(line) + len(word) > 70:
            cut = len(word) // 2
            lines.append(f"{line} {word[:cut]}-")
            line = word[cut:]
            total += len(lines[-1]) + 1
        else:
            line = f"{line} {word}".strip()
        if rng.random() < 0.01:
            lines.append(line + ".")
            lines.append("")
            line = ""
    return "\n".join(lines)


def headed_text(size: int, seed: int = 0) -> str:
    """Many short sections, each a heading line and a short paragraph."""
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        heading = " ".join(rng.choice(WORDS) for _ in range(3)).capitalize() + f" {rng.randrange(10**6)}"
        body = " ".join(rng.choice(WORDS) for _ in range(5)).capitalize() + "."
        parts.append(f"{heading}\n\n{body}")
        total += len(parts[-1]) + 2
    return "\n\n".join(parts)


def growth(step: Callable[[str], object], make: Callable[[int], str], small: int, factor: int) -> float:
    """How much faster than the length the step's time grows (1: linear)."""
    def cpu(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            step(text)
            best = min(best, time.process_time() - started)
        return best

    a, b = make(small), make(factor * small)
    return cpu(b) / max(cpu(a), 1e-4) / (len(b) / len(a))


def test_cleaning_grows_linearly_with_length():
    assert growth(clean, wrapped_text, 150_000, 4) < 1.6


def test_chunking_grows_linearly_with_length():
    def chunk(text: str):
        return chunk_document(Document("a.txt", "A", "en", text, "h"), 1000, 150)

    assert growth(chunk, headed_text, 100_000, 16) < 1.6
