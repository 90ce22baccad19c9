"""BM25 with stemming and cross-script keys, checked against a hand-written reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assistant.lexical import LexicalIndex, analyze


def best(index: LexicalIndex, text: str) -> list[int]:
    """Rows with a positive BM25 score for ``text``, best first."""
    scores = index.scores(analyze(text))
    return [int(i) for i in sorted(range(len(scores)), key=lambda i: -scores[i]) if scores[i] > 0]


def reference_bm25(docs: list[list[str]], query: list[str], k1=1.5, b=0.75) -> list[float]:
    """Lucene's BM25, straight from the formula (the variant bm25s implements by default).

    Lucene leaves the constant ``(k1 + 1)`` out of the numerator; ranking is unchanged.
    """
    n = len(docs)
    avgdl = sum(map(len, docs)) / n
    scores = []
    for d in docs:
        s = 0.0
        for t in set(query):
            df = sum(t in x for x in docs)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = d.count(t)
            s += idf * tf / (tf + k1 * (1 - b + b * len(d) / avgdl))
        scores.append(s)
    return scores


def test_scores_match_the_reference_formula():
    texts = ["Казахстан строит коридоры, а не стены", "Japan invested in Kazakhstan",
             "коридоры и порты Казахстана", "digital silk road"]
    index = LexicalIndex(texts)
    query = "коридоры Казахстана"
    expected = reference_bm25([analyze(t) for t in texts], analyze(query))
    assert list(index.scores(analyze(query))) == pytest.approx(expected, rel=1e-4)


def test_russian_morphology_is_matched():
    index = LexicalIndex(["Сбербанк заявил о переговорах", "Погода в Москве"])
    assert best(index, "переговоры Сбербанка")[0] == 0


def test_transliteration_reaches_across_scripts():
    index = LexicalIndex(["Развитие умных зон типа Хоргоса", "Порт Актау", "Сбербанк и ВЭБ.РФ"])
    assert best(index, "Khorgos")[0] == 0
    assert best(index, "Sberbank")[0] == 2


def test_numbers_in_either_notation():
    index = LexicalIndex(["ВВП сократился на 2,6% в 2020 году", "рост на 3%"])
    assert best(index, "GDP fell by 2.6%")[0] == 0


def test_no_match_and_empty_query():
    index = LexicalIndex(["alpha beta"])
    assert best(index, "gamma") == []
    assert best(index, "") == []


def test_saved_index_opens_memory_mapped_and_scores_the_same(tmp_path):
    texts = ["Развитие умных зон типа Хоргоса", "Порт Актау на Каспии", "Khorgos dry port grew in 2020", "alpha beta"]
    built = LexicalIndex(texts)
    built.save(tmp_path)
    opened = LexicalIndex.open(tmp_path)
    assert opened.size == built.size == 4
    for terms in (analyze("порт Хоргос"), analyze("Khorgos port 2020"), ["unknown"]):
        np.testing.assert_allclose(opened.scores(terms), built.scores(terms))
    assert dict(opened.idf) == dict(built.idf) and "~khorgo" in opened.idf
    assert opened.cross_script(["Aktau"], 5) == built.cross_script(["Aktau"], 5) != []
    assert isinstance(opened.bm25.scores["data"], np.memmap)
