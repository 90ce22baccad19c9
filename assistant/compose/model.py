"""The extractive composer's two small fitted models, and the thresholds chosen with them.

Sentence relevance is a conditional logit (a linear utility per sentence, fitted so that the
softmax over a question's candidates puts the sentences holding the fact first); answerability is a
logistic regression. Both read the features of :mod:`assistant.compose.evidence`; their
coefficients live in ``answer_model.json`` beside this file, with the features they read, the
thresholds, what they were fitted on and their cross-validated figures. ``evals/tune_answers.py``
writes it; nothing here learns at run time.

>>> m = AnswerModel.load()
>>> isinstance(m.sentence_score({name: 0.5 for name in m.sentence_features}), float)
True
>>> 0.0 < m.answerable_p({name: 0.5 for name in m.answerable.features}) < 1.0
True
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MODEL_FILE = Path(__file__).with_name("answer_model.json")  # fitted with the default model, multilingual-e5-small
DEFAULT_FOR = "multilingual-e5-small"


def model_file(embedding_model: str = DEFAULT_FOR) -> Path:
    """The fitted file for an embedding model: similarities are on each model's own scale, so each
    model that the product ships with has its own fit (``answer_model.<name>.json``)."""
    if embedding_model == DEFAULT_FOR:
        return MODEL_FILE
    return MODEL_FILE.with_name(f"answer_model.{embedding_model.replace('/', '_')}.json")


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 40.0), -40.0)))


@dataclass(frozen=True)
class Logistic:
    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float

    def score(self, values: Mapping[str, float]) -> float:
        """The linear utility ``intercept + coef · features``."""
        return self.intercept + sum(c * float(values[f]) for f, c in zip(self.features, self.coef, strict=True))

    def p(self, values: Mapping[str, float]) -> float:
        return _sigmoid(self.score(values))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Logistic:
        return cls(tuple(d["features"]), tuple(float(c) for c in d["coef"]), float(d["intercept"]))


@dataclass(frozen=True)
class AnswerModel:
    """Sentence relevance, answerability, and the selection thresholds."""

    sentence: Logistic
    answerable: Logistic
    abstain_below: float = 0.5  # answerability probability under which the composer abstains
    keep_ratio: float = 0.5  # a further sentence must be this likely, relative to the best one
    part_ratio: float = 0.1  # … or this likely, when it speaks to a part of the question left open
    reference_ratio: float = 0.5  # a reference entry is quoted only if no prose sentence reaches this share of it
    other_ratio: float = 0.0  # … and this likely when it comes from a passage not yet cited
    part_margin: float = 0.02  # a part counts as answered by a chosen sentence this close to its best match
    # a counted list is quoted when its sentences together reach this share of the best one (100: never)
    list_ratio: float = 100.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sentence_features(self) -> tuple[str, ...]:
        return self.sentence.features

    def sentence_score(self, features: Mapping[str, float]) -> float:
        return self.sentence.score(features)

    def answerable_p(self, features: Mapping[str, float]) -> float:
        return self.answerable.p(features)

    @classmethod
    def for_model(cls, embedding_model: str) -> AnswerModel:
        """The fit for ``embedding_model``; the default model's fit (with a warning) for any other."""
        path = model_file(embedding_model)
        if path.is_file():
            return cls.load(path)
        log.warning("no answer model fitted with %s: using the one fitted with %s (abstention may be "
                    "miscalibrated; fit one with evals/tune_answers.py)", embedding_model, DEFAULT_FOR)
        return cls.load()

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> AnswerModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(Logistic.from_dict(data["sentence"]), Logistic.from_dict(data["answerable"]),
                   **{k: float(v) for k, v in data["thresholds"].items()},
                   meta=data.get("meta", {}))

    def save(self, path: Path = MODEL_FILE) -> None:
        data = {
            "sentence": self.sentence.to_dict(),
            "answerable": self.answerable.to_dict(),
            "thresholds": {"abstain_below": self.abstain_below, "keep_ratio": self.keep_ratio,
                           "part_ratio": self.part_ratio, "reference_ratio": self.reference_ratio,
                           "list_ratio": self.list_ratio, "part_margin": self.part_margin,
                           "other_ratio": self.other_ratio},
            "meta": self.meta,
        }
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
