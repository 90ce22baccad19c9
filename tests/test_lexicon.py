"""The English–Russian lexicon and dictionary query translation.

Parsing is tested on a small dictd dictionary written here, in Mueller's layout, so it runs
anywhere; the cross-lingual retrieval tests use Debian's real ``mueller7-dict`` (installed by
``make setup``): they skip without it, and fail under ``CI``, which must have it.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.lexicon import B64, DEFAULT_PATHS, Lexicon, load_lexicon, translations
from assistant.translate import Translator
from tests.conftest import standin_settings, unavailable

ARTICLES = {
    "build": "build\n   [bɪld]\n   1. _n.\n      1) конструкция; форма\n      2) телосложение\n"
             "      3) _текст. образование\n   2. _v. (built)\n      1) строить, сооружать; to build a fire"
             " разводить огонь\n      2) создавать\n      3) вить (гнёзда)\n",
    "polish": "polish\n   [↗pɘlɪʃ] _v.\n   1) полировать, шлифовать\n",
    "Polish": "Polish\n   [↗pɜʊlɪʃ] _a. польский\n",
    "invest": "invest\n   [ɪn↗vɛst] _v.\n   1) помещать, вкладывать деньги, капитал (in)\n"
              "   2) _разг. покупать что-л.\n",
    "built": "built\n   [bɪlt] _p. и _p-p. от build 2\n",
    "role": "role\n   [rɜʊl] _n. _фр. роль\n",
    "ball": "ball\n   _I  [bɘ:l]\n      1. _n.\n         1) шар\n         2) мяч\n         3) ядро\n"
            "   _II [bɘ:l] _n. бал, танцевальный вечер\n",
    "logistics": "logistics\n   [lɜʊ↗dʒɪstɪks] _n. _pl. _воен. тыл и снабжение\n",
    "china": "china\n   [↗tʃaɪnɜ] _n. фарфор\n",
}


def b64(n: int) -> str:
    digits = ""
    while True:
        digits = B64[n % 64] + digits
        n //= 64
        if not n:
            return digits


def write_dictd(folder: Path, articles: dict[str, str]) -> Path:
    data, lines = b"", ["00-database-info\tA\tB"]
    for head, text in articles.items():
        raw = text.encode()
        lines.append(f"{head.lower()}\t{b64(len(data))}\t{b64(len(raw))}")
        data += raw
    base = folder / "mini"
    (folder / "mini.index").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "mini.dict.dz").write_bytes(gzip.compress(data))
    return base


def test_an_article_gives_its_first_senses_of_each_part_of_speech():
    assert translations(ARTICLES["build"]) == [
        ("конструкция", 1.0), ("форма", 1.0), ("строить", 1.0), ("сооружать", 1.0),
        ("телосложение", 0.6), ("создавать", 0.6)]  # no domain-labelled sense, no example phrase


def test_later_words_of_a_phrase_and_labelled_senses_weigh_less_or_nothing():
    found = dict(translations(ARTICLES["invest"]))
    assert found == {"помещать": 1.0, "вкладывать": 1.0, "капитал": 1.0, "деньги": 0.5}
    assert "покупать" not in found  # the _разг. sense


def test_dictd_files_are_read_and_case_picks_the_article(tmp_path: Path):
    lexicon = Lexicon.from_dictd(write_dictd(tmp_path, ARTICLES))
    assert len(lexicon) == 8  # polish holds two articles; the header entry is skipped
    assert lexicon.russian("polish")[0] == ("полировать", 1.0)
    assert lexicon.russian("Polish") == (("польский", 1.0),)
    assert lexicon.russian("Japan") == (("япония", 1.0),), "country names come from ISO 3166"
    assert lexicon.russian("zebra") == ()


def test_references_homonyms_and_labels(tmp_path: Path):
    lexicon = Lexicon.from_dictd(write_dictd(tmp_path, ARTICLES))
    assert ("строить", 0.9) in lexicon.russian("built"), "``от build`` is followed one hop"
    assert lexicon.russian("role") == (("роль", 1.0),), "an origin label is no rarer meaning"
    assert ("бал", 1.0) in lexicon.russian("ball"), "the second homonym counts on its own"
    assert ("ядро", 0.6) not in lexicon.russian("ball"), "two senses per homonym"
    # every sense labelled: the first one still counts, at half weight
    assert lexicon.russian("logistics")[0] == ("тыл", 0.5)


def test_question_words_and_sentence_initial_names(tmp_path: Path):
    lexicon = Lexicon.from_dictd(write_dictd(tmp_path, ARTICLES))
    translator = Translator(lexicon, {"кита": 1.0, "~kitay": 1.0, "стро": 1.0, "build": 1.0, "china": 1.0})
    # first in the sentence, ``China`` is read as a word (``фарфор``); the corpus never says
    # фарфор, so it is read as the country's name instead
    concepts = translator.concepts("China builds roads")
    assert [c.source for c in concepts] == ["china", "build"]
    assert dict(concepts[0].terms) == {"кита": 1.0, "~kitay": 0.6}
    # an inflected question word (``каких``) is no concept
    assert [c.source for c in translator.concepts("Каких строит?")] == ["стро"]


def test_missing_or_disabled_lexicon_is_none_with_a_warning(tmp_path: Path, caplog):
    assert load_lexicon("none") is None
    with caplog.at_level(logging.WARNING, logger="assistant.lexicon"):
        assert load_lexicon(str(tmp_path / "nothing")) is None
    assert "not found" in caplog.text
    (tmp_path / "broken.index").write_text("only a header\n", encoding="utf-8")
    (tmp_path / "broken.dict").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="assistant.lexicon"):
        assert load_lexicon(str(tmp_path / "broken")) is None
    assert "cannot read the lexicon" in caplog.text


def test_translator_keeps_only_terms_the_corpus_uses(tmp_path: Path):
    lexicon = Lexicon.from_dictd(write_dictd(tmp_path, ARTICLES))
    vocabulary = {"стро": 1.0, "~stroit": 1.0, "капита": 1.0, "build": 1.0, "invest": 1.0}
    translator = Translator(lexicon, vocabulary)
    concepts = {c.source: dict(c.terms) for c in translator.concepts("Who builds and invested?")}
    assert concepts == {"build": {"стро": 1.0, "~stroit": 0.6}, "invest": {"капита": 1.0}}
    # and backwards: a Russian word reaches the English headwords whose stems the corpus uses
    back = {c.source: dict(c.terms) for c in translator.concepts("Кто строит дома?")}
    assert back == {"стро": {"build": 1.0}}


def real_lexicon():
    base = DEFAULT_PATHS[0]
    if not Path(base + ".index").exists():
        unavailable("mueller7-dict is not installed (make lexicon)")
    return base


@pytest.fixture(scope="module")
def monolingual(tmp_path_factory) -> Assistant:
    assistant = Assistant(settings=standin_settings(index_dir=tmp_path_factory.mktemp("mono"), lexicon="none"))
    assistant.index()
    return assistant


def test_english_question_reaches_the_russian_article_through_the_dictionary(standin_bot, monolingual):
    bot = standin_bot
    real_lexicon()
    question = "What does the Kazakh expert say Kazakhstan builds instead of walls?"
    assert "004_6d287214e003b8ec.txt" in [p.source for p in bot.retrieve(question, k=3)]
    result = bot.answer(question)
    assert not result.abstained and "строим коридоры" in result.answer
    # without the dictionary only the English article's words match
    assert "004_6d287214e003b8ec.txt" not in [p.source for p in monolingual.retrieve(question, k=5)]


def test_russian_question_reaches_the_english_passage_through_the_dictionary(standin_bot, monolingual):
    bot = standin_bot
    real_lexicon()
    question = "Какой объём инвестиций Японии в экономику Казахстана?"
    assert any("7 billion" in p.text for p in bot.retrieve(question, k=3))
    assert not any("7 billion" in p.text for p in monolingual.retrieve(question, k=3))


def test_status_names_the_lexicon(bot, standin_bot, monolingual):
    real_lexicon()
    assert bot.status().lexicon.startswith("mueller7") and standin_bot.status().lexicon.startswith("mueller7")
    assert monolingual.status().lexicon == "none"
    assert not any("lexicon" in w for w in monolingual.status().warnings), "switched off on purpose"
