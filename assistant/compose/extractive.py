"""The default composer: no LLM; the answer is the passages' own sentences that hold the fact.

1. **Candidates.** Every sentence of the retrieved passages, with the features of
   :mod:`assistant.compose.evidence` (similarity from the sentence vectors stored at index time,
   coverage of the question and of its names and numbers, whether it holds the kind of answer asked
   for, what it adds beyond the question, its passage's rank, whether it is a reference entry).
2. **Relevance.** A fitted logistic model gives each the probability that it holds the asked-for
   fact; the best comes first.
3. **Selection.** The best sentence, then each further one that is likely enough *and* covers a
   part of the question not yet covered (the second half of a two-part question, found by each
   part's own vector; more items of a list); a sentence that only repeats is never added, so every
   quoted sentence adds a part. A question that counts its items ("which three risks") is answered
   by a list of that many items when the list as a whole is likely enough. A reference-list entry
   is quoted only when no prose sentence comes near it, and then as a reference (its title,
   without URL noise).
4. **Answerability.** A second fitted model judges the evidence as a whole (the best sentence's
   probability and margin, whether the question's names and numbers occur at all, whether the chosen
   sentences hold the kind of answer asked for, and how much they cover). Below its threshold the
   composer abstains, says in the question's language what it searched for, and offers the closest
   passages as *related*, not as citations.
5. **Language.** When the quoted sentences are in the other language, a first line says so.

The models and thresholds are fitted with cross-validation on ``evals/questions.jsonl``
(``evals/tune_answers.py``), stored in ``answer_model.json``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from assistant.compose.base import ABSTAIN, Draft
from assistant.compose.evidence import (
    Candidate,
    ListBlock,
    candidates,
    continuation,
    list_marker,
    numbers_missing,
    question_features,
    reference_title,
)
from assistant.compose.model import AnswerModel
from assistant.records import Passage
from assistant.retrieve.query import Query

# The articles' own reference markers ("[23]", "[2, 5]") would read as citation markers.
SOURCE_REFERENCE = re.compile(r"\s*\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\]")
RELATED = 3  # passages offered beside an abstention
LIST_ITEMS = 5  # items of an announced list quoted at most
# words that ask rather than say what is sought
QUESTION_STEMS = frozenset("he she it they say said says about name он она они говор сказа словам".split())

OTHER_LANGUAGE = {  # (question language, source language) → the first line of the answer
    ("ru", "en"): "Ответ из англоязычного источника:",
    ("en", "ru"): "Answer quoted from a Russian-language source:",
}
PARTLY_OTHER = {
    ("ru", "en"): "Часть ответа — из англоязычного источника:",
    ("en", "ru"): "Part of the answer is quoted from a Russian-language source:",
}
FROM_REFERENCES = {"ru": "Из списка литературы статьи: «{title}»", "en": "From the article's reference list: “{title}”"}
KIND_WORDS = {
    "ru": {"number": "число или величину", "year": "год или дату", "person": "имя", "place": "место",
           "name": "название", "reason": "причину", "list": "перечень"},
    "en": {"number": "a number", "year": "a year or date", "person": "a name", "place": "a place",
           "name": "a name", "reason": "a reason", "list": "a list"},
}
SEARCHED = {
    "ru": "Искали{kind} по словам: {terms}.{missing} Ближайшие фрагменты — ниже, как связанные, а не как ответ.",
    "en": "Searched for{kind}: {terms}.{missing} The closest passages are listed below as related, not as an answer.",
}
MISSING = {"ru": " Ни один подходящий фрагмент не называет: {items}.", "en": " No matching passage states {items}."}


@dataclass
class Assessment:
    """What the composer concluded about one question's evidence."""

    ranked: list[Candidate]
    chosen: list[Candidate]
    answerable: float  # fitted probability that the chosen sentences answer the question
    features: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # the question's numbers the answer never states


