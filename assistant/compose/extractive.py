"""The default composer: no LLM, the answer is the passages' own sentences that answer best.

Every sentence of the retrieved passages is scored by

* how much of the question it covers — IDF-weighted share of the question's stems and
  cross-script keys (names and numbers carry across languages), or of their dictionary
  translations when the sentence is in the other language;
* its embedding similarity to the question;
* the rank of its passage (retrieval already judged the passage as a whole).

The best sentences (up to ``max_sentences``, each close enough to the best and adding
something new) are kept in reading order and marked with their passage's number. When even
the best sentence is weak, or the question names a number (a year, a figure) that no retrieved
passage contains, the composer abstains in the question's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from assistant.compose.base import ABSTAIN, Draft
from assistant.ingest.clean import is_heading
from assistant.lexical import analyze, coverage
from assistant.records import Passage
from assistant.retrieve.query import Query

# The articles' own reference markers ("[23]", "[2, 5]") would read as citation markers.
SOURCE_REFERENCE = re.compile(r"\s*\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\]")


@dataclass
class _Sentence:
    passage: int  # 0-based passage index
    start: int  # offsets in the passage text
    end: int
    text: str
    terms: set[str]
    matched: frozenset[str] = frozenset()  # the question's words this sentence contains
    lexical: float = 0.0
    dense: float = 0.0
    dense_share: float = 1.0  # how far the model's similarity can be trusted here (0..1)
    score: float = 0.0


@dataclass(frozen=True)
class Weights:
    """How the sentence score is made; the defaults were tuned on evals/questions.jsonl."""

    lexical: float = 0.55
    dense: float = 0.30
    rank: float = 0.15
    keep_ratio: float = 0.8  # a further sentence must score this share of the best one
    min_chars: int = 25


class ExtractiveComposer:
    name = "extractive"

    def __init__(self, retriever, max_sentences: int = 3, abstain_threshold: float = 0.3,
                 weights: Weights | None = None) -> None:
        self.retriever = retriever
        self.max_sentences = max_sentences
        self.abstain_threshold = abstain_threshold
        self.weights = weights or Weights()

    def _sentences(self, query: Query, passages: list[Passage]) -> list[_Sentence]:
        out = []
        for i, p in enumerate(passages):
            spans, vectors = self.retriever.sentences(p)
            sims = vectors @ query.vector if query.vector is not None and len(vectors) else np.zeros(len(spans))
            for (start, end), sim in zip(spans, sims, strict=True):
                text = p.text[start:end]
                if len(text) < self.weights.min_chars or is_heading(text):
                    continue
                out.append(_Sentence(i, start, end, text, set(analyze(text)), dense=float(max(sim, 0.0))))
        return out

    def score(self, query: Query, passages: list[Passage]) -> list[_Sentence]:
        """All candidate sentences, scored, best first."""
        sentences = self._sentences(query, passages)
        if not sentences:
            return []
        query_words = list(query.words)
        # words the corpus never uses weigh the most: a question about them is likely off-topic
        weight = {t: self.retriever.weight(t) for pair in query_words for t in pair if t != "~"}
        translations = query.translations
        w = self.weights
        policy = self.retriever.policy
        shares = {lang: policy.dense_trust(query.language, lang) for lang in {p.language for p in passages}}
        for s in sentences:
            s.dense_share = shares[passages[s.passage].language]
            s.lexical = coverage(query_words, s.terms, weight, translations)
            s.matched = frozenset(stem for stem, key in query_words
                                  if stem in s.terms or (key != "~" and key in s.terms)
                                  or not s.terms.isdisjoint(translations.get(stem, ())))
            s.score = w.lexical * s.lexical + w.dense * s.dense_share * s.dense + w.rank / (1 + s.passage)
        return sorted(sentences, key=lambda s: -s.score)

    def confidence(self, ranked: list[_Sentence]) -> float:
        """Evidence strength in 0..1: how much of the question the best sentences cover, and
        how similar the best one is (similarity counts less where the model cannot read)."""
        if not ranked:
            return 0.0
        f = ranked[0].dense_share
        lexical = max(s.lexical for s in ranked[:5])
        return round((0.6 * lexical + 0.4 * f * ranked[0].dense) / (0.6 + 0.4 * f), 4)

    @staticmethod
    def missing_numbers(query: Query, passages: list[Passage]) -> list[str]:
        """Numbers the question asks about (years, figures) that no retrieved passage contains.

        Passages that never mention 2023 cannot answer a question about 2023: on the tuning set
        this caught a fifth of the unanswerable questions and none of the answerable ones.
        """
        if not query.numbers:
            return []
        seen = {t for p in passages for t in analyze(p.text)}
        return [n for n in query.numbers if n not in seen]

    def select(self, ranked: list[_Sentence]) -> list[_Sentence]:
        """The best sentence, then those close to it that say something new about the question.

        (Admitting weaker sentences that cover other question words helped two-part questions
        a little and cost citation precision a lot — 0.66 → 0.54 on the tuning set — so a
        further sentence must still score ``keep_ratio`` of the best.)
        """
        if not ranked:
            return []
        chosen = [ranked[0]]
        covered, said = set(ranked[0].matched), set(ranked[0].terms)
        for s in ranked[1:]:
            if len(chosen) >= self.max_sentences or s.score < self.weights.keep_ratio * ranked[0].score:
                break
            if s.matched <= covered and s.terms <= said:
                continue  # repeats what is already said
            chosen.append(s)
            covered |= s.matched
            said |= s.terms
        return sorted(chosen, key=lambda s: (s.passage, s.start))

    def stream(self, query: Query, passages: list[Passage]) -> Iterator[str | Draft]:
        ranked = self.score(query, passages)
        confidence = self.confidence(ranked)
        missing = self.missing_numbers(query, passages)
        language = query.language
        if not ranked or confidence < self.abstain_threshold or missing:
            text = ABSTAIN.get(language, ABSTAIN["en"])
            notices = [f"no retrieved passage mentions {', '.join(missing)}"] if missing else []
            yield text
            yield Draft(text, abstained=True, confidence=confidence, composer=self.name, notices=notices,
                        related=list(range(1, min(len(passages), 3) + 1)))
            return
        parts: list[str] = []
        highlights: dict[int, list[tuple[int, int]]] = {}
        for s in self.select(ranked):
            p = passages[s.passage]
            piece = f"{SOURCE_REFERENCE.sub('', s.text)} [{s.passage + 1}]"
            if parts:
                piece = " " + piece
            parts.append(piece)
            highlights.setdefault(s.passage + 1, []).append((p.start + s.start, p.start + s.end))
            yield piece
        yield Draft("".join(parts), abstained=False, confidence=confidence, composer=self.name,
                    highlights=highlights)
