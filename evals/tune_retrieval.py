"""Fit retrieval settings on the main question set by k-fold cross-validation, and measure legs.

    python evals/tune_retrieval.py                 # the grid below, 5-fold CV on evals/questions.jsonl
    python evals/tune_retrieval.py --legs          # what each leg adds (hit@5 / MRR@10 by language pair)
    python evals/tune_retrieval.py --questions evals/holdout.jsonl --legs   # the same, as a check only
    python evals/tune_retrieval.py --sentences     # small-to-big: rank passages by their best sentence?

Every configuration is scored on the answerable questions by hit@5 and MRR@10 (objective: their
mean). For each fold the configuration best on the other folds is scored on the held one; the
mean of those is the honest estimate of the chosen settings, and the configuration best on the
whole set is what ``Settings`` defaults to. The held-out set is never tuned on.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections import defaultdict
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import Assistant  # noqa: E402
from assistant.evaluation.harness import load_questions, pair_of  # noqa: E402
from assistant.evaluation.metrics import hit_at_k, holds_evidence, reciprocal_rank  # noqa: E402
from assistant.lexicon import load_lexicon  # noqa: E402
from assistant.retrieve import Retriever, SearchOptions  # noqa: E402

GRID = {
    "dense_weight": [0.3, 0.4, 0.55, 0.7],
    "names_weight": [0.0, 0.1, 0.3],
    "candidates": [20, 40],
}
LEG_SETS = ["dense", "bm25", "dense,bm25", "dense,bm25,names", "dense,bm25,names,translation"]
PAIRS = ("en→en", "ru→ru", "en→ru", "ru→en")


def per_question(retriever: Retriever, questions, texts, languages) -> list[tuple[str, float, float]]:
    """(pair, hit@5, reciprocal rank@10) per answerable question."""
    out = []
    for q in questions:
        top = retriever.search(retriever.analyse(q.question), k=10)
        found = [{j for j, ev in enumerate(q.evidence)
                  if holds_evidence(p, ev.text, ev.document, texts.get(ev.document))} for p in top]
        out.append((pair_of(q, languages), hit_at_k(found, 5), reciprocal_rank(found, 10)))
    return out


def summary(rows, idx=None) -> tuple[float, float]:
    chosen = [rows[i] for i in idx] if idx is not None else rows
    return float(np.mean([r[1] for r in chosen])), float(np.mean([r[2] for r in chosen]))


class SentenceDense:
    """The dense leg scoring a passage by its sentence vectors (small-to-big) instead of its own."""

    name = "dense"

    def __init__(self, inner, index, how: str) -> None:
        self.inner, self.index, self.how = inner, index, how
        sizes = [len(s) for s in index.sentences]
        self.owner = np.repeat(np.arange(len(sizes)), sizes)
        self.vectors = np.asarray(index.sentence_vectors, dtype=np.float32)

    def rank(self, query, depth, keep=None):
        from assistant.retrieve.fusion import Ranking

        best = np.full(self.index.size, -1.0, dtype=np.float32)
        np.maximum.at(best, self.owner, self.vectors @ query.vector)
        own = self.index.vectors_of(list(range(self.index.size))) @ query.vector
        scores = best if self.how == "best sentence" else (best + own) / 2
        if self.inner.calibrate:  # the same per-language centring as the passage-vector leg
            languages = self.inner.languages
            for lang in set(languages.tolist()):
                scores[languages == lang] -= np.median(scores[languages == lang])
        return Ranking.top("dense", scores + 1.0, depth, keep)  # +1: Ranking.top keeps positive scores


def compare_sentence_vectors(base, options, lexicon, run, run_with) -> None:
    print("dense leg".ljust(34) + "dense alone".rjust(14) + "hybrid".rjust(14) + "   (hit@5/MRR@10)")
    for how in ("passage vector", "best sentence", "mean of both"):
        cells = []
        for legs in (("dense",), ("dense", "bm25", "names")):
            opts = replace(options, legs=legs)
            if how == "passage vector":
                rows = run(opts)
            else:
                r = Retriever(base.index, base.embedder, opts, lexicon=lexicon)
                r.legs["dense"] = SentenceDense(r.legs["dense"], base.index, how)
                rows = run_with(r)
            cells.append(summary(rows))
        print(how.ljust(34) + "".join(f"{h:.3f}/{m:.3f}".rjust(14) for h, m in cells))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=Path, default=ROOT / "evals" / "questions.jsonl")
    ap.add_argument("--legs", action="store_true", help="measure leg combinations instead of tuning")
    ap.add_argument("--sentences", action="store_true",
                    help="compare passage vectors with sentence vectors (best sentence, or the mean of both)")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    bot = Assistant()
    base = bot.retriever()
    documents = base.index.documents
    texts = {s: d.text for s, d in documents.items()}
    languages = {s: d.language for s, d in documents.items()}
    questions = [q for q in load_questions(args.questions) if q.answerable]
    lexicon = load_lexicon(bot.settings.lexicon)
    options = SearchOptions.from_settings(bot.settings)
    print(f"{args.questions.name}: {len(questions)} answerable questions · {base.embedder.info.describe()}")

    def run(opts: SearchOptions):
        return per_question(Retriever(base.index, base.embedder, opts, lexicon=lexicon), questions, texts, languages)

    def run_with(retriever: Retriever):
        return per_question(retriever, questions, texts, languages)

    if args.sentences:
        compare_sentence_vectors(base, options, lexicon, run, run_with)
        return

    if args.legs:
        header = "legs".ljust(34) + "all".rjust(12) + "".join(p.rjust(12) for p in PAIRS)
        print(header + "   (hit@5/MRR@10)")
        for legs in LEG_SETS:
            rows = run(replace(options, legs=tuple(legs.split(","))))
            cells = [summary(rows)] + [summary([r for r in rows if r[0] == p]) if any(r[0] == p for r in rows)
                                       else (float("nan"), float("nan")) for p in PAIRS]
            print(legs.ljust(34) + "".join(f"{h:.3f}/{m:.3f}".rjust(12) for h, m in cells))
        return

    names = list(GRID)
    configs = [dict(zip(names, values, strict=True)) for values in itertools.product(*GRID.values())]
    results = {}
    for cfg in configs:
        valid = {f.name for f in fields(SearchOptions)}
        opts = replace(options, **{k: v for k, v in cfg.items() if k in valid},
                       lexical_weight=1 - cfg["dense_weight"])
        results[tuple(cfg.items())] = run(opts)
        h, m = summary(results[tuple(cfg.items())])
        print(f"{cfg}  hit@5={h:.3f} MRR@10={m:.3f}", flush=True)

    order = list(range(len(questions)))
    random.Random(0).shuffle(order)
    folds = [order[i :: args.folds] for i in range(args.folds)]
    held_scores = []
    for i, held in enumerate(folds):
        train = [j for f in folds[:i] + folds[i + 1 :] for j in f]
        best = max(results, key=lambda c: sum(summary(results[c], train)))
        held_scores.append(summary(results[best], held))
        print(f"fold {i + 1}: chose {dict(best)} → held-out fold hit@5={held_scores[-1][0]:.3f} "
              f"MRR@10={held_scores[-1][1]:.3f}")
    best = max(results, key=lambda c: sum(summary(results[c])))
    cv = np.mean(held_scores, axis=0)
    print(f"cross-validated estimate: hit@5={cv[0]:.3f} MRR@10={cv[1]:.3f}")
    print(f"best on the whole set: {dict(best)} hit@5={summary(results[best])[0]:.3f} "
          f"MRR@10={summary(results[best])[1]:.3f}")
    by_pair = defaultdict(list)
    for pair, h, m in results[best]:
        by_pair[pair].append((h, m))
    print("  by pair: " + ", ".join(f"{p} {np.mean([x[0] for x in v]):.3f}/{np.mean([x[1] for x in v]):.3f}"
                                    for p, v in sorted(by_pair.items())))


if __name__ == "__main__":
    main()