class ExtractiveComposer:
    name = "extractive"

    def __init__(self, retriever, max_sentences: int = 4, abstain_threshold: float | None = None,
                 model: AnswerModel | None = None) -> None:
        self.retriever = retriever
        self.max_sentences = max_sentences
        self.model = model or AnswerModel.for_model(retriever.embedder.info.name)
        self.abstain_threshold = self.model.abstain_below if abstain_threshold is None else abstain_threshold

    # --- judging the evidence ---------------------------------------------------------------
    def assess(self, query: Query, passages: list[Passage], found: list[Candidate] | None = None) -> Assessment:
        """The evidence judged (``found``: the candidates, when already computed)."""
        found = candidates(query, passages, self.retriever) if found is None else found
        for c in found:
            c.score = self.model.sentence_score(c.features)
        top = max((c.score for c in found), default=0.0)
        for c in found:
            c.p = math.exp(c.score - top)
        ranked = sorted(found, key=lambda c: (-c.score, c.passage, c.start))
        chosen = self.select(ranked, query.parts, query.count)
        features = question_features(query, ranked, chosen, passages, self.retriever.weight)
        answerable = self.model.answerable_p(features) if ranked else 0.0
        return Assessment(ranked, chosen, answerable, features, numbers_missing(query, chosen, ranked))

    def select(self, ranked: list[Candidate], parts: tuple[tuple[str, ...], ...] = (),
               count: int = 0) -> list[Candidate]:
        """The best sentence, then further ones that add an uncovered part of the question
        (``parts``: the stems of each part of a two-part question); or, for a question that counts
        the items it asks for (``count``), a list of that many items, when one is likely enough."""
        listed = self.counted_list(ranked, count)
        if listed:
            return listed
        idf = {stem: self.retriever.weight(stem) for part in parts for stem in part}

        def weight(stems: set[str] | frozenset[str]) -> float:
            return sum(idf.get(s, 1.0) for s in stems)

        prose = [c for c in ranked if not c.reference]
        if ranked and ranked[0].reference and (not prose or prose[0].p < self.model.reference_ratio * ranked[0].p):
            best = ranked[0]  # the fact is only in the reference list
        elif prose:
            best = prose[0]
        else:
            return []
        chosen = [best]
        covered = set(best.matched)
        # what the best sentence announces ("three challenges:", "… по разным причинам:") is the answer
        ordered = sorted(ranked, key=lambda c: (c.passage, c.start))
        for c in continuation(best, ordered, LIST_ITEMS):
            chosen.append(c)
            covered |= c.matched
        # a two-part question: each part gets the sentence that answers it best, by meaning (each
        # part embedded on its own, so a Russian part finds an English sentence) among the likely
        # enough ones, unless a chosen sentence answers it nearly as well
        pool = [c for c in prose if c.p >= self.model.part_ratio]
        if parts and pool and len(best.part_sims) == len(parts):
            for j in range(len(parts)):
                top = max(pool, key=lambda c: c.part_sims[j])
                if any(c.part_sims[j] >= top.part_sims[j] - self.model.part_margin for c in chosen):
                    continue
                if len(chosen) < self.max_sentences + 1:
                    chosen.append(top)
                    covered |= top.matched
        for part in uncovered_parts(parts, covered, weight) if not best.part_sims else ():
            speaking = [c for c in prose if c not in chosen and c.p >= self.model.part_ratio * best.p
                        and weight(c.matched & part) >= 0.5 * weight(part)]
            if speaking and len(chosen) < self.max_sentences + 1:
                chosen.append(speaking[0])
                covered |= speaking[0].matched
        for c in prose:
            if len(chosen) >= max(self.max_sentences, len(chosen) if len(chosen) > 1 else 0):
                break
            if c in chosen or c.p < self.model.keep_ratio * best.p:
                continue
            if c.passage not in {o.passage for o in chosen} and (
                    c.p < self.model.other_ratio * best.p or c.matched <= covered):
                # another passage, another citation: only for a sentence nearly as likely that speaks to a
                # part of the question not yet answered. A further sentence of a cited passage costs no new
                # citation, and the one holding the fact often shares no word with the question (a
                # paraphrase, the other language)
                continue
            chosen.append(c)
            covered |= c.matched
            # a further sentence that announces a list brings its items, as the best one does
            for item in continuation(c, ordered, LIST_ITEMS):
                if item not in chosen:
                    chosen.append(item)
                    covered |= item.matched
        return sorted(without_stray_items(chosen), key=lambda c: (c.passage, c.start))

    def counted_list(self, ranked: list[Candidate], count: int) -> list[Candidate]:
        """For "which three risks …": the passages' list of exactly ``count`` items that holds the
        most of the sentence model's likelihood (the sum of ``p`` over its items, the sentences
        under them and the sentence leading into it: a list is judged as a whole, not by one line),
        when that sum reaches ``list_ratio`` (the best sentence's own ``p`` is 1); its items, after
        its lead when that announces it ("… in three areas:"). Empty when no list is likely enough."""
        if count < 2 or not ranked:
            return []
        blocks = {c.block for c in ranked if c.block is not None and c.block.size == count}
        if not blocks:
            return []
        leads = {(b.passage, b.lead): b for b in blocks if b.lead is not None}
        mass: dict[ListBlock, float] = {}
        for c in ranked:
            block = c.block if c.block in blocks else leads.get((c.passage, (c.start, c.end)))
            if block is not None and not c.reference:
                mass[block] = mass.get(block, 0.0) + c.p
        if not mass:
            return []
        block, share = max(mass.items(), key=lambda kv: kv[1])
        if share < self.model.list_ratio:
            return []
        span = {(c.passage, c.start, c.end): c for c in ranked}
        lead = span.get((block.passage, *block.lead)) if block.lead else None
        items = [span[(block.passage, *item)] for item in block.items if (block.passage, *item) in span]
        if len(items) < 2:
            return []
        return ([lead] if lead is not None and lead.text.rstrip().endswith(":") else []) + items

    # --- writing the answer ---------------------------------------------------------------
    def stream(self, query: Query, passages: list[Passage],
               judged: Assessment | None = None) -> Iterator[str | Draft]:
        judged = judged or self.assess(query, passages)
        language = query.language if query.language in ABSTAIN else "en"
        if not judged.chosen or judged.answerable < self.abstain_threshold or judged.missing:
            yield from self._abstain(query, passages, judged, language)
            return
        parts: list[str] = []
        note = self._language_note(language, judged.chosen)
        if note:
            parts.append(note + "\n")
            yield parts[-1]
        highlights: dict[int, list[tuple[int, int]]] = {}
        for i, c in enumerate(judged.chosen):
            p = passages[c.passage]
            skip = 0 if c.reference else len(c.text) - len(unpaired_quote(c.text))  # a quotation's lone opening mark
            text = (FROM_REFERENCES[language].format(title=reference_title(c.text)) if c.reference
                    else SOURCE_REFERENCE.sub("", c.text[skip:]))
            # a list's items each start a line, a numbered one with its number (the marker stands
            # outside the sentence's span, so the quote and its highlight stay verbatim)
            item = c.block is not None and (c.start, c.end) in c.block.items
            marker = list_marker(p.text, c.start) if item else None
            number = f"{marker[1]}. " if marker and marker[0] == "number" else ""
            piece = ("\n" if item and i else " " if i else "") + f"{number}{text} [{c.passage + 1}]"
            parts.append(piece)
            highlights.setdefault(c.passage + 1, []).append((p.start + c.start + skip, p.start + c.end))
            yield piece
        yield Draft("".join(parts), abstained=False, confidence=round(judged.answerable, 4), composer=self.name,
                    highlights=highlights)

    @staticmethod
    def _language_note(language: str, chosen: list[Candidate]) -> str:
        other = [c for c in chosen if c.language != language]
        if not other:
            return ""
        table = OTHER_LANGUAGE if len(other) == len(chosen) else PARTLY_OTHER
        return table.get((language, other[0].language), "")

    def _abstain(self, query: Query, passages: list[Passage], judged: Assessment,
                 language: str) -> Iterator[str | Draft]:
        kind = KIND_WORDS[language].get(query.expects, "")
        kind_text = (f" {kind} about" if language == "en" else f" {kind}") if kind else ""
        terms = ", ".join(f"«{w}»" if language == "ru" else f"“{w}”" for w in searched_words(query)) or "—"
        missing = MISSING[language].format(items=", ".join(judged.missing)) if judged.missing else ""
        text = f"{ABSTAIN[language]} {SEARCHED[language].format(kind=kind_text, terms=terms, missing=missing)}"
        yield text
        notices = [f"no matching passage states {', '.join(judged.missing)}"] if judged.missing else []
        yield Draft(text, abstained=True, confidence=round(judged.answerable, 4), composer=self.name,
                    notices=notices, related=list(range(1, min(len(passages), RELATED) + 1)))


