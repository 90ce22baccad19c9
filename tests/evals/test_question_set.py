"""Validation of the evaluation question sets (evals/questions.jsonl, evals/holdout.jsonl).

Checks the record format, that every evidence phrase and answer key really occurs in the
documents it cites (after undoing line-break hyphenation and collapsing whitespace), and the
minimum counts of the mix (unanswerable, cross-lingual, cross-document multi-hop).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
EVALS = ROOT / "evals"
MAIN = EVALS / "questions.jsonl"
HOLDOUT = EVALS / "holdout.jsonl"

KEYS = {"id", "question", "language", "documents", "evidence", "answer_keys", "type", "answerable"}
TYPES = {"factoid", "numeric", "list", "why", "multi-hop", "unanswerable"}
LANGUAGES = {"ru", "en"}
DOC_LANGUAGE = {"000": "ru", "001": "en", "002": "en", "003": "ru", "004": "ru"}
# Lines the product strips as site boilerplate; evidence must never come from them.
BANNERS = ("Надоели баннеры", "Найти в Дзене", "Не можете найти то, что вам нужно")


def _corpus_dir() -> Path:
    local = ROOT / "corpus"
    if local.is_dir() and any(local.glob("*.txt")):
        return local
    return ROOT.parent / "shared" / "corpus"


CORPUS = _corpus_dir()

_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])-\n(?=[^\W\d_])")
_WS = re.compile(r"\s+")


def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


@cache
def raw(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


@cache
def normalised(name: str) -> str:
    """Document text as the checks see it: de-hyphenated across line breaks, whitespace collapsed."""
    return collapse(_HYPHEN_BREAK.sub("", raw(name))).casefold()


@cache
def lines(name: str) -> tuple[str, ...]:
    return tuple(collapse(line).casefold() for line in raw(name).splitlines())


def occurs(phrase: str, name: str) -> bool:
    return collapse(phrase).casefold() in normalised(name)


def in_one_line(phrase: str, name: str) -> bool:
    needle = collapse(phrase).casefold()
    return any(needle in line for line in lines(name))


def load(path: Path) -> list[dict]:
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:  # pragma: no cover - reported as failure
                    pytest.fail(f"{path.name}:{number}: invalid JSON: {exc}")
    return records


MAIN_RECORDS = load(MAIN)
HOLDOUT_RECORDS = load(HOLDOUT)
ALL_RECORDS = [(MAIN.name, r) for r in MAIN_RECORDS] + [(HOLDOUT.name, r) for r in HOLDOUT_RECORDS]


def doc_language(name: str) -> str:
    return DOC_LANGUAGE[name[:3]]


def test_corpus_found() -> None:
    names = sorted(p.name for p in CORPUS.glob("*.txt"))
    assert len(names) == 5, names
    assert {n[:3] for n in names} == set(DOC_LANGUAGE)


def test_ids_unique_across_files() -> None:
    ids = [r["id"] for _, r in ALL_RECORDS]
    duplicates = [i for i, c in Counter(ids).items() if c > 1]
    assert not duplicates, duplicates
    assert all(re.fullmatch(r"q\d{3}", r["id"]) for r in MAIN_RECORDS)
    assert all(re.fullmatch(r"h\d{3}", r["id"]) for r in HOLDOUT_RECORDS)


def test_questions_unique() -> None:
    questions = [collapse(r["question"]).casefold() for _, r in ALL_RECORDS]
    duplicates = [q for q, c in Counter(questions).items() if c > 1]
    assert not duplicates, duplicates


@pytest.mark.parametrize(("source", "record"), ALL_RECORDS, ids=[r["id"] for _, r in ALL_RECORDS])
def test_record(source: str, record: dict) -> None:
    assert set(record) == KEYS, f"{source}: keys {sorted(record)}"
    assert isinstance(record["question"], str) and record["question"].strip()
    assert record["language"] in LANGUAGES
    assert record["type"] in TYPES
    assert isinstance(record["answerable"], bool)
    assert isinstance(record["documents"], list)
    assert isinstance(record["evidence"], list)
    assert isinstance(record["answer_keys"], list)
    # the question's script matches its declared language
    cyrillic = len(re.findall(r"[А-Яа-яЁё]", record["question"]))
    latin = len(re.findall(r"[A-Za-z]", record["question"]))
    assert (cyrillic > latin) == (record["language"] == "ru"), record["question"]

    if not record["answerable"]:
        assert record["type"] == "unanswerable"
        assert record["documents"] == []
        assert record["evidence"] == []
        assert record["answer_keys"] == []
        return

    assert record["type"] != "unanswerable"
    docs = record["documents"]
    assert len(docs) >= 1 and len(set(docs)) == len(docs)
    for name in docs:
        assert (CORPUS / name).is_file(), name
    if record["type"] == "multi-hop":
        assert len(record["evidence"]) >= 2
    else:
        assert len(docs) == 1
    assert 1 <= len(record["evidence"]) <= 3
    assert 1 <= len(record["answer_keys"]) <= 3

    cited = set()
    for item in record["evidence"]:
        assert set(item) == {"document", "text"}, item
        name, text = item["document"], item["text"]
        assert name in docs, f"evidence from {name} not listed in documents"
        assert text.strip()
        assert occurs(text, name), f"evidence not in {name}: {text!r}"
        assert in_one_line(text, name), f"evidence spans a line break in {name}: {text!r}"
        assert not any(b.casefold() in text.casefold() for b in BANNERS)
        cited.add(name)
    assert cited == set(docs), "every listed document needs at least one evidence phrase"

    for key in record["answer_keys"]:
        assert isinstance(key, str) and key.strip()
        assert any(occurs(key, name) for name in docs), f"answer key not in documents: {key!r}"
        assert any(in_one_line(key, name) for name in docs), f"answer key spans a line break: {key!r}"


def _cross_lingual(record: dict) -> str | None:
    if not record["answerable"]:
        return None
    langs = {doc_language(d) for d in record["documents"]}
    if record["language"] not in langs:
        return f"{record['language']}->{'+'.join(sorted(langs))}"
    return None


def test_main_set_counts() -> None:
    records = MAIN_RECORDS
    assert len(records) >= 80
    assert sum(not r["answerable"] for r in records) >= 15
    directions = Counter(_cross_lingual(r) for r in records)
    assert directions["ru->en"] >= 8, directions
    assert directions["en->ru"] >= 8, directions
    cross_doc = [r for r in records if r["type"] == "multi-hop" and len(r["documents"]) >= 2]
    assert len(cross_doc) >= 3
    covered = {d for r in records for d in r["documents"]}
    assert {d[:3] for d in covered} == set(DOC_LANGUAGE), covered


def test_holdout_counts() -> None:
    records = HOLDOUT_RECORDS
    assert len(records) >= 30
    assert sum(not r["answerable"] for r in records) >= 6
    assert any(_cross_lingual(r) == "ru->en" for r in records)
    assert any(_cross_lingual(r) == "en->ru" for r in records)
    assert any(r["type"] == "multi-hop" and len(r["documents"]) >= 2 for r in records)
