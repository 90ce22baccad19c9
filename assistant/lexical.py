"""BM25 over passages, with Russian and English stemming and cross-script keys.

Each token is stemmed by the Snowball stemmer of its own script (Cyrillic → Russian, Latin →
English), so Latin names inside Russian text stay English tokens. Each word also yields a
*cross-script key*: its first six letters transliterated to Latin. That is what lets an
English question's ``Khorgos`` or ``Sberbank`` reach ``Хоргоса`` or ``Сбербанка`` even with
an English-only embedding model. Numbers are normalised (``2,6`` and ``2.6`` are one token).

>>> analyze("Развитие Хоргоса и 2,6%")
['развит', '~razvit', 'хоргос', '~khorgo', '2.6']
>>> analyze("Khorgos grew by 2.6%")
['khorgo', '~khorgo', 'grew', '~grew', '2.6']
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import bm25s
import numpy as np
import Stemmer
from anyascii import anyascii
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_RUSSIAN

if TYPE_CHECKING:
    from assistant.translate import Concept

TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
NAME = re.compile(r"\b[A-ZА-ЯЁ][\w.-]*[a-zа-яё][\w-]*")  # a capitalised word (not an all-caps acronym)
# question words and fillers that carry no topic in either language
QUESTION_WORDS = """
what which who whom whose why how when where does did do is are was were according article author say
says said tell mention mentioned text passage что какой какая какие каков какова каковы кто почему
зачем как когда где ли по словам автор автора статье статья статьи говорится сказано упоминается
данным данные это сколько much many
""".split()
STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_RUSSIAN) | frozenset(QUESTION_WORDS)
KEY_LEN = 6

_RU = Stemmer.Stemmer("russian")
_EN = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(token: str) -> str:
    if CYRILLIC.search(token):
        return _RU.stemWord(token)
    if token.isascii() and token.isalpha():
        return _EN.stemWord(token)
    return token


@lru_cache(maxsize=200_000)
def _key(token: str) -> str:
    latin = re.sub(r"[^a-z]", "", anyascii(token).lower())
    return "~" + latin[:KEY_LEN] if len(latin) >= 4 else ""


def words(text: str) -> list[tuple[str, str]]:
    """``(stem, cross-script key)`` for each word of ``text`` that carries meaning.

    >>> words("Сбербанк и 5G")
    [('сбербанк', '~sberba'), ('5g', '~')]
    """
    out: list[tuple[str, str]] = []
    for raw in TOKEN.findall(text.lower()):
        if raw[0].isdigit():
            out.append((raw.replace(",", "."), "~"))
        elif raw not in STOPWORDS and len(raw) >= 2:
            out.append((_stem(raw), _key(raw) or "~"))
    return out


def analyze(text: str) -> list[str]:
    """Search terms of ``text``: stems and cross-script keys, stopwords removed."""
    out: list[str] = []
    for stem, key in words(text):
        out.append(stem)
        if key != "~":
            out.append(key)
    return out


class Idf(Mapping[str, float]):
    """IDF of every index term, read off the BM25 index itself: a term's document frequency is
    the length of its posting list (bm25s keeps one column per term), so nothing is stored twice
    and nothing is rebuilt at load."""

    def __init__(self, vocab: Mapping[str, int], indptr: np.ndarray | Sequence[int], size: int) -> None:
        self.vocab = vocab
        self.indptr = np.asarray(indptr, dtype=np.int64).tolist()  # one entry per term: small, read often
        self.n = max(size, 1)

    def df(self, term: str) -> int:
        i = self.vocab.get(term)
        return 0 if i is None or i + 1 >= len(self.indptr) else self.indptr[i + 1] - self.indptr[i]

    def __getitem__(self, term: str) -> float:
        c = self.df(term)
        if not c:
            raise KeyError(term)
        return math.log(1 + (self.n - c + 0.5) / (c + 0.5))

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.df(term) > 0

    def __iter__(self) -> Iterator[str]:
        return (t for t in self.vocab if self.df(t) > 0)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class ScriptKeys:
    """Cross-script key → the passage rows where a word of one script yields it, as CSR arrays
    (sorted keys, offsets, rows): compact, saved as .npy, and read memory-mapped."""

    def __init__(self, keys: Sequence[str], indptr: np.ndarray, rows: np.ndarray) -> None:
        self.keys = list(keys)
        self.position = {k: i for i, k in enumerate(self.keys)}
        self.indptr = indptr
        self.rows = rows

    @classmethod
    def build(cls, found: Mapping[str, set[int]]) -> ScriptKeys:
        keys = sorted(found)
        sizes = np.array([len(found[k]) for k in keys], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        rows = np.fromiter((r for k in keys for r in sorted(found[k])), dtype=np.int64, count=int(indptr[-1]))
        return cls(keys, indptr, rows)

    def __contains__(self, key: object) -> bool:
        return key in self.position

    def get(self, key: str) -> np.ndarray:
        i = self.position.get(key)
        return np.zeros(0, dtype=np.int64) if i is None else np.asarray(self.rows[self.indptr[i] : self.indptr[i + 1]])


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over analysed passages, plus term IDF for other stages.

    Built once per generation and saved with it (:meth:`save`); :meth:`open` reads it back with
    its arrays memory-mapped, so opening an index never re-analyses its passages."""

    LEXICAL_FILES = ("bm25/data.csc.index.npy", "bm25/indices.csc.index.npy", "bm25/indptr.csc.index.npy",
                     "bm25/vocab.index.json", "bm25/params.index.json", "script_keys.json",
                     "script_cyr_indptr.npy", "script_cyr_rows.npy", "script_lat_indptr.npy", "script_lat_rows.npy")

    def __init__(self, texts: Sequence[str] | Iterable[str], size: int | None = None) -> None:
        self.bm25 = bm25s.BM25()
        found: dict[bool, dict[str, set[int]]] = {True: {}, False: {}}
        tokens: list[list[str]] = []
        for row, text in enumerate(texts):
            pairs = words(text)
            toks: list[str] = []
            for stem, key in pairs:
                toks.append(stem)
                if key != "~":
                    toks.append(key)
                    found[bool(CYRILLIC.search(stem))].setdefault(key, set()).add(row)
            tokens.append(toks or ["\u2205"])
        self.size = len(tokens)
        if tokens:
            self.bm25.index(tokens, show_progress=False)
        del tokens
        self._finish({c: ScriptKeys.build(found[c]) for c in (True, False)})

    def _finish(self, by_script: dict[bool, ScriptKeys]) -> None:
        vocab = getattr(self.bm25, "vocab_dict", None) or {}
        indptr = self.bm25.scores["indptr"] if self.size else np.zeros(1, dtype=np.int64)
        self.idf: Mapping[str, float] = Idf(vocab, indptr, self.size)
        self.max_idf = math.log(1 + (max(self.size, 1) + 0.5) / 0.5)
        # key → passages where a word of each script yields it (for cross-script matching)
        self.by_script = by_script

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (bm25s's own files, plus the cross-script keys)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.size:
            self.bm25.save(str(folder / "bm25"), show_progress=False)
        else:
            (folder / "bm25").mkdir(exist_ok=True)
        (folder / "script_keys.json").write_text(json.dumps(
            {"size": self.size, "cyr": self.by_script[True].keys, "lat": self.by_script[False].keys},
            ensure_ascii=False), encoding="utf-8")
        for name, cyrillic in (("cyr", True), ("lat", False)):
            np.save(folder / f"script_{name}_indptr.npy", self.by_script[cyrillic].indptr, allow_pickle=False)
            np.save(folder / f"script_{name}_rows.npy", self.by_script[cyrillic].rows, allow_pickle=False)

    @classmethod
    def open(cls, folder: Path) -> LexicalIndex:
        """A saved index, its posting lists memory-mapped (bm25s ``load(mmap=True)``)."""
        self = cls.__new__(cls)
        meta = json.loads((folder / "script_keys.json").read_text(encoding="utf-8"))
        self.size = int(meta["size"])
        self.bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=True, show_progress=False) if self.size \
            else bm25s.BM25()
        keys = {}
        for name, cyrillic in (("cyr", True), ("lat", False)):
            keys[cyrillic] = ScriptKeys(meta[name], np.load(folder / f"script_{name}_indptr.npy", mmap_mode="r"),
                                        np.load(folder / f"script_{name}_rows.npy", mmap_mode="r"))
        self._finish(keys)
        return self

    def weight(self, term: str) -> float:
        """IDF of ``term``; unseen terms weigh the most (they are the most specific)."""
        return self.idf.get(term, self.max_idf)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for a query's analysed ``terms`` (see :func:`analyze`)."""
        known = [t for t in terms if t in self.idf]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def concept_scores(self, concepts: Iterable[Concept]) -> np.ndarray:
        """BM25 of a translated question: each concept scores by its best weighted translation
        (so a word with many translations counts once), concepts add up."""
        total = np.zeros(self.size, dtype=np.float32)
        for concept in concepts:
            best = np.zeros(self.size, dtype=np.float32)
            for term, w in concept.terms:
                if term in self.idf:
                    best = np.maximum(best, w * np.asarray(self.bm25.get_scores([term]), dtype=np.float32))
            total += best
        return total

    def cross_script(self, names: Sequence[str], k: int, max_share: float = 0.25) -> list[tuple[int, float]]:
        """Passages ranked only by the query's *names* found in the other script.

        ``Khorgos`` in an English question meets ``Хоргоса`` in a Russian passage through the key
        ``~khorgo`` (and ``Даленов`` meets ``Dalenov`` the other way): strong evidence even when
        the question's other words favour passages in its own language. Only capitalised words
        past the first one count (names, not vocabulary), only when the corpus never spells them
        in the question's own script (``Belarus`` and ``Беларусь`` are left to BM25), and keys
        found in more than ``max_share`` of passages mean nothing across languages.
        """
        scores: dict[int, float] = {}
        limit = max_share * max(self.size, 1)
        for stem, key in dict(words(" ".join(names))).items():
            if key == "~":
                continue
            cyrillic = bool(CYRILLIC.search(stem))
            if self._own_script(key, cyrillic):
                continue  # the name is in the corpus in its own script: BM25 finds it there
            rows = self._other_script(key, cyrillic)
            if not len(rows) or len(rows) > limit:
                continue
            for row in rows.tolist():
                scores[row] = scores.get(row, 0.0) + self.weight(key)
        return sorted(scores.items(), key=lambda kv: -kv[1])[:k]

    def _own_script(self, key: str, cyrillic: bool) -> bool:
        """Whether a word in the script ``cyrillic`` yields ``key`` somewhere in the corpus."""
        return key in self.by_script[cyrillic]

    def _other_script(self, key: str, cyrillic: bool) -> np.ndarray:
        """The rows where a word of the other script yields ``key``."""
        return self.by_script[not cyrillic].get(key)


