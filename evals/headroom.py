"""How far the extractive composer's own evidence can go: ceilings measured on the main set.

    python evals/headroom.py                 # about 15 minutes on 2 cores
    python evals/headroom.py --no-curve      # without the learning curve (about 4 minutes)

Issue 10 asks for held-out accuracy ≥ 0.8 and abstention ≥ 0.8 at false abstention ≤ 0.1. This
asks, with the same 5 folds and the same fitting as ``evals/tune_answers.py``, where the shortfall
lies, and whether more of what the composer already reads could close it:

1. **Cross-validated figures** of the composer as fitted (the baseline).
2. **Perfect abstention**: the same answers, abstaining exactly on the unanswerable questions. The
   accuracy this reaches is the most that any answerability decision could add.
3. **Perfect sentence choice**: the share of answerable questions with a sentence holding an answer
   key or evidence phrase among the candidates (the retrieved passages' sentences): what a perfect
   reader of the same passages could answer.
4. **The answerability model's own separation**, out of fold: its ROC AUC, and the abstention it
   reaches at each false-abstention rate, with the threshold chosen after the fact on the held
   folds themselves (an optimistic bound: no threshold fitted on training folds does better).
5. **A learning curve** (optional): cross-validated accuracy when each fold's model is fitted on a
   share of its training questions. Flat: more questions of the same kind would not close the gap.

The held-out set is never read here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tune_answers import (
    FOLDS,
    ROOT,
    Assistant,
    ExtractiveComposer,
    figures,
    load_cases,
    make_folds,
    out_of_fold,
)


def roc_table(rows: list[dict], rates: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)) -> tuple[float, list[tuple]]:
    """AUC of ``p_answerable`` for answerable against not, and at each false-abstention rate the most
    abstention on the unanswerable questions that any threshold reaches (the numbers-missing rule
    kept, as the composer applies it)."""
    from sklearn.metrics import roc_auc_score

    y = np.array([r["answerable"] for r in rows], dtype=bool)
    p = np.array([r["p_answerable"] for r in rows])
    missing = np.array([r["missing"] for r in rows])
    auc = float(roc_auc_score(y, p))
    table = []
    for rate in rates:
        best = (0.0, 0.0, 0.0)
        for t in np.unique(np.concatenate([[0.0], p, [1.0]])):
            refuse = (p < t) | missing
            false = float(refuse[y].mean())
            if false <= rate + 1e-12 and float(refuse[~y].mean()) > best[1]:
                best = (float(t), float(refuse[~y].mean()), false)
        table.append((rate, *best))
    return auc, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=Path, default=ROOT / "evals" / "questions.jsonl")
    ap.add_argument("--no-curve", action="store_true", help="skip the learning curve")
    args = ap.parse_args()
    if "holdout" in args.questions.name:
        sys.exit("the held-out set is never tuned on, nor measured for ceilings")
    bot = Assistant()
    retriever = bot.retriever()
    texts = {s: d.text for s, d in retriever.index.documents.items()}
    base = ExtractiveComposer(retriever, bot.settings.max_answer_sentences)
    cases = load_cases(retriever, args.questions, bot.settings.top_k)
    folds = make_folds(len(cases))  # the folds of evals/tune_answers.py

    rows = out_of_fold(cases, folds, base, texts)
    cv = figures(rows)
    print(f"{len(cases)} questions ({sum(c.question.answerable for c in cases)} answerable), {FOLDS}-fold CV")
    print("1. cross-validated: " + ", ".join(f"{k} {v:.3f}" for k, v in cv.items()))

    answerable = [r for r in rows if r["answerable"]]
    right = sum(1 for r in answerable if not r["abstained"] and r["key_share"] == 1.0)
    perfect = (right + sum(1 for r in rows if not r["answerable"])) / len(rows)
    print(f"2. perfect abstention: accuracy {perfect:.3f} (answerable answered right {right}/{len(answerable)}, "
          f"every unanswerable one refused)")

    reachable = [c for c in cases if c.question.answerable]
    held = sum(1 for c in reachable if c.labels.sum())
    print(f"3. perfect sentence choice: {held}/{len(reachable)} answerable questions ({held / len(reachable):.3f}) "
          f"have a sentence holding a key or evidence phrase among the candidates; the composer answers "
          f"{right} of them right")

    auc, table = roc_table(rows)
    print(f"4. answerability out of fold: ROC AUC {auc:.3f}")
    for rate, t, abstention, false in table:
        print(f"   false abstention ≤ {rate:.2f}: abstention at most {abstention:.3f} "
              f"(threshold {t:.3f}, false abstention {false:.3f})")

    if not args.no_curve:
        print("5. learning curve (share of each fold's training questions → CV accuracy / abstention):")
        for share in (0.5, 0.75):
            f = figures(out_of_fold(cases, folds, base, texts, share=share))
            print(f"   {share:.2f} → {f['accuracy']:.3f} / {f['abstention']:.3f}", flush=True)
        print(f"   1.00 → {cv['accuracy']:.3f} / {cv['abstention']:.3f}")


if __name__ == "__main__":
    main()
