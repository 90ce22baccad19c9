"""What the extractive composer knows about each candidate sentence, and about the question as a
whole: the features its two fitted models read (``answer_model.json``, fitted by
``evals/tune_answers.py`` with cross-validation on the main question set).

* **Sentence relevance** — does this sentence hold the asked-for fact? Its similarity to the
  question, alone and read with its neighbours (sentence vectors stored at index time, so no model
  call per answer), how much of the
  question it covers and how much of its key terms (names, numbers), whether it holds the kind of
  answer asked for (a number, a year, a name, a list, a reason) that the question does not already
  give, how much it says beyond the question (a fact, not a restatement of the topic), its
  passage's rank, whether it is an entry of a reference list.
* **Answerability** — from the evidence, not one similarity: the best sentence's probability
  and its margin over the next, whether the question's names and numbers appear at all, whether
  the chosen sentences hold the kind of answer asked for, and how much of the question they cover.

>>> kind_present("In 2019 trade grew by 7%.", ("2019",), "number")
True
>>> kind_present("In 2019 it grew.", ("2019",), "number")
False
>>> kind_present("It opened with forty-two telescopes.", (), "number")
True
>>> is_reference("17. China becomes Kazakhstan's largest export destination [Electronic resource]. URL: http://x")
True
>>> reference_title("17. China becomes Kazakhstan's largest export destination for ferroalloys "
...                 "[Electronic resource]. URL: http://www.mofcom. gov.cn/article")
"China becomes Kazakhstan's largest export destination for ferroalloys"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.ingest.clean import BULLETS, is_heading
from assistant.lexical import CYRILLIC, analyze, coverage, words
from assistant.records import Passage
from assistant.retrieve.query import Query

SENTENCE_FEATURES = ("coverage", "translated", "dense_calibrated", "dense_gap", "entity_coverage", "kind", "novelty",
                     "rank", "reference", "same_language", "short", "heading", "neighbour_coverage", "quote",
                     "announces", "continues", "window_calibrated")
# Answerability reads six (main set, 5-fold CV: the first five gave accuracy 0.641 with 0.030 false abstention;
# all twelve computed below gave 0.617 and 0.081 — more features than 128 questions can fit; adding the best
# sentence-with-neighbours similarity took the composer's CV accuracy from 0.719 to 0.727).
QUESTION_FEATURES = ("best_dense", "window_coverage", "unknown", "names_in_answer", "kind", "best_window")

MIN_CHARS = 12
SLOTS = ("number", "year", "person", "place", "name")
ENTITY_WEIGHT = 3.0  # main set, 5-fold CV: 1 → accuracy 0.648, 2 → 0.648, 3 → 0.664
REFERENCE_ENTRY = re.compile(r"\[(electronic resource|электронный ресурс)\]|\bURL:\s*\S|\bdoi:\s*10\.|https?://",
                             re.IGNORECASE)
_REFERENCE_NOISE = (re.compile(r"^\s*\d{1,3}\.\s+"),
                    re.compile(r"\s*\[(electronic resource|электронный ресурс)\]\.?", re.IGNORECASE),
                    re.compile(r"\s*\bURL:.*$", re.IGNORECASE | re.DOTALL),
                    re.compile(r"\s*\b(Pp?|С)\.\s*\d+(\s*[-–]\s*\d+)?\.?", re.IGNORECASE))
DIGIT = re.compile(r"\d")
YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
MONTH = re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|december|"
                   r"январ\w*|феврал\w*|март\w*|апрел\w*|ма[йя]\w*|июн\w*|июл\w*|август\w*|сентябр\w*|"
                   r"октябр\w*|ноябр\w*|декабр\w*)\b", re.IGNORECASE)
NUMBER_WORD = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(thir|four|fif|six|seven|eigh|nine)teen|"
    r"(twen|thir|for|fif|six|seven|eigh|nine)ty|hundred|thousand|dozen|half|twice|double|"
    r"один|одна|одно|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять|\w+дцать|сорок|сто|двести|"
    r"триста|\w+сот|тысяч\w*|дюжин\w*|половин\w*|вдвое|втрое|дважды)\b", re.IGNORECASE)
MAGNITUDE = re.compile(r"%|\b(percent|per cent|million|billion|trillion|thousand|процент\w*|млн|млрд|трлн|тыс)\b",
                       re.IGNORECASE)
CAPITALISED = re.compile(r"(?<=[\s«\"“(])([A-ZА-ЯЁ][\w.-]*[a-zа-яё][\w-]*)")
INITIALS = re.compile(r"\b[A-ZА-ЯЁ]\.\s?[A-ZА-ЯЁ][a-zа-яё]")
QUOTED = re.compile(r"[«\"“][^»\"”]{3,80}[»\"”]")
REASON = re.compile(r"\b(because|since|due to|as a result|owing to|in order to|so that|thanks to|therefore|"
                    r"поскольку|так как|потому что|из-за|благодаря|чтобы|поэтому|в связи с|вследствие)\b",
                    re.IGNORECASE)
ENUMERATION = re.compile(r"[,;]|•|\b(and|и|а также)\b")
# An item of an enumeration: a bullet, or a sentence opening with an ordinal ("Second, …", "Во-вторых, …").
ITEM = re.compile(rf"^\s*({BULLETS}\s|\d{{1,2}}[.)]\s|(first(ly)?|second(ly)?|third(ly)?|fourth|finally|lastly|"
                  r"во-первых|во-вторых|в-третьих|в-четв[её]ртых|наконец|кроме того)\b)", re.IGNORECASE)
# A sentence that announces what follows: it ends with a colon, or names a count of things to come.
ANNOUNCE = re.compile(r":\s*$|\b(two|three|four|five|several|following|the next|два|две|три|четыре|пять|"
                      r"несколько|следующ\w+)\b", re.IGNORECASE)


# A list marker alone before a sentence on its line ("  1. Технологическая зависимость.": the
# sentence splitter keeps "1." apart), or at the sentence's own start ("• цифровой торговли …").
_MARKER = rf"(?:(\d{{1,2}})[.)]|{BULLETS})"
_MARKER_ALONE = re.compile(rf"\s*{_MARKER}\s*")
_MARKER_OPENING = re.compile(rf"\s*{_MARKER}\s")


@dataclass(frozen=True)
class ListBlock:
    """A list in a passage: its items (sentence spans that open a marked line), the sentences that
    explain them, and the sentence that leads into it."""

    passage: int
    items: tuple[tuple[int, int], ...]
    members: tuple[tuple[int, int], ...]  # items and the sentences under them
    lead: tuple[int, int] | None  # the sentence right before the first item

    @property
    def size(self) -> int:
        return len(self.items)


def list_marker(text: str, start: int) -> tuple[str, int] | None:
    """The marker of the list item that the sentence at ``start`` opens: ``("number", n)`` or
    ``("bullet", 0)``; ``None`` for a sentence that opens no marked line.

    >>> t = "Risks:\\n\\n  1. Dependence.\\n    China is stronger.\\n  2. Data.\\n• Trade (contracts);"
    >>> [list_marker(t, t.index(w)) for w in ("Risks", "Dependence", "China", "Data", "• Trade")]
    [None, ('number', 1), None, ('number', 2), ('bullet', 0)]
    """
    line = text.rfind("\n", 0, start) + 1
    m = _MARKER_ALONE.fullmatch(text, line, start) if start > line else _MARKER_OPENING.match(text, start)
    if m is None or (start > line and not text[line:start].strip()):
        return None
    return ("number", int(m.group(1))) if m.group(1) else ("bullet", 0)


def passage_lists(passage: int, text: str, spans: list[tuple[int, int]]) -> list[ListBlock]:
    """The lists of a passage. A numbered list runs while its numbers go up by one, with the
    sentences under an item belonging to it, and ends at a heading; a bulleted one runs while its
    lines are bullets. A list cut by the passage's edge is kept with the items it has.

    >>> t = ("Three risks:\\n\\n1. Dependence.\\nChina is stronger.\\n2. Data.\\n3. Sanctions.\\n\\n"
    ...      "Summary\\n\\nIt ends.")
    >>> from assistant.ingest.chunk import split_sentences
    >>> [(b.size, t[slice(*b.lead)]) for b in passage_lists(0, t, split_sentences(t))]
    [(3, 'Three risks:')]
    """
    blocks: list[ListBlock] = []
    items: list[tuple[int, int]] = []
    members: list[tuple[int, int]] = []
    lead: tuple[int, int] | None = None
    kind, last = "", 0
    previous: tuple[int, int] | None = None

    def close() -> None:
        if len(items) >= 2:
            blocks.append(ListBlock(passage, tuple(items), tuple(members), lead))
        items.clear()
        members.clear()

    for span in spans:
        sentence = text[span[0]:span[1]]
        if _MARKER_ALONE.fullmatch(sentence):
            continue  # "1." split off its item
        marker = list_marker(text, span[0])
        if marker is not None:
            same = items and marker[0] == kind and (kind == "bullet" or marker[1] == last + 1)
            if not same:
                close()
                lead = previous
            kind, last = marker
            items.append(span)
            members.append(span)
        elif items and kind == "number" and not is_heading(sentence) and len(members) < 4 * len(items):
            members.append(span)
        else:
            close()
        previous = span
    close()
    return blocks


def is_reference(text: str, section: str = "") -> bool:
    """An entry of a reference list: in a ``references`` section, or shaped like one."""
    return section == "references" or bool(REFERENCE_ENTRY.search(text))


def reference_title(text: str) -> str:
    """A reference entry's title, without its number, URL and "[Electronic resource]" noise."""
    for pattern in _REFERENCE_NOISE:
        text = pattern.sub("", text)
    return " ".join(text.split()).strip(" .")