def coverage(query_words: Sequence[tuple[str, str]], text_terms: set[str],
             weight: dict[str, float] | None = None,
             translations: Mapping[str, Mapping[str, float]] | None = None) -> float:
    """IDF-weighted share of the query's words found in a text (0..1).

    A word weighs its stem's IDF. Found by its stem, it counts in full; found only by its
    cross-script key, it counts as much as the key is specific (keys are coarser than stems:
    ``Казахстан`` and ``казахстанский`` share ``~kazakh``). Found only through a dictionary
    translation (``translations``: stem → other-language term → weight), it counts as much as
    the translation's weight.

    >>> coverage([("a", "~a"), ("b", "~")], {"a"})
    0.5
    >>> coverage([("a", "~a"), ("b", "~")], {"~a"}, {"a": 2.0, "~a": 1.0, "b": 2.0})
    0.25
    """
    if not query_words:
        return 0.0
    w = weight or {}
    total = found = 0.0
    for stem, key in dict(query_words).items():
        full = w.get(stem, w.get(key, 1.0))
        total += full
        if stem in text_terms:
            found += full
        elif key != "~" and key in text_terms:
            found += min(full, w.get(key, full))
        elif translations and stem in translations:
            found += full * max((tw for t, tw in translations[stem].items() if t in text_terms), default=0.0)
    return found / total if total else 0.0