def without_stray_items(chosen: list[Candidate]) -> list[Candidate]:
    """``chosen`` without a lone item of one list when the answer quotes another list with the
    sentence announcing it: the announced list is the answer, and an item of a different list
    quoted beside it reads as part of it ("• индустриального ИИ …" before "ИИ выгоден обеим
    сторонам по разным причинам: • Китаю … • России …")."""
    def key(c: Candidate) -> tuple[int, int, int]:
        return (c.passage, c.start, c.end)

    def is_item(c: Candidate) -> bool:
        return c.block is not None and (c.start, c.end) in c.block.items

    spans = {key(c) for c in chosen}
    announced = {c.block for c in chosen if is_item(c) and c.block is not None and c.block.lead is not None
                 and (c.passage, *c.block.lead) in spans}
    if not announced:
        return chosen
    stray = [c for c in chosen if is_item(c) and c.block not in announced
             and sum(o.block == c.block for o in chosen) == 1]
    return [c for c in chosen if c not in stray]


def unpaired_quote(text: str) -> str:
    """A sentence that opens a quotation of several sentences, without the opening mark.

    A quotation is split between its sentences, so the first one starts with a mark that only a
    later one closes; quoted alone, it reads as a typo. Only a leading mark is dropped, so the
    quote stays a verbatim part of its passage.

    >>> unpaired_quote('"Мы не строим стены — мы строим коридоры.')
    'Мы не строим стены — мы строим коридоры.'
    >>> unpaired_quote('«Цифровой шёлковый путь» строится.')
    '«Цифровой шёлковый путь» строится.'
    """
    stripped = text.lstrip()
    if (stripped.startswith('"') and stripped.count('"') % 2) or (stripped.startswith("«") and "»" not in stripped):
        return stripped[1:].lstrip()
    return text


