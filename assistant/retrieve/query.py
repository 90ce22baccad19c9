"""A question, analysed once: the record every stage of search and answering reads.

>>> from assistant.retrieve.query import analyse_text
>>> q = analyse_text("What does the expert say about Khorgos in 2020?")
>>> q.language, q.names, q.numbers, q.entities
('en', ('Khorgos',), ('2020',), (('khorgo', '~khorgo'), ('2020', '~')))
>>> [analyse_text(t).expects for t in ("Сколько компаний работает там?", "Who heads the park?",
...  "В каком году создан ЕАЭС?", "Почему союз выгоден?", "Перечислите три риска", "Where is Khorgos?")]
['number', 'person', 'year', 'reason', 'list', 'place']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.ingest.language import detect_language
from assistant.lexical import NAME, analyze, words
from assistant.text import safe_text
from assistant.translate import Concept

NUMBER = re.compile(r"^\d+(?:\.\d+)?$")

# What kind of answer a question asks for, by its wording (first match wins). Why by hand: a
# question classifier needs training data and a model; these patterns cover the question forms
# of both languages that change how an answer is chosen (a number, a year, a name, a list, a reason).
EXPECTS = (
    ("year", r"^\W*(when|когда)\b|\b(what year|which year|in what year|on what date|what date)\b"
             r"|\b(в каком году|какого числа|в какой день|какого года|в какие годы)\b"),
    ("number", r"\b(how (much|many|large|big|long|fast)|by how much|what (percentage|percent|share|proportion|"
               r"volume|amount|number|value|rate)|to what extent)\b"
               r"|\b(сколько|на сколько|во сколько|как(ой|ая|ую|ого|ова|ов) (объ[её]м|доля|долю|процент|"
               r"размер|число|количество|сумм)|как(ова|ов) (доля|объ[её]м))"),
    ("person", r"\b(who|whom|whose)\b|\bкто\b|\bкого\b|\bчей\b|\bчья\b|как зовут"),
    ("place", r"\b(where|which (city|country|region|border))\b|\bгде\b|\bкуда\b|\bв как(ом|ой) (город|стран|регион)"),
    ("reason", r"\b(why|for what reason|what makes|how come)\b|\bпочему\b|\bзачем\b|по какой причине"),
    ("list", r"\b(list|name (the|all)|(what|which) (two|three|four|five|kinds?|sorts?|types?) )"
             r"|\b(which|what) (?!(is|was|does|has|this|its|his)\b)(\w+ ){0,2}?\w{3,}(?<!s)s\b(?! (is|was|has|does)\b)"
             r"|\b(перечисл\w*|назов\w+|как(ие|их|ими) )"),
    ("name", r"\b(what is the name|what (is|are) .{0,40} called|which (company|organi[sz]ation|programme|program|"
             r"forum|platform|document|institution))\b|\bкак называ\w+|\bкак(ая|ой|ие) (компани|организаци|"
             r"программ|форум|платформ|документ)"),
)
_EXPECTS = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in EXPECTS)
# Where a question asks a second thing: "…, and what does he say…", "… и какую роль…", "…? And …", "…: …"
_PART_BREAK = re.compile(
    r"(?:[?:;]\s+|,?\s+(?:and|а также|и|а)\s+(?=(?:what|which|who|how|when|where|why|whom|whose|in what|"
    r"что|какой|какая|какое|какие|какую|каким|каких|как|кто|где|когда|почему|зачем|сколько|чем|в како\w+)\b))",
    re.IGNORECASE)


MAX_PARTS = 4


def split_parts(question: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each part of a question that asks two things, as written and as its stems (``()`` for a
    one-part question).

    >>> split_parts("Who is Rysmambetov and what does he say about water?")
    (('Who is Rysmambetov', ('rysmambetov',)), ('what does he say about water?', ('he', 'about', 'water')))
    >>> split_parts("Where is Khorgos?")
    ()
    >>> [stems for _, stems in split_parts("Who leads Khorgos? What grows? Where is Astana? Why trade? How fast?")]
    [('lead', 'khorgo'), ('grow',), ('astana',), ('trade', 'fast')]
    """
    pieces = [p.strip() for p in _PART_BREAK.split(question) if p and p.strip(" ,?")]
    if len(pieces) > MAX_PARTS:  # each part is embedded: a run-on question must not cost a batch per clause
        pieces = [*pieces[:MAX_PARTS - 1], " ".join(pieces[MAX_PARTS - 1:])]
    parts = tuple((p, tuple(dict.fromkeys(stem for stem, _ in words(p)))) for p in pieces)
    parts = tuple((p, stems) for p, stems in parts if stems)
    return parts if len(parts) >= 2 else ()


