"""Question words → weighted index terms in the other language (dictionary query translation).

Each content word of the question becomes a *concept*: the index terms (stems, and the
coarser cross-script keys) of its translations that the corpus actually uses, each with the
dictionary's weight. BM25 scores a concept by its best-matching translation, so a word with
many translations counts once (Pirkola's structured queries), and a translation the corpus
never uses costs nothing.

English → Russian reads the dictionary forwards. Russian → English reads it backwards,
built once per index over the English words the corpus holds, so only useful entries are
parsed. Names the dictionary lacks are left to the cross-script keys of ``lexical``.

>>> from assistant.lexicon import B64, Lexicon
>>> text = "wall\\n   [wo:l]\\n   1) стена\\n"
>>> lex = Lexicon("t", {"wall": [("A", B64[len(text.encode())])]}, text.encode())
>>> t = Translator(lex, {"стен": 1.0, "wall": 1.0, "~stena": 1.0})
>>> t.concepts("What is behind the wall?")
[Concept(source='wall', terms=(('стен', 1.0), ('~stena', 0.6)))]
>>> t.concepts("Что за стеной?")
[Concept(source='стен', terms=(('wall', 1.0),))]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from assistant.lexical import CYRILLIC, STOPWORDS, TOKEN, _key, _stem
from assistant.lexicon import Lexicon

KEY_SHARE = 0.6  # a key match (shared first letters) is weaker evidence than a stem match
MAX_TERMS = 8
MAX_HEADS = 4  # English headwords per Russian stem read backwards
# inflections of Russian question words (``каких``, ``какую`` → ``как``). The stems of all
# stopwords, or of all question fillers, also drop content words (``данных`` → ``дан``, as in
# ``по данным``): main-set ru→en accuracy 0.31 → 0.23.
STOP_STEMS = frozenset(_stem(w) for w in "какой каков кто что почему зачем когда где сколько который".split())


@dataclass(frozen=True)
class Concept:
    """One question word (by its stem) and its weighted index terms in the other language."""

    source: str
    terms: tuple[tuple[str, float], ...]


class Translator:
    """Translates questions into the index terms of a given corpus vocabulary."""

    def __init__(self, lexicon: Lexicon, vocabulary: Mapping[str, float]) -> None:
        self.lexicon = lexicon
        self.vocabulary = vocabulary
        # Russian stem → English headwords whose stem the corpus uses (the dictionary backwards)
        english = {t for t in vocabulary if t.isascii() and t.isalpha()}
        backwards: dict[str, dict[str, float]] = {}
        for head in lexicon.entries:
            if head in STOPWORDS or _stem(head) not in english:
                continue
            for russian, weight in lexicon.russian(head):
                heads = backwards.setdefault(_stem(russian), {})
                heads[head] = max(heads.get(head, 0.0), weight)
        for name, russian_words in lexicon.countries.items():
            if _stem(name.lower()) in english:
                for russian in russian_words:
                    backwards.setdefault(_stem(russian), {})[name.lower()] = 1.0
        self.backwards = {ru: sorted(heads.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_HEADS]
                          for ru, heads in backwards.items()}
        # and by cross-script key, for inflections the stems miss (``инвестировала`` is no
        # stem of ``инвестиция``, but both start ``~invest``)
        by_key: dict[str, dict[str, float]] = {}
        for ru, ranked in self.backwards.items():
            key = _key(ru)
            for head, weight in ranked:
                if key and weight * KEY_SHARE > by_key.setdefault(key, {}).get(head, 0.0):
                    by_key[key][head] = weight * KEY_SHARE
        self.backwards_by_key = {k: sorted(h.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_HEADS]
                                 for k, h in by_key.items()}
        # English stem → headwords, shortest first: ``walls`` and ``invested`` are not headwords
        self.heads: dict[str, list[str]] = {}
        for head in sorted(lexicon.entries, key=len):
            self.heads.setdefault(_stem(head), []).append(head)

    def _russian(self, word: str) -> list[tuple[str, float]]:
        """Translations of an English word, or of the headwords sharing its stem."""
        found = list(self.lexicon.russian(word))
        if found or word[:1].isupper():
            return found
        for head in self.heads.get(_stem(word), [])[:2]:
            found += self.lexicon.russian(head)
        return found

    def _terms(self, words: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
        """Index terms of target-language words: the stem, and the key at a discount."""
        out: dict[str, float] = {}
        for word, weight in words:
            if word in STOPWORDS or _stem(word) in STOP_STEMS:
                continue
            for term, w in ((_stem(word), weight), (_key(word), weight * KEY_SHARE)):
                if term and term in self.vocabulary and w > out.get(term, 0.0):
                    out[term] = w
        return tuple(sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS])

    def concepts(self, question: str) -> list[Concept]:
        """One concept per content word of ``question`` that has translations in the corpus."""
        out: dict[str, Concept] = {}
        for match in TOKEN.finditer(question):
            raw = match.group()
            lower = raw.lower()
            stem = _stem(lower)
            if raw[0].isdigit() or lower in STOPWORDS or stem in STOP_STEMS or len(lower) < 3 or stem in out:
                continue  # ``каких`` is no stopword, but its stem ``как`` is one's
            if CYRILLIC.search(raw):
                heads = self.backwards.get(stem) or self.backwards_by_key.get(_key(lower), [])
                terms = self._terms(list(heads))
            else:
                # a capitalised word past the first is a name: only names the dictionary knows
                # as such (countries, nationalities) are translated, ``Japan`` not as lacquer
                name = raw[0].isupper() and match.start() > 0
                word = raw if name else lower
                terms = self._terms(self._russian(word))
                if not terms and not name and raw[0].isupper():
                    # a sentence-initial name: ``China`` when ``china`` (porcelain) is no corpus word
                    terms = self._terms(self._russian(raw))
            if terms:
                out[stem] = Concept(stem, terms)
        return list(out.values())