def uncovered_parts(parts: tuple[tuple[str, ...], ...], covered: set[str],
                    weight: Callable[[frozenset[str]], float]) -> list[frozenset[str]]:
    """The parts of a two-part question (their distinctive stems) that ``covered`` leaves mostly open.

    >>> [sorted(p) for p in uncovered_parts((("rysmambetov",), ("water", "about")), {"rysmambetov"}, len)]
    [['about', 'water']]
    """
    sets = [frozenset(p) for p in parts]
    out = []
    for i, part in enumerate(sets):
        own = part - frozenset().union(*(q for j, q in enumerate(sets) if j != i))
        if own and weight(own & covered) < 0.5 * weight(own):
            out.append(own)
    return out


def searched_words(query: Query, limit: int = 8) -> list[str]:
    """The question's content words as written (what the search looked for), in order.

    >>> from assistant.retrieve import analyse_text
    >>> searched_words(analyse_text("Who is he and what does he say about water?"))
    ['water']
    """
    from assistant.lexical import TOKEN, words

    stems = {stem for stem, _ in query.words}
    seen: dict[str, None] = {}
    for m in TOKEN.finditer(query.question):
        found = words(m.group())
        if found and found[0][0] in stems and found[0][0] not in QUESTION_STEMS:
            seen.setdefault(m.group(), None)
    return list(seen)[:limit]
