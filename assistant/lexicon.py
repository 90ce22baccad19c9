"""A bilingual English↔Russian lexicon for cross-lingual lexical search.

With the English-only stand-in model an English question about a Russian article has nothing
to match but names and numbers. Dictionary-based query translation (the classic CLIR method:
each question word becomes the set of its translations, scored as one concept) closes much
of that gap without any model. The dictionary is Mueller's English–Russian dictionary, 7th
edition (GPL), packaged by Debian as ``mueller7-dict`` in dictd format; ``make setup``
installs it. Russian→English uses the same entries read backwards.

Hand-written on purpose: no maintained PyPI package reads dictd files, and the format is two
lines of spec — an index of ``headword<TAB>offset<TAB>length`` (offsets in base64 digits) into a
gzip-compressed text of articles.

>>> entry = '''invest
...    [ɪn↗vɛst] _v.
...    1) помещать, вкладывать деньги, капитал (in)
...    2) _разг. покупать что-л.
... '''
>>> translations(entry)
[('помещать', 1.0), ('вкладывать', 1.0), ('капитал', 1.0), ('деньги', 0.5)]
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PATHS = ("/usr/share/dictd/mueller7",)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
HOMONYM = re.compile(r"(?m)^\s*_[IVX]+\b")  # "   _II [..]" starts a second homonym
REFERENCE = re.compile(r"(?:=|\bот)\s+([A-Za-z][A-Za-z-]+)")
# labels of a word's origin or region, not of a rarer meaning
ORIGIN_LABELS = frozenset("фр лат нем ит исп греч амер англ шотл ирл австрал инд араб голл".split())
TRANSLATION_START = re.compile(r"(?<![_\w])[а-яёА-ЯЁ]")  # a Cyrillic word that is no ``_label.``
POS_BLOCK = re.compile(r"(?m)^\s*\d+\.\s")  # "   2. _v." starts a part of speech
SENSE = re.compile(r"(?m)^\s*(?:\d+\.\s*)?(?:_[^\s.]+\.\s*)*(\d+)\)")
LABEL = re.compile(r"_([^\W\d_]+)\.")  # grammar and domain labels: _n. _v. _разг. _воен.
LATIN_WORD = re.compile(r"\b[a-zA-Z]{2,}")
CYRILLIC_WORD = re.compile(r"[а-яё]+(?:-[а-яё]+)?")
SENSES_KEPT = 2  # later senses are rarer meanings: on the tuning set they only added noise
SENSE_WEIGHTS = (1.0, 0.6)
MAX_PER_SENSE = 6


def _b64(digits: str) -> int:
    n = 0
    for ch in digits:
        n = n * 64 + B64.index(ch)
    return n


def translations(article: str, fallback: bool = True) -> list[tuple[str, float]]:
    """Russian words of an article's first senses, each with a weight, best first.

    Each homonym (``_I``, ``_II``) and part of speech (``1. _n.``, ``2. _v.``) gives its first two
    senses. A sense is cut at its first English word (what follows is an example phrase with
    its own translation), and a sense whose translation is preceded by a domain or register
    label (``_воен.``, ``_разг.``; origin labels like ``_фр.`` do not count) is skipped as a
    rarer meaning, unless no sense is left (then the first one counts, at half weight, when
    ``fallback``). The first word of each comma-separated translation carries the sense's
    weight, the rest of a phrase half of it (``вкладывать деньги``: the verb, not the money).
    """
    body = article.split("\n", 1)[1] if "\n" in article else ""
    body = re.sub(r"\[[^\]]*\]", " ", body)  # transcriptions
    out: dict[str, float] = {}
    first_skipped: str | None = None
    for homonym in HOMONYM.split(body):
        for block in POS_BLOCK.split(homonym):
            starts = [m.start(1) for m in SENSE.finditer(block)]
            senses = ([block[a:b] for a, b in zip(starts, [*starts[1:], len(block)], strict=True)]
                      if starts else [block])
            kept = 0
            for sense in senses:
                text = re.sub(r"^\d+\)", " ", sense.strip())
                cyrillic = TRANSLATION_START.search(text)
                before = text[: cyrillic.start()] if cyrillic else text
                if any(re.search("[а-я]", lab) and lab not in ORIGIN_LABELS for lab in LABEL.findall(before)):
                    first_skipped = first_skipped or text
                    continue
                found = _words(text)
                if not found:
                    continue
                weight = SENSE_WEIGHTS[min(kept, len(SENSE_WEIGHTS) - 1)]
                for word, share in found[:MAX_PER_SENSE]:
                    out[word] = max(out.get(word, 0.0), weight * share)
                kept += 1
                if kept >= SENSES_KEPT:
                    break
    if not out and fallback and first_skipped:
        out = {word: 0.5 * share for word, share in _words(first_skipped)[:MAX_PER_SENSE]}
    return sorted(out.items(), key=lambda kv: -kv[1])


def _words(sense: str) -> list[tuple[str, float]]:
    text = re.sub(r"\([^)]*\)", " ", LABEL.sub(" ", sense))
    latin = LATIN_WORD.search(text)
    text = text[: latin.start()] if latin else text
    found: list[tuple[str, float]] = []
    for phrase in re.split(r"[,;]", text.lower()):
        phrase_words = [w for w in CYRILLIC_WORD.findall(phrase) if len(w) >= 3 and not w.endswith("-л")]
        found += [(w, 1.0 if i == 0 else 0.5) for i, w in enumerate(phrase_words)]
    return found


def references(article: str) -> list[str]:
    """Headwords an article points to instead of translating: ``= program``, ``_p. от go``."""
    return REFERENCE.findall(article.split("\n", 1)[1] if "\n" in article else "")


class Lexicon:
    """Mueller's articles by English headword; an article is parsed when first asked for.

    Country names, which the dictionary lacks, come from ``pycountry``'s ISO 3166 names and
    their Russian translations (``Japan`` → ``Япония``).
    """

    def __init__(self, name: str, entries: dict[str, list[tuple[str, str]]], data: bytes) -> None:
        self.name = name
        # lower-cased headword → its articles' (offset, length) in base64 digits: dictd folds
        # case, so ``japan`` (lacquer) and ``Japan`` share a key; digits are decoded on lookup
        self.entries = entries
        self.data = data
        self.countries = _countries()

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_dictd(cls, base: str | Path) -> Lexicon:
        """Read ``BASE.index`` and ``BASE.dict.dz`` (or ``BASE.dict``)."""
        base = Path(base)
        index = base.with_name(base.name + ".index")
        data_path = base.with_name(base.name + ".dict.dz")
        data = (gzip.decompress(data_path.read_bytes()) if data_path.exists()
                else base.with_name(base.name + ".dict").read_bytes())
        entries: dict[str, list[tuple[str, str]]] = {}
        for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            # single English words only (``co-operation`` is kept as ``cooperation``); phrases
            # and the ``00-database-*`` header entries are skipped
            head = parts[0].replace("-", "").lower() if len(parts) == 3 else ""
            if head.isascii() and head.isalpha():
                entries.setdefault(head, []).append((parts[1], parts[2]))
        if not entries:
            raise ValueError(f"{index} holds no English headwords")
        return cls(base.name, entries, data)

    @lru_cache(maxsize=50_000)  # noqa: B019 — one lexicon per process, kept for its lifetime
    def russian(self, word: str, follow: bool = True) -> tuple[tuple[str, float], ...]:
        """Russian translations of an English word, best first.

        A capitalised word takes the articles of capitalised headwords when there are any
        (``Japan`` the country, not ``japan`` the lacquer), a lower-case word the others.

        >>> text = "wall\\n   [wo:l]\\n   1) стена\\n   2) стенка\\n"
        >>> lex = Lexicon("t", {"wall": [("A", B64[len(text.encode())])]}, text.encode())
        >>> lex.russian("wall")
        (('стена', 1.0), ('стенка', 0.6))
        """
        if word in self.countries:
            return tuple((w, 1.0) for w in self.countries[word])
        articles = []
        for offset, length in self.entries.get(word.lower(), []):
            start = _b64(offset)
            articles.append(self.data[start:start + _b64(length)].decode("utf-8", errors="replace"))
        same_case = [a for a in articles if a[:1].isupper() == word[:1].isupper()]
        out: dict[str, float] = {}
        for article in same_case or articles:
            refs = [r for r in references(article) if r.lower() != word.lower()] if follow else []
            pairs = translations(article, fallback=not refs)
            for ref in refs[:2]:  # ``built`` → ``build``, ``programme`` → ``program``: one hop only
                pairs += [(w, 0.9 * weight) for w, weight in self.russian(ref, follow=False)]
            for russian, weight in pairs:
                out[russian] = max(out.get(russian, 0.0), weight)
        return tuple(sorted(out.items(), key=lambda kv: -kv[1]))


def _countries() -> dict[str, tuple[str, ...]]:
    """One-word English country names → the Russian words of their ISO 3166 names."""
    try:
        import gettext
        import json

        import pycountry
    except ImportError:  # an optional nicety: the dictionary alone still works
        return {}
    # pycountry's data files are read directly: building its country objects takes 0.8 s
    db = json.loads((Path(pycountry.DATABASE_DIR) / "iso3166-1.json").read_text(encoding="utf-8"))
    ru = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ru"], fallback=True)
    out: dict[str, tuple[str, ...]] = {}
    for country in db["3166-1"]:
        found = tuple(w for w in CYRILLIC_WORD.findall(ru.gettext(country["name"]).lower())
                      if len(w) >= 3 and w not in STATE_WORDS)
        for attr in ("name", "common_name"):
            english = country.get(attr, "")
            if found and english.isalpha():
                out.setdefault(english, found)
    # everyday names that ISO spells otherwise ("Russian Federation", "Türkiye", "Korea, Republic of")
    return {**COUNTRY_ALIASES, **out}


# words of official state names that say nothing about which state it is
STATE_WORDS = frozenset("республика федерация королевство государство княжество штат штаты "
                        "демократическая народная исламская объединённые соединённые".split())
COUNTRY_ALIASES = {
    "Russia": ("россия",), "Turkey": ("турция",), "Korea": ("корея",), "America": ("америка",),
    "USA": ("сша",), "US": ("сша",), "Britain": ("британия",), "UK": ("великобритания",),
    "Iran": ("иран",), "Syria": ("сирия",), "Moldova": ("молдова",), "Vietnam": ("вьетнам",),
    "Laos": ("лаос",), "Europe": ("европа",), "Asia": ("азия",), "Africa": ("африка",),
}


_LOADED: dict[str, Lexicon] = {}
_LOAD_LOCK = threading.Lock()


def disabled(setting: str) -> bool:
    return setting.strip().lower() in ("", "none", "off")


def load_lexicon(setting: str) -> Lexicon | None:
    """The lexicon named by the ``lexicon`` setting: ``auto``, ``none`` or a dictd base path.

    ``auto`` takes Debian's Mueller dictionary when installed and is silent when it is not
    (status reports it). A loaded lexicon is kept for the process; a missing one is looked
    for again next time, so installing it takes effect at the next index load.
    """
    if disabled(setting):
        return None
    with _LOAD_LOCK:
        if setting not in _LOADED:
            lexicon = _load(setting)
            if lexicon is None:
                return None
            _LOADED[setting] = lexicon
        return _LOADED[setting]


def _load(setting: str) -> Lexicon | None:
    candidates = DEFAULT_PATHS if setting == "auto" else (setting.removesuffix(".index"),)
    for base in candidates:
        if Path(base + ".index").exists():
            try:
                return Lexicon.from_dictd(base)
            except (OSError, ValueError, EOFError) as exc:
                log.warning("cannot read the lexicon %s: %s", base, exc)
                return None
    if setting != "auto":
        log.warning("lexicon %s not found (expected %s.index and %s.dict.dz)", setting, setting, setting)
    return None