_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "два": 2, "две": 2, "двух": 2, "двумя": 2,
                "три": 3, "трёх": 3, "трех": 3, "тремя": 3, "четыре": 4, "четырёх": 4, "четырех": 4,
                "пять": 5, "пяти": 5, "шесть": 6, "шести": 6}
_COUNT = re.compile(r"\b(?:which|what|the|name|list|какие|каких|какими|каким|назовите|перечислите|в|на|о|об)\s+"
                    r"(?:(?:main|key|major|главн\w+|основн\w+|ключев\w+)\s+)?(" + "|".join(_COUNT_WORDS) + r"|[2-6])\b",
                    re.IGNORECASE)


def asked_count(question: str) -> int:
    """How many items a question asks for, when it says so (``0`` when it does not).

    >>> [asked_count(q) for q in ("Which three risks does the author name?", "В каких трёх областях?",
    ...                          "Какие две страны?", "What happened in 2020?", "Who are the two leaders?",
    ...                          "Что изменилось в 2020 году?")]
    [3, 3, 2, 0, 2, 0]
    """
    m = _COUNT.search(question)
    if not m:
        return 0
    word = m.group(1).lower()
    return int(word) if word.isdigit() else _COUNT_WORDS[word]


def expected_answer(question: str) -> str:
    """``year``, ``number``, ``person``, ``place``, ``reason``, ``list``, ``name`` or ``""``."""
    return next((kind for kind, pattern in _EXPECTS if pattern.search(question)), "")


@dataclass(frozen=True, eq=False)
class Query:
    """What search and answering know about one question.

    ``question`` is what was asked; ``text`` is what is searched (for a follow-up, its standalone
    form; otherwise the question). ``words`` (stem, cross-script key) and ``numbers`` are the
    question's own, which an answer must cover; ``terms``, ``names``, ``concepts`` and ``vector``
    describe ``text``, which retrieval ranks by. ``user`` scopes the search to the shared corpus
    plus that user's own uploads (``None``: the shared corpus and every upload).
    """

    question: str
    text: str
    language: str
    words: tuple[tuple[str, str], ...]
    numbers: tuple[str, ...]
    terms: tuple[str, ...]
    names: tuple[str, ...]
    entities: tuple[tuple[str, str], ...] = ()  # (stem, key) of the question's names and numbers
    expects: str = ""  # the kind of answer asked for (see ``expected_answer``)
    count: int = 0  # how many items the question asks for ("which three risks": 3; see ``asked_count``)
    parts: tuple[tuple[str, ...], ...] = ()  # stems of each part of a two-part question
    part_texts: tuple[str, ...] = ()  # … and each part as written
    concepts: tuple[Concept, ...] = ()
    vector: np.ndarray | None = field(default=None, repr=False)
    part_vectors: np.ndarray | None = field(default=None, repr=False)  # one row per part of ``part_texts``
    user: str | None = None

    @property
    def translations(self) -> dict[str, dict[str, float]]:
        """Question stem → its translated index terms and their weights."""
        return {c.source: dict(c.terms) for c in self.concepts}

    def with_vector(self, vector: np.ndarray | None) -> Query:
        return replace(self, vector=vector)


def analyse_text(question: str, text: str | None = None, user: str | None = None) -> Query:
    """The lexical part of the analysis (no model, no dictionary): language, words, terms, names."""
    question = safe_text(question)
    text = safe_text(text) if text else question
    asked = words(question)
    parts = split_parts(question)
    names = tuple(m.group() for m in NAME.finditer(text) if m.start() > 0)
    numbers = tuple(dict.fromkeys(stem for stem, _ in asked if NUMBER.match(stem)))
    named = {stem for m in NAME.finditer(question) if m.start() > 0 for stem, _ in words(m.group())}
    entities = tuple(dict.fromkeys((stem, key) for stem, key in asked if stem in named or stem in numbers))
    return Query(
        question=question, text=text, language=detect_language(question), words=tuple(asked),
        numbers=numbers, terms=tuple(analyze(text)), names=names, user=user, entities=entities,
        expects=expected_answer(question), parts=tuple(stems for _, stems in parts),
        part_texts=tuple(piece for piece, _ in parts), count=asked_count(question),
    )
