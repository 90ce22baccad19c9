from __future__ import annotations

from assistant.indexer import to_document
from assistant.ingest.chunk import chunk_document, split_sentences
from assistant.ingest.language import detect_language
from assistant.ingest.load import RawFile
from tests.conftest import CORPUS


def _docs():
    for path in sorted(CORPUS.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        yield to_document(RawFile(path.name, raw, "h"), 0.8)


def test_passage_offsets_round_trip_on_the_whole_corpus():
    for doc in _docs():
        passages = chunk_document(doc, 700, 100)
        assert passages
        for p in passages:
            assert doc.text[p.start : p.end] == p.text
            assert len(p.text) <= 700


def test_ids_are_content_hashes_known_in_advance():
    # known answer: sha256("a.txt" NUL "0" NUL "First sentence.")[:16], computed once with hashlib
    from assistant.records import Document

    [p] = chunk_document(Document("a.txt", "A", "en", "First sentence.", "h"), 700, 100)
    assert p.id == "fbde15eeeb648994"
    ids = [q.id for d in _docs() for q in chunk_document(d, 700, 100)]
    assert len(set(ids)) == len(ids)


def test_passages_carry_their_section():
    doc = next(d for d in _docs() if d.source.startswith("001"))
    sections = {p.section for p in chunk_document(doc, 700, 100)}
    assert "CONCLUSION" in sections


def test_sentence_split_known_answers():
    text = "R. Dalenov said the tenge fell by 15%. In 2020 GDP fell 2.6% (see No. 1). Итак, т.е. всё. Да!"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "R. Dalenov said the tenge fell by 15%.",
        "In 2020 GDP fell 2.6% (see No. 1).",
        "Итак, т.е. всё.",
        "Да!",
    ]


def test_language_per_chunk():
    assert detect_language("Мы не строим стены — мы строим коридоры.") == "ru"
    assert detect_language("Japan's investment in Kazakhstan's economy has totaled more than $7 billion.") == "en"
    assert detect_language("ВЭБ.РФ и OpenAI") == "ru"
    assert detect_language("12345", default="ru") == "ru"
