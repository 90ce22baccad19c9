"""How good the assistant is, in numbers: retrieval, answers, citations, abstention, latency —
by language pair and question type, beside BM25, dense and the LangChain tutorial pipeline.

>>> from assistant import default_assistant                                     # doctest: +SKIP
>>> from assistant.evaluation import run_evaluation                             # doctest: +SKIP
>>> r = run_evaluation(default_assistant(), Path("evals/questions.jsonl"), Path("out"))  # doctest: +SKIP
"""

from assistant.evaluation.harness import (
    PRIMARY_METRIC,
    EvalResult,
    Question,
    check_floor,
    load_questions,
    run_evaluation,
)
from assistant.evaluation.metrics import holds_evidence, normalise

__all__ = [
    "PRIMARY_METRIC",
    "EvalResult",
    "Question",
    "check_floor",
    "holds_evidence",
    "load_questions",
    "normalise",
    "run_evaluation",
]