def kind_present(text: str, question_numbers: tuple[str, ...], kind: str, question_terms: frozenset[str] = frozenset(),
                 common: Callable[[str], bool] | None = None) -> bool:
    """Whether ``text`` holds an answer of ``kind`` that the question does not already give.
    ``common(word)``: whether a capitalised word is an ordinary dictionary word (then it names no
    person: "President", "December"); without it every capitalised word might."""
    if kind == "number":
        own = {n for n in re.findall(r"\d+(?:[.,]\d+)*", text) if n.replace(",", ".") not in question_numbers}
        if (own and not all(YEAR.fullmatch(n) for n in own)) or (own and MAGNITUDE.search(text)):
            return True
        asked = {m.group().lower() for m in NUMBER_WORD.finditer(" ".join(question_terms))}
        return any(m.group().lower() not in asked for m in NUMBER_WORD.finditer(text))
    if kind == "year":
        return any(y not in question_numbers for y in YEAR.findall(text)) or bool(MONTH.search(text))
    if kind in ("person", "place", "name"):
        novel = [m.group(1) for m in CAPITALISED.finditer(" " + text)
                 if not set(analyze(m.group(1))) & question_terms]
        if kind == "person":
            return any(common is None or not common(w) for w in novel) or bool(INITIALS.search(text))
        return bool(novel) or bool(QUOTED.search(text))
    if kind == "reason":
        return bool(REASON.search(text))
    if kind == "list":
        return len(ENUMERATION.findall(text)) >= 2 or text.lstrip().startswith(("•", "-", "–", "—"))
    return False


