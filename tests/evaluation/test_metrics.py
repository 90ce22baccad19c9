"""Known-answer tests for the evaluation metrics and the evidence matcher (hand-computed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from assistant.evaluation.harness import EvalResult, check_floor
from assistant.evaluation.judge import judge_answers, parse_score
from assistant.evaluation.metrics import (
    aggregate,
    hit_at_k,
    holds_evidence,
    key_share,
    locate,
    ndcg_at_k,
    normalise,
    normalise_with_offsets,
    percentile,
    recall_at_k,
    reciprocal_rank,
)
from assistant.records import Answer, Citation, Passage

DOC = "Intro line.\nThe Digital Silk Road links  China and\nKazakhstan. Big da-\nta matters here."


def passage(start: int, end: int, source: str = "d.txt", text: str | None = None) -> Passage:
    return Passage(
        id=f"{start}",
        source=source,
        title="",
        language="en",
        start=start,
        end=end,
        text=DOC[start:end] if text is None else text,
    )


# --- normalisation and evidence matching ---------------------------------------------------
def test_normalise_lowercases_dehyphenates_and_collapses():
    assert normalise("  Big da-\nta\n\t MATTERS ") == "big data matters"
    assert normalise("Мы не строим  СТЕНЫ") == "мы не строим стены"
    assert normalise("state-owned") == "state-owned"  # a hyphen inside a line stays
    assert normalise("2020-\n2021") == "2020-\n2021".replace("\n", " ")  # only between letters


def test_offsets_point_back_into_the_original():
    text = "A  b-\nc"
    norm, pos = normalise_with_offsets(text)
    assert norm == "a bc"
    assert [text[i] for i in pos] == ["A", " ", "b", "c"]


def test_locate_finds_every_occurrence_in_document_offsets():
    spans = locate("big data", DOC)
    assert len(spans) == 1
    start, end = spans[0]
    assert DOC[start:end] == "Big da-\nta"
    assert locate("China and Kazakhstan", DOC) == ((DOC.index("China"), DOC.index("Kazakhstan") + 10),)
    assert locate("not there", DOC) == ()


def test_evidence_inside_a_passage_is_held_whatever_its_offsets():
    # containment needs no offsets and no document: it is the passage's own text that matters
    p = Passage("x", "other.txt", "", "en", 0, 5, "…links China and\nKazakhstan today")
    assert holds_evidence(p, "china and kazakhstan")
    assert not holds_evidence(p, "big data")


def test_phrase_cut_by_a_chunk_boundary_counts_by_overlap():
    phrase = "links China and Kazakhstan"
    start, end = locate(phrase, DOC)[0]
    mid = start + (end - start) * 2 // 3
    left, right = passage(0, mid), passage(start + 3, len(DOC))  # 2/3 of it, and all but 3 chars
    assert not holds_evidence(left, phrase)  # no containment without the document text
    assert holds_evidence(left, phrase, "d.txt", DOC)
    assert holds_evidence(right, phrase, "d.txt", DOC)
    sliver = passage(end - 3, len(DOC))  # only the last 3 characters: less than half
    assert not holds_evidence(sliver, phrase, "d.txt", DOC)
    other = passage(0, mid, source="elsewhere.txt")
    assert not holds_evidence(other, phrase, "d.txt", DOC)  # offsets only count in the phrase's document


def test_citations_are_matched_like_passages():
    c = Citation(1, "d.txt", "", 12, 40, 0.5, DOC[12:40], "p")
    assert holds_evidence(c, "digital silk road", "d.txt", DOC)


# --- retrieval metrics -----------------------------------------------------------------------
FOUND = [set(), {0}, set(), {0, 1}, set()]  # 2 phrases; phrase 0 at ranks 2 and 4, phrase 1 at 4


def test_hit_at_k():
    assert hit_at_k(FOUND, 1) == 0.0
    assert hit_at_k(FOUND, 2) == 1.0
    assert hit_at_k([], 5) == 0.0


def test_recall_at_k():
    assert recall_at_k(FOUND, 2, 1) == 0.0
    assert recall_at_k(FOUND, 2, 3) == 0.5
    assert recall_at_k(FOUND, 2, 5) == 1.0
    assert recall_at_k(FOUND, 0, 5) == 0.0


def test_reciprocal_rank():
    assert reciprocal_rank(FOUND, 10) == 0.5
    assert reciprocal_rank(FOUND, 1) == 0.0
    assert reciprocal_rank([set(), set(), {0}], 10) == pytest.approx(1 / 3)


def test_ndcg_by_hand():
    # phrase 0 first held at rank 2, phrase 1 first held at rank 4 (rank 4's phrase 0 is no gain)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(FOUND, 2, 10) == pytest.approx(dcg / idcg)  # ≈ 0.5898
    assert ndcg_at_k(FOUND, 2, 3) == pytest.approx((1 / math.log2(3)) / idcg)
    assert ndcg_at_k([{0}], 1, 10) == 1.0
    assert ndcg_at_k([set(), {0}], 1, 10) == pytest.approx(1 / math.log2(3))  # ≈ 0.6309
    assert ndcg_at_k([{0, 1}], 2, 10) == 1.0  # one passage with both phrases: capped at 1
    assert ndcg_at_k([{0}, {0}], 1, 10) == 1.0  # a repeat earns nothing
    assert ndcg_at_k([], 1, 10) == 0.0


# --- answers and aggregation -----------------------------------------------------------------
def test_key_share_is_case_insensitive_containment():
    assert key_share("Более $7 Billion [1].", ["$7 billion"]) == 1.0
    assert key_share("стены и коридоры", ["Стены", "коридоры", "мосты"]) == pytest.approx(2 / 3)
    assert key_share("anything", []) == 0.0


def test_percentile_interpolates_like_numpy():
    assert percentile([10, 20, 30, 40], 50) == 25.0
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert percentile([], 50) is None
    assert percentile([None, 5.0], 50) == 5.0


def row(
    answerable=True,
    hit=1.0,
    recall=1.0,
    rr=1.0,
    ndcg=1.0,
    share=1.0,
    abstained=False,
    citations=1,
    with_evidence=1,
    cited=1,
    phrases=1,
    retrieve_ms=10.0,
    answer_ms=100.0,
):
    correct = abstained if not answerable else (share == 1.0 and not abstained)
    return {
        "answerable": answerable,
        "hit": hit,
        "recall": recall,
        "rr": rr,
        "ndcg": ndcg,
        "key_share": share,
        "abstained": abstained,
        "correct": float(correct),
        "citations": citations,
        "citations_with_evidence": with_evidence,
        "evidence_cited": cited,
        "phrases": phrases,
        "retrieve_ms": retrieve_ms,
        "answer_ms": answer_ms,
    }


def test_aggregate_by_hand():
    rows = [
        row(),  # perfect
        row(
            hit=0.0,
            recall=0.0,
            rr=0.0,
            ndcg=0.0,
            share=0.5,
            citations=2,
            with_evidence=0,
            cited=0,
            phrases=2,
            retrieve_ms=30.0,
        ),
        row(share=0.0, abstained=True, citations=0, with_evidence=0, cited=0, answer_ms=50.0),
        row(
            answerable=False,
            hit=0.0,
            rr=0.0,
            ndcg=0.0,
            share=0.0,
            abstained=True,
            citations=0,
            with_evidence=0,
            cited=0,
            phrases=0,
        ),
        row(
            answerable=False,
            hit=0.0,
            rr=0.0,
            ndcg=0.0,
            share=0.0,
            abstained=False,
            citations=3,
            with_evidence=0,
            cited=0,
            phrases=0,
        ),
    ]
    m = aggregate(rows, k=5)
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["accuracy"] == pytest.approx(2 / 5)  # the perfect one and the abstained unanswerable
    assert m["hit@5"] == pytest.approx(2 / 3)
    assert m["recall@5"] == pytest.approx(2 / 3)
    assert m["answer_key_accuracy"] == pytest.approx(1 / 3)
    assert m["answer_key_recall"] == pytest.approx(0.5)
    # citations of answerable questions only: 1 of 1 + 0 of 2 + none
    assert m["citation_precision"] == pytest.approx(1 / 3)
    assert m["citation_recall"] == pytest.approx(1 / 3)
    assert m["citation_evidence_recall"] == pytest.approx(1 / 3)
    assert m["abstention_unanswerable"] == 0.5
    assert m["false_abstention"] == pytest.approx(1 / 3)
    assert m["retrieve_p50_ms"] == 10.0
    assert m["answer_p50_ms"] == 100.0


def test_aggregate_of_unanswerable_only_has_no_retrieval_figures():
    m = aggregate([row(answerable=False, abstained=True, citations=0, phrases=0)], k=5)
    assert m["hit@5"] is None and m["citation_precision"] is None
    assert m["abstention_unanswerable"] == 1.0 and m["accuracy"] == 1.0


# --- floor -----------------------------------------------------------------------------------
def test_check_floor_reports_each_drop(tmp_path: Path):
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"floors": {"hit@5": 0.6, "accuracy": 0.5, "faithfulness": 0.1}}))
    result = EvalResult(
        metrics={"hit@5": 0.55, "accuracy": 0.5}, primary_metric="accuracy", primary_value=0.5, slices={}
    )
    failed = check_floor(result, floor)
    assert failed == [
        "hit@5 = 0.550 is below the floor 0.600",
        "faithfulness: not measured in this run (floor 0.100)",
    ]
    assert check_floor({"metrics": {"hit@5": 0.7, "accuracy": 0.9, "faithfulness": 0.2}}, floor) == []


def test_committed_floor_names_real_metrics():
    floor = json.loads((Path(__file__).parents[2] / "evals" / "floor.json").read_text())
    names = set(aggregate([row()], k=5))
    assert floor["floors"] and set(floor["floors"]) <= names
    assert all(0 < v <= 1 for v in floor["floors"].values())


# --- optional LLM judge ----------------------------------------------------------------------
def test_parse_score():
    assert parse_score("0.8") == 0.8
    assert parse_score("Score: 1") == 1.0
    assert parse_score("0,5") == 0.5
    assert parse_score("7 out of 10") is None
    assert parse_score("") is None


def test_judge_asks_the_configured_llm_over_its_real_protocol_only_for_answered_questions():
    """The judge talks to a local OpenAI-protocol server (scripted replies) through the same
    LangChain chat model a user's configuration builds; we check what it sends and parses."""
    from assistant.evaluation.harness import Evidence, Question
    from assistant.evaluation.judge import make_chat_model
    from assistant.settings import Settings
    from tests.llm_server import ScriptedLLMServer

    q1 = Question("a", "Q?", "en", ("d",), (Evidence("d", "x"),), ("k",), "factoid", True)
    q2 = Question("b", "Q2?", "en", (), (), (), "unanswerable", False)
    cite = Citation(1, "d", "", 0, 1, 0.1, "source text about Aktau", "p")
    answers = {"a": Answer("Q?", "Aktau is a port [1]", (cite,), False, "en"),
               "b": Answer("Q2?", "no", (), True, "en")}
    with ScriptedLLMServer(["0.9", "Relevance: 0.4"]) as server:
        settings = Settings(llm_provider="openai", llm_base_url=server.openai_url, llm_model="judge",
                            llm_api_key="k", llm_timeout=5)
        scores = judge_answers(make_chat_model(settings), [q1, q2], answers)
        sent = [str(r.body) for r in server.chats]
    assert scores == {"a": {"faithfulness": 0.9, "answer_relevance": 0.4}}
    assert len(sent) == 2  # the abstained, unanswerable question is not judged
    assert "source text about Aktau" in sent[0] and "Aktau is a port [1]" in sent[0]
    assert "Q?" in sent[1]
