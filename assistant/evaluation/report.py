"""The evaluation's outputs: ``report.md``, ``report.json`` and ``chart.png`` (stable names)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.evaluation.harness import EvalResult

LOWER_IS_BETTER = {"false_abstention", "retrieve_p50_ms", "retrieve_p95_ms", "answer_p50_ms", "answer_p95_ms"}
LABELS = {
    "accuracy": "accuracy (primary)",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "answer_key_accuracy": "answer-key accuracy",
    "answer_key_recall": "answer-key recall",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "citation_evidence_recall": "cited share of evidence",
    "abstention_unanswerable": "abstention (unanswerable)",
    "false_abstention": "false abstention ↓",
    "retrieve_p50_ms": "retrieve p50 ms ↓",
    "retrieve_p95_ms": "retrieve p95 ms ↓",
    "answer_p50_ms": "answer p50 ms ↓",
    "answer_p95_ms": "answer p95 ms ↓",
    "faithfulness": "faithfulness (LLM-judged)",
    "answer_relevance": "answer relevance (LLM-judged)",
}
SHORT = {
    "accuracy": "accuracy",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "answer_key_accuracy": "key acc.",
    "citation_precision": "cite P",
    "citation_recall": "cite R",
    "abstention_unanswerable": "abstain (unans.)",
    "false_abstention": "false abst.",
}


def headline(k: int) -> list[str]:
    return [
        "accuracy",
        f"hit@{k}",
        f"recall@{k}",
        "mrr@10",
        "ndcg@10",
        "answer_key_accuracy",
        "answer_key_recall",
        "citation_precision",
        "citation_recall",
        "citation_evidence_recall",
        "abstention_unanswerable",
        "false_abstention",
        "retrieve_p50_ms",
        "retrieve_p95_ms",
        "answer_p50_ms",
        "answer_p95_ms",
    ]


def slice_columns(k: int) -> list[str]:
    """The headline figures a per-slice table has room for: no latencies, no secondary recalls."""
    omitted = {"answer_key_recall", "citation_evidence_recall"}
    return [c for c in headline(k) if c not in omitted and not c.endswith("_ms")]


def label(name: str) -> str:
    return LABELS.get(name, name)


def fmt(value: Any, name: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if name.endswith("_ms"):
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def ratio(a: Any, b: Any) -> str:
    if a is None or b is None or not b:
        return "—"
    return f"{a / b:.2f}×"


def comparison_rows(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    """The headline table: figure, assistant, then each baseline and assistant/baseline."""
    k = result.meta["k"]
    header = ["figure", "assistant"]
    for b in result.baselines.values():
        header += [b["label"], "ratio"]
    rows = []
    names = headline(k) + [n for n in ("faithfulness", "answer_relevance") if n in result.metrics]
    for name in names:
        mine = result.metrics.get(name)
        row = [label(name), fmt(mine, name)]
        for b in result.baselines.values():
            theirs = b["metrics"].get(name)
            row += [fmt(theirs, name), ratio(mine, theirs)]
        rows.append(row)
    return header, rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _slice_table(slices: dict[str, dict[str, Any]], k: int, title: str) -> str:
    cols = slice_columns(k)
    header = [title, "n", *[SHORT.get(c, c) for c in cols]]
    rows = [[name, str(m["questions"]), *[fmt(m.get(c), c) for c in cols]] for name, m in slices.items()]
    return _table(header, rows)


def _systems_by_pair(result: EvalResult, k: int) -> str:
    systems = {"assistant": {"label": "assistant", "slices": result.slices}, **result.baselines}
    header = ["pair", "n"]
    for metric in (f"hit@{k}", "accuracy"):
        header += [f"{metric} {s['label'].split()[0]}" for s in systems.values()]
    rows = []
    for pair, m in result.slices["pair"].items():
        row = [pair, str(m["questions"])]
        for metric in (f"hit@{k}", "accuracy"):
            row += [fmt(s["slices"]["pair"].get(pair, {}).get(metric), metric) for s in systems.values()]
        rows.append(row)
    return _table(header, rows)


def markdown(result: EvalResult) -> str:
    m, meta, k = result.metrics, result.meta, result.meta["k"]
    out = [
        "# Evaluation report",
        "",
        f"- **Question file:** `{meta['questions']}` — {m['questions']} questions "
        f"({m['answerable']} answerable, {m['unanswerable']} unanswerable)",
        f"- **Embedding model:** {result.model}",
        f"- **Answers:** {meta['composer']} · **k** = {k} · retrieval scored to depth {meta['depth']}",
        f"- **Date:** {meta['date']} · **commit:** `{meta['commit'] or 'unknown'}` · "
        f"run took {meta['seconds']} s",
        "- **Settings:** " + ", ".join(f"{key}={v}" for key, v in meta["settings"].items()),
        f"- **Primary metric:** `{result.primary_metric}` = **{fmt(result.primary_value)}** — "
        "the share of all questions handled right (answerable: every answer key in a non-abstained "
        "answer; unanswerable: abstained). It is the one figure that moving the abstention threshold "
        "cannot game in either direction, and it scores what a user sees, not only what was retrieved.",
        "",
        "## Assistant vs baselines",
        "",
        "Same corpus, same index, same embedding model, same k. Ratio = assistant ÷ baseline "
        "(↓: lower is better). Baselines are answered by the assistant's own extractive composer over "
        "their top-k passages, so their answer figures differ from the assistant's only by retrieval.",
        "",
        _table(*comparison_rows(result)),
        "",
    ]
    for name, system in meta["systems"].items():
        out.append(f"- `{name}`: {system}")
    prev = meta.get("previous")
    if prev:
        out += [
            "",
            f"## Before / after (previous run in this folder: {prev.get('date')}, "
            f"commit `{prev.get('commit') or 'unknown'}`)",
            "",
        ]
        if prev.get("model") != result.model:
            out += [f"Note: the previous run used a different model ({prev.get('model')}).", ""]
        rows = []
        for name in headline(k):
            before, now = prev["metrics"].get(name), m.get(name)
            delta = f"{now - before:+.3f}" if before is not None and now is not None else "—"
            if name.endswith("_ms") and delta != "—":
                delta = f"{now - before:+.0f}"
            rows.append([label(name), fmt(before, name), fmt(now, name), delta])
        out.append(_table(["figure", "before", "after", "Δ"], rows))
    out += [
        "",
        "## By question language → document language (assistant)",
        "",
        _slice_table(result.slices["pair"], k, "pair"),
        "",
        "## By question type (assistant)",
        "",
        _slice_table(result.slices["type"], k, "type"),
        "",
    ]
    if result.baselines:
        out += [
            f"## hit@{k} and accuracy by language pair, every system",
            "",
            _systems_by_pair(result, k),
            "",
        ]
    out += [
        "![figures by system and slice](chart.png)",
        "",
        *abstention_section(result),
        "## What the figures mean",
        "",
        f"- **hit@{k}**: share of answerable questions with at least one evidence-holding passage "
        f"in the top {k}.",
        f"- **recall@{k}**: share of a question's evidence phrases held by the top {k} "
        "(mean over questions).",
        "- **MRR@10**: mean of 1/rank of the first evidence-holding passage in the top 10 (0 if none).",
        "- **nDCG@10**: binary nDCG over evidence phrases — a rank gains the number of phrases first held "
        "there; ideal = one new phrase per rank (min(phrases, 10) ranks); capped at 1. "
        "Independent of chunking.",
        "- **answer-key accuracy**: share of answerable questions whose (non-abstained) answer "
        "contains every answer key (case-insensitive); **answer-key recall**: mean share of keys contained.",
        "- **citation precision**: share of all citations (answerable questions) whose passage "
        "holds evidence; **citation recall**: share of answerable questions with at least one "
        "evidence-holding citation; "
        "**cited share of evidence**: mean share of a question's evidence phrases that are cited.",
        "- **abstention (unanswerable)**: share of unanswerable questions answered with an abstention; "
        "**false abstention**: share of answerable questions abstained on. Unanswerable questions count "
        "in these (and in accuracy) only.",
        "- **latency**: p50/p95 wall time per question after one warm-up query, each call embedding its "
        "question afresh; retrieve = `retrieve(q, 10)`, answer = `answer(q, k)` (the assistant's only).",
        "- A passage **holds evidence** when a normalised evidence phrase "
        "(lowercased, `-\\n` between letters removed, whitespace collapsed) is inside its normalised "
        "text, or when its [start, end) covers at least half of the phrase's location in the cleaned "
        "document (a phrase cut by a chunk boundary).",
        "",
        f"**LLM-judged metrics** (faithfulness, answer relevance): {meta['llm_judged']}.",
        "",
    ]
    if meta["evidence_not_in_index"]:
        out += [
            "**Evidence phrases not found in the indexed (cleaned) text** — only exact containment "
            "can match them:",
            "",
        ]
        out += [f"- {e}" for e in meta["evidence_not_in_index"]] + [""]
    missed = [r for r in result.questions if r["answerable"] and not r["hit"]]
    wrong = [r for r in result.questions if r["answerable"] and r["hit"] and not r["correct"]]
    leaked = [r for r in result.questions if not r["answerable"] and not r["abstained"]]
    out += [
        "## Where the assistant fails",
        "",
        f"- no evidence in the top {k} ({len(missed)}): "
        + (
            ", ".join(
                f"{r['id']} ({r['pair']}, first hit rank {r['first_hit_rank'] or '>10'})" for r in missed
            )
            or "none"
        ),
        f"- evidence retrieved but answer keys missing or abstained ({len(wrong)}): "
        + (", ".join(f"{r['id']}{' (abstained)' if r['abstained'] else ''}" for r in wrong) or "none"),
        f"- unanswerable but answered ({len(leaked)}): " + (", ".join(r["id"] for r in leaked) or "none"),
        "",
        "Per-question rows (ranks, keys, citations, latency) are in `report.json`.",
        "",
    ]
    return "\n".join(out)


def chart(result: EvalResult, path: Path) -> None:
    """Two panels: headline figures per system, and the assistant's figures per slice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    k = result.meta["k"]
    metrics = slice_columns(k)
    systems = [("assistant", result.metrics)] + [
        (b["label"], b["metrics"]) for b in result.baselines.values()
    ]
    slice_rows = [(f"{name}  (n={m['questions']})", m) for name, m in result.slices["pair"].items()]
    slice_rows += [(f"{name}  (n={m['questions']})", m) for name, m in result.slices["type"].items()]

    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(13, 6.5 + 0.42 * len(slice_rows)),
        gridspec_kw={"height_ratios": [5, 0.42 * len(slice_rows) + 1.5]},
    )
    x = np.arange(len(metrics))
    width = 0.8 / len(systems)
    colors = ["#1f6fb4", "#9bbbd9", "#f0a35e", "#8fbf7f"]
    for i, (name, m) in enumerate(systems):
        values = [m.get(metric) if m.get(metric) is not None else 0.0 for metric in metrics]
        bars = top.bar(
            x + (i - (len(systems) - 1) / 2) * width,
            values,
            width,
            label=name,
            color=colors[i % len(colors)],
            edgecolor="black" if i == 0 else "none",
            linewidth=0.6,
        )
        if i == 0:
            for bar, v in zip(bars, values, strict=True):
                top.text(
                    bar.get_x() + bar.get_width() / 2,
                    v + 0.015,
                    f"{v:.2f}",
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    fontweight="bold",
                )
    top.set_xticks(x, [SHORT.get(m, m) for m in metrics], fontsize=9)
    top.set_ylim(0, 1.1)
    top.set_ylabel("share of questions")
    top.grid(axis="y", alpha=0.3)
    top.legend(ncol=len(systems), loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False, fontsize=9)
    top.set_title(
        f"Assistant vs baselines (k={k}; false abst.: lower is better; "
        "abstain/false abst. over unanswerable/answerable questions)",
        fontsize=11,
    )

    grid = np.array([[np.nan if m.get(c) is None else m.get(c) for c in metrics] for _, m in slice_rows])
    goodness = grid.copy()  # colour by how good a cell is: green good, red bad
    for c, metric in enumerate(metrics):
        if metric in LOWER_IS_BETTER:
            goodness[:, c] = 1.0 - goodness[:, c]
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#eeeeee")
    bottom.imshow(np.ma.masked_invalid(goodness), cmap=cmap, vmin=-0.15, vmax=1.15, aspect="auto")
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1]):
            v = grid[r, c]
            bottom.text(c, r, "—" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=9)
    bottom.set_xticks(range(len(metrics)), [SHORT.get(m, m) for m in metrics], fontsize=9)
    bottom.set_yticks(range(len(slice_rows)), [name for name, _ in slice_rows], fontsize=9)
    bottom.axhline(len(result.slices["pair"]) - 0.5, color="black", linewidth=1.2)
    bottom.set_title(
        "Assistant by question→document language (top) and by question type (bottom)", fontsize=11
    )
    fig.suptitle(
        f"{Path(result.meta['questions']).name} · {result.meta.get('model_short', result.model)} · "
        f"{result.meta['date']} · {result.meta['commit']}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def abstention_curve(result: EvalResult) -> list[dict[str, float]]:
    """Abstention as a detector of unanswerable questions, at every threshold on the composer's
    answerability probability (``confidence``): precision (abstentions that were right), recall
    (unanswerable questions abstained on) and false abstention. Abstentions forced by a rule (a number
    the answer never states) stay abstentions at every threshold."""
    threshold = result.meta.get("abstain_threshold")
    rows = result.questions
    if threshold is None or not rows:
        return []
    forced = [r["abstained"] and r["confidence"] >= threshold for r in rows]
    unanswerable = sum(not r["answerable"] for r in rows)
    answerable = len(rows) - unanswerable
    points = []
    for t in sorted({0.0, 1.0, threshold, *(round(r["confidence"], 4) for r in rows)}):
        abstains = [f or r["confidence"] < t for f, r in zip(forced, rows, strict=True)]
        right = sum(a and not r["answerable"] for a, r in zip(abstains, rows, strict=True))
        wrong = sum(a and r["answerable"] for a, r in zip(abstains, rows, strict=True))
        points.append({
            "threshold": t,
            "precision": right / (right + wrong) if right + wrong else 1.0,
            "recall": right / unanswerable if unanswerable else 0.0,
            "false_abstention": wrong / answerable if answerable else 0.0,
        })
    return points


def abstention_section(result: EvalResult) -> list[str]:
    points = abstention_curve(result)
    if not points:
        return []
    threshold = result.meta["abstain_threshold"]
    at = next(p for p in points if p["threshold"] == threshold)
    shown = {id(at): at}
    for target in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        nearest = min(points, key=lambda p: abs(p["threshold"] - target))
        shown.setdefault(id(nearest), nearest)
    rows = [[f"{p['threshold']:.2f}" + (" ← in use" if p is at else ""), fmt(p["precision"]), fmt(p["recall"]),
             fmt(p["false_abstention"])] for p in sorted(shown.values(), key=lambda p: p["threshold"])]
    return [
        "## Abstention: precision and recall by threshold",
        "",
        f"The composer abstains when its fitted answerability probability is below **{threshold:.3f}** "
        "(fitted with cross-validation on the main set, `evals/tune_answers.py`), or when the question names a "
        "number its answer never states. Precision: abstentions on unanswerable questions ÷ all "
        "abstentions; recall: unanswerable questions abstained on.",
        "",
        _table(["threshold", "precision", "recall", "false abstention"], rows),
        "",
        "![abstention precision/recall curve](abstention.png)",
        "",
    ]


def abstention_chart(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = abstention_curve(result)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    if points:
        ax.plot([p["recall"] for p in points], [p["precision"] for p in points], marker=".", color="#1a4fd6",
                label="abstention, all thresholds")
        at = next(p for p in points if p["threshold"] == result.meta["abstain_threshold"])
        ax.scatter([at["recall"]], [at["precision"]], s=90, color="#e05a00", zorder=3,
                   label=f"in use: p < {at['threshold']:.2f}")
    ax.set_xlabel("recall (unanswerable questions abstained on)")
    ax.set_ylabel("precision (abstentions that were right)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(f"Abstention on {Path(result.meta['questions']).name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(result: EvalResult, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"report": out_dir / "report.md", "json": out_dir / "report.json", "chart": out_dir / "chart.png",
             "abstention": out_dir / "abstention.png"}
    result.paths = paths
    paths["json"].write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    paths["report"].write_text(markdown(result), encoding="utf-8")
    chart(result, paths["chart"])
    abstention_chart(result, paths["abstention"])
    return paths


def summary_markdown(result: EvalResult) -> str:
    """The short table for the README (docs/eval.md): headline figures, assistant vs baselines."""
    k = result.meta["k"]
    names = [*slice_columns(k), "retrieve_p50_ms", "answer_p50_ms"]
    header = ["figure", "assistant", *[b["label"] for b in result.baselines.values()]]
    rows = [
        [
            label(n),
            f"**{fmt(result.metrics.get(n), n)}**",
            *[fmt(b["metrics"].get(n), n) for b in result.baselines.values()],
        ]
        for n in names
    ]
    m = result.metrics
    return "\n".join(
        [
            f"`{Path(result.meta['questions']).name}`: {m['questions']} questions "
            f"({m['answerable']} answerable, {m['unanswerable']} unanswerable), k = {k}, "
            f"{result.meta['date']}, commit `{result.meta['commit']}`, "
            f"{result.meta.get('model_short', result.model)}.",
            "",
            _table(header, rows),
        ]
    )


def rerender(json_path: Path) -> EvalResult:
    """Write report.md and chart.png again from a report.json (no re-run)."""
    from assistant.evaluation.harness import EvalResult

    result = EvalResult.from_dict(json.loads(Path(json_path).read_text(encoding="utf-8")))
    out = Path(json_path).parent
    (out / "report.md").write_text(markdown(result), encoding="utf-8")
    chart(result, out / "chart.png")
    abstention_chart(result, out / "abstention.png")
    return result


if __name__ == "__main__":  # python -m assistant.evaluation.report evals/reports/report.json
    import sys

    print(summary_markdown(rerender(Path(sys.argv[1]))))