@dataclass
class Candidate:
    """One sentence of a retrieved passage, with what the models read about it."""

    passage: int  # 0-based number of its passage in the answer's passages
    start: int  # offsets in the passage text
    end: int
    text: str
    language: str
    terms: frozenset[str]
    matched: frozenset[str]  # the question's stems it holds (itself, by key or by translation)
    reference: bool
    features: dict[str, float] = field(default_factory=dict)
    block: ListBlock | None = None  # the list it belongs to (an item, or a sentence under one)
    part_sims: tuple[float, ...] = ()  # similarity to each part of a two-part question, within its language
    score: float = 0.0  # fitted utility: how likely it holds the asked-for fact, compared with the others
    p: float = 0.0  # its share of the best candidate's likelihood, exp(score - best score), in (0, 1]

    def vector(self, names: tuple[str, ...] = SENTENCE_FEATURES) -> np.ndarray:
        return np.array([self.features[n] for n in names], dtype=np.float64)


def common_word(retriever) -> Callable[[str], bool] | None:
    """Whether a word is an ordinary dictionary word (an English headword of the lexicon, or a
    Russian word its translations use): a capitalised word that is neither is most likely a name
    (``Dalenov``, ``Рысмамбетов``). ``None`` without a lexicon."""
    lexicon = getattr(retriever, "lexicon", None)
    if lexicon is None:
        return None
    russian = getattr(getattr(retriever, "translator", None), "backwards", {})
    from assistant.lexical import _stem

    def common(word: str) -> bool:
        lower = word.lower()
        if CYRILLIC.search(word):
            return _stem(lower) in russian
        return lower in lexicon.entries or lower.rstrip("s") in lexicon.entries

    return common


def candidates(query: Query, passages: list[Passage], retriever) -> list[Candidate]:
    """Every sentence of ``passages`` worth quoting, with its features (``p`` not yet set)."""
    common = common_word(retriever)
    # the question's names weigh double: "what does the expert say about Khorgos" is about Khorgos
    named = {t for pair in query.entities for t in pair}
    weight = {t: retriever.weight(t) * (ENTITY_WEIGHT if t in named else 1.0)
              for pair in query.words for t in pair if t != "~"}
    translations = query.translations
    question_terms = frozenset(t for pair in query.words for t in pair if t != "~")
    out: list[Candidate] = []
    for i, p in enumerate(passages):
        spans, vectors = retriever.sentences(p)
        sims = vectors @ query.vector if query.vector is not None and len(vectors) else np.zeros(len(spans))
        block_of = {span: b for b in passage_lists(i, p.text, spans) for span in b.members}
        # a sentence read with its neighbours: the sum of the three unit vectors, renormalised
        if query.vector is not None and len(vectors):
            padded = np.vstack([np.zeros((1, vectors.shape[1])), vectors, np.zeros((1, vectors.shape[1]))])
            windows = padded[:-2] + padded[1:-1] + padded[2:]
            windows /= np.maximum(np.linalg.norm(windows, axis=1, keepdims=True), 1e-9)
            window_sims = windows @ query.vector
        else:
            window_sims = np.zeros(len(spans))
        part_sims = (vectors @ query.part_vectors.T if query.part_vectors is not None and len(vectors)
                     else np.zeros((len(spans), 0)))
        for (start, end), sim, by_part, around in zip(spans, sims, part_sims, window_sims, strict=True):
            text = p.text[start:end]
            if len(text) < MIN_CHARS:
                continue
            terms = frozenset(analyze(text))
            language = "ru" if len(CYRILLIC.findall(text)) * 2 > sum(c.isalpha() for c in text) else "en"
            matched = frozenset(stem for stem, key in query.words
                                if stem in terms or (key != "~" and key in terms)
                                or not terms.isdisjoint(translations.get(stem, ())))
            content = {stem for stem, _ in words(text)}
            novel = len(content - question_terms - {t for tr in translations.values() for t in tr})
            native = coverage(list(query.words), set(terms), weight)
            entity = (sum(1 for stem, key in query.entities if stem in matched) / len(query.entities)
                      if query.entities else 1.0)
            out.append(Candidate(
                passage=i, start=start, end=end, text=text, language=language, terms=terms, matched=matched,
                reference=is_reference(text, p.section), block=block_of.get((start, end)),
                part_sims=tuple(float(v) for v in by_part),
                features={
                    "dense": float(sim),
                    "window": float(around),
                    "coverage": native,
                    # what only the dictionary carried across: weighed apart, as it is weaker evidence
                    "translated": coverage(list(query.words), set(terms), weight, translations) - native,
                    "entity_coverage": entity,
                    "kind": float(kind_present(text, query.numbers, query.expects, question_terms, common)),
                    "novelty": novel / max(len(content), 1),
                    "rank": 1.0 / (1 + i),
                    "reference": float(is_reference(text, p.section)),
                    "same_language": float(language == query.language),
                    "short": float(len(text) < 60),
                    "heading": float(is_heading(text)),
                    "quote": float(bool(QUOTED.search(text)) or text.lstrip().startswith(("\"", "«", "“"))),
                    "announces": float(text.rstrip().endswith(":")),
                    "continues": float(bool(ITEM.match(text))),
                },
            ))
    if out:
        # similarity is compared within a language: the model scores the question's own language higher
        # (each similarity, alone, with its neighbours and to each part, less its language's median)
        best = max(c.features["dense"] for c in out)
        sims = np.array([[c.features["dense"], c.features["window"], *c.part_sims] for c in out])
        languages = np.array([c.language for c in out])
        centre = {lang: np.median(sims[languages == lang], axis=0) for lang in set(languages.tolist())}
        for i, c in enumerate(out):
            calibrated = sims[i] - centre[c.language]
            c.features["dense_gap"] = c.features["dense"] - best
            c.features["dense_calibrated"] = float(calibrated[0])
            c.features["window_calibrated"] = float(calibrated[1])
            c.part_sims = tuple(float(v) for v in calibrated[2:])
            # a quotation or a fact often follows the sentence that names the topic
            beside = (out[i - 1] if i else None, out[i + 1] if i + 1 < len(out) else None)
            near = [o.features["coverage"] for o in beside if o is not None and o.passage == c.passage]
            c.features["neighbour_coverage"] = max(near, default=0.0)
            previous = out[i - 1] if i and out[i - 1].passage == c.passage else None
            if previous is not None and previous.text.rstrip().endswith(":"):
                c.features["continues"] = 1.0  # what a colon announced
    return out


def continuation(best: Candidate, ordered: list[Candidate], limit: int) -> list[Candidate]:
    """The sentences that carry out what ``best`` announces: after a colon, the next sentence or the
    items of a list; after "three challenges …", the items ("First, …", "•") that follow in its
    passage. Empty when ``best`` announces nothing."""
    if not ANNOUNCE.search(best.text):
        return []
    after = [c for c in ordered if c.passage == best.passage and c.start > best.start]
    if not after:
        return []
    colon = best.text.rstrip().endswith(":")
    items = [c for c in after if ITEM.match(c.text)]
    if items and (colon or ITEM.match(after[0].text) or len(items) >= 2):
        return items[:limit]
    return after[:1] if colon else []


def window(chosen: list[Candidate], ranked: list[Candidate]) -> frozenset[str]:
    """The terms of the chosen sentences and of the sentences right beside them (a fact is often
    stated across two sentences: "In 2020 …. It fell by 2.6%")."""
    terms: set[str] = set()
    for c in chosen:
        terms |= c.terms
        for o in ranked:
            if o.passage == c.passage and (0 <= o.start - c.end <= 3 or 0 <= c.start - o.end <= 3):
                terms |= o.terms
    return frozenset(terms)


def question_features(query: Query, ranked: list[Candidate], chosen: list[Candidate],
                      passages: list[Passage], weight) -> dict[str, float]:
    """Evidence that the chosen sentences answer the question (answerability's features).
    ``weight``: term → IDF; an unknown term (the corpus never uses it) weighs the most."""
    seen = set().union(*(set(analyze(p.text)) for p in passages)) if passages else set()
    translations = query.translations
    names = [(s, k) for s, k in query.entities if s not in query.numbers]
    near = window(chosen, ranked)

    def found(stem: str, key: str, terms: set[str] | frozenset[str]) -> bool:
        return stem in terms or (key != "~" and key in terms) or bool(terms & set(translations.get(stem, ())))

    covered = frozenset().union(*(c.matched for c in chosen)) if chosen else frozenset()
    stems = {stem for stem, _ in query.words}
    idf = {stem: weight(stem) for stem, _ in query.words}
    total = sum(idf.values()) or 1.0
    best = ranked[0].score if ranked else 0.0
    return {
        "best": best,
        "margin": best - (ranked[1].score if len(ranked) > 1 else best),
        "best_dense": max((c.features["dense"] for c in ranked), default=0.0),
        "best_window": max((c.features["window"] for c in ranked), default=0.0),
        "coverage": max((c.features["coverage"] for c in chosen), default=0.0),
        "covered": len(covered & stems) / max(len(stems), 1),
        "window_coverage": sum(idf[s] for s, k in query.words if found(s, k, near)) / total,
        "entity_coverage": (sum(1 for s, _ in query.entities if s in covered) / len(query.entities)
                            if query.entities else 1.0),
        "entities_seen": sum(found(s, k, seen) for s, k in names) / len(names) if names else 1.0,
        "names_in_answer": sum(found(s, k, near) for s, k in names) / len(names) if names else 1.0,
        "unknown": sum(idf[s] for s, k in query.words if not found(s, k, seen)) / total,
        # a question asking for a slot (a number, a year, a name, a place) is unanswered by sentences
        # holding none; a reason or a list has no such sign, so there the feature says nothing
        "kind": float(any(c.features["kind"] for c in chosen)) if query.expects in SLOTS else 1.0,
        "asks_kind": float(bool(query.expects)),
    }


def numbers_missing(query: Query, chosen: list[Candidate], ranked: list[Candidate]) -> list[str]:
    """The question's numbers (years, figures) that the answer's sentences and their neighbours
    never state: an answer about 2019 does not answer a question about 2015."""
    near = window(chosen, ranked)
    return [n for n in query.numbers if n not in near]
