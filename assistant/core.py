"""``Assistant``: one corpus, one index, one embedding model — and the shared default one.

>>> from assistant import Assistant                              # doctest: +SKIP
>>> bot = Assistant("my_articles/", "my_index/")                   # doctest: +SKIP
>>> bot.answer("Where is Khorgos?").citations[0].source            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from assistant import indexer, store
from assistant.chain import Item, build_chain, drain
from assistant.compose import Composer, make_composer
from assistant.embed import Embedder, load_embedder
from assistant.errors import IndexCorruptError, UsageError
from assistant.ingest.load import SUPPORTED, file_sha256, list_files
from assistant.lexicon import disabled, load_lexicon
from assistant.records import Answer, IndexReport, Passage, Status
from assistant.retrieve import MODES, Retriever, SearchOptions
from assistant.settings import Settings, load_settings

log = logging.getLogger(__name__)

OWN_INDEX = ".assistant-index"  # index folder inside a corpus named without an index folder
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")
FOLLOW_UP_START = re.compile(
    r"^(and|but|also|what about|how about|then|а|и|но|также|ещё|еще|а как|что насчёт|что насчет)\b", re.IGNORECASE)
PRONOUN = re.compile(
    r"\b(there|it|they|them|these|those|его|её|ее|их|там|этом|эти|этих|он|она|они)\b", re.IGNORECASE)


def check_question(question: object, max_chars: int) -> tuple[str, tuple[str, ...]]:
    """The question, tidied, and warnings about what was tidied; :class:`UsageError` if unusable."""
    if not isinstance(question, str):
        raise UsageError(f"the question must be text, not {type(question).__name__}")
    warnings: list[str] = []
    cleaned, n = CONTROL.subn(" ", question)
    if n:
        warnings.append(f"removed {n} control character(s) from the question")
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise UsageError("the question is empty: type a question in Russian or English")
    if len(cleaned) > max_chars:
        raise UsageError(
            f"the question is {len(cleaned):,} characters long; the limit is {max_chars:,} "
            "(ASSISTANT_MAX_QUESTION_CHARS): ask something shorter"
        )
    return cleaned, tuple(warnings)


def retrieval_query(question: str, history: Sequence[str] | None) -> str:
    """Fold the previous question into a follow-up's retrieval query (no LLM needed).

    >>> retrieval_query("And how many American companies work there?", ["How much has Japan invested in Kazakhstan?"])
    'How much has Japan invested in Kazakhstan? And how many American companies work there?'
    >>> retrieval_query("Who is Rysmambetov and what does he say about water?", ["Where is Khorgos?"])
    'Who is Rysmambetov and what does he say about water?'
    >>> retrieval_query("Which decree did the president sign that concerns the digital economy?", ["Where?"])
    'Which decree did the president sign that concerns the digital economy?'
    """
    previous = [h for h in (history or []) if h and h.strip()]
    n_words = len(question.split())
    follow_up = FOLLOW_UP_START.search(question) or n_words <= 4 or (n_words <= 9 and PRONOUN.search(question))
    if not previous or not follow_up:
        return question
    return f"{previous[-1].strip()} {question}"


class Assistant:
    """Question answering over one corpus folder, with its index in one index folder.

    ``Assistant("~/papers")`` keeps its index in ``~/papers/.assistant-index`` unless an index
    folder is given (argument, ``ASSISTANT_INDEX_DIR`` or the TOML file).
    """

    def __init__(self, corpus_dir: str | Path | None = None, index_dir: str | Path | None = None,
                 settings: Settings | None = None) -> None:
        base = settings or load_settings()
        updates = {}
        if corpus_dir is not None:
            updates["corpus_dir"] = Path(corpus_dir).expanduser()
        if index_dir is not None:
            updates["index_dir"] = Path(index_dir).expanduser()
        elif corpus_dir is not None and "index_dir" not in base.model_fields_set:
            # Another corpus gets its own index beside it, never the default corpus's index.
            updates["index_dir"] = updates["corpus_dir"] / OWN_INDEX
        self.settings = base.model_copy(update=updates) if updates else base
        self._lock = threading.RLock()
        self._embedder: Embedder | None = None
        self._retriever: Retriever | None = None
        self._composer: Composer | None = None
        self.last_report: IndexReport | None = None

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def corpus_dir(self) -> Path:
        return self.settings.corpus_dir

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings)
                log.info("%s", self._embedder.info.describe())
            return self._embedder

    def index(self, progress: indexer.Progress | None = None, force: bool = False) -> IndexReport:
        """Build or update the index from the corpus folder (incremental).

        Questions keep being answered from the current index while this runs (the build holds
        only the index folder's file lock); the new index is swapped in when it is complete.
        """
        saved, report = indexer.sync(self.corpus_dir, self.index_dir, self.embedder, self.settings,
                                     progress=progress, force=force)
        with self._lock:
            self._use(saved)
            self.last_report = report
        return report

    def _use(self, saved: store.StoredIndex) -> None:
        options = SearchOptions.from_settings(self.settings)
        self._retriever = Retriever(saved, self.embedder, options, lexicon=load_lexicon(self.settings.lexicon))
        self._composer = None

    def retriever(self) -> Retriever:
        """The loaded index, built or updated first if needed."""
        with self._lock:
            if self._retriever is not None:
                return self._retriever
            try:
                saved = store.load(self.index_dir)
            except IndexCorruptError as exc:
                log.warning("index in %s unusable (%s): rebuilding from the corpus", self.index_dir, exc)
                saved = None
            fingerprint = saved.manifest.get("model", {}).get("fingerprint") if saved else None
            if saved is not None and fingerprint == self.embedder.fingerprint:
                if not self.corpus_dir.is_dir():
                    log.warning("corpus folder %s is missing: answering from the index", self.corpus_dir)
                    self._use(saved)
                elif indexer.corpus_unchanged(self.corpus_dir, saved, self.settings):
                    self._use(saved)
            if self._retriever is None:
                self.index()
            assert self._retriever is not None
            return self._retriever

    @property
    def composer(self) -> Composer:
        with self._lock:
            retriever = self.retriever()
            if self._composer is None:
                self._composer = make_composer(self.settings, retriever)
            return self._composer

    def _composer_for(self, mode: str | None) -> Composer:
        """The configured composer, or the extractive one when ``mode="extractive"``."""
        if mode in (None, "", "llm"):
            return self.composer
        if mode != "extractive":
            raise UsageError(f"unknown answer mode {mode!r}: use llm or extractive")
        composer = self.composer
        return getattr(composer, "fallback", None) or (
            composer if composer.name == "extractive" else make_composer(
                self.settings.model_copy(update={"llm_provider": "none"}), self.retriever()))

    # --- asking ----------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, mode: str = "hybrid",
                 user: str | None = None) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first (``user``: see :meth:`stream`)."""
        q, _ = check_question(question, self.settings.max_question_chars)
        if mode not in MODES:
            raise UsageError(f"unknown retrieval mode {mode!r}: use hybrid, dense or lexical")
        retriever = self.retriever()
        return retriever.search(retriever.analyse(q, user=user, mode=mode), k=self._k(k), mode=mode)

    def stream(self, question: str, k: int | None = None, history: Sequence[str] | None = None,
               mode: str | None = None, user: str | None = None) -> Iterator[Item]:
        """Text deltas of the answer as it is written, then the finished :class:`Answer`.

        The one answer path: :meth:`answer`, the CLI, the chat and the evaluation all run it.
        ``history``: earlier questions of the conversation (for follow-ups); ``mode``:
        ``"extractive"`` to quote sentences even when an LLM is configured; ``user``: search the
        shared corpus plus this user's own uploads only.
        """
        q, warnings = check_question(question, self.settings.max_question_chars)
        composer = self._composer_for(mode)
        retriever = self.retriever()
        query = retriever.analyse(q, self._standalone(q, history, composer), user=user)
        yield from build_chain(retriever, composer).stream({"query": query, "k": self._k(k), "warnings": warnings})

    def answer(self, question: str, k: int | None = None, history: Sequence[str] | None = None,
               mode: str | None = None, user: str | None = None) -> Answer:
        """A cited answer to ``question``: :meth:`stream`, drained."""
        return drain(self.stream(question, k=k, history=history, mode=mode, user=user))

    def _standalone(self, question: str, history: Sequence[str] | None, composer: Composer) -> str:
        return getattr(composer, "rewrite", retrieval_query)(question, history)

    def _k(self, k: int | None) -> int:
        if k is None:
            return self.settings.top_k
        if not isinstance(k, int) or not 1 <= k <= 50:
            raise UsageError("k must be a whole number from 1 to 50")
        return k

    # --- what is there ---------------------------------------------------------------------
    def status(self) -> Status:
        retriever = self.retriever()
        info = self.embedder.info
        warnings = [self.last_report.rebuilt_reason] if self.last_report and self.last_report.rebuilt_reason else []
        if info.fallback or not info.multilingual:
            warnings.insert(0, "full cross-lingual retrieval needs the multilingual model "
                               f"({self.settings.embedding_model}); see README 'Using the multilingual model'")
        lexicon = retriever.lexicon
        if lexicon is None and not disabled(self.settings.lexicon):
            warnings.append("no English–Russian lexicon: cross-lingual BM25 is off "
                            "(install it with: sudo apt-get install mueller7-dict)")
        return Status(model=info, documents=len(retriever.index.documents), passages=retriever.size,
                      composer=getattr(self.composer, "description", self.composer.name),
                      corpus_dir=str(self.corpus_dir), index_dir=str(self.index_dir), warnings=tuple(warnings),
                      lexicon=f"{lexicon.name} ({len(lexicon):,} English headwords)" if lexicon else "none",
                      retrieval=retriever.describe())

    def documents(self) -> dict[str, str]:
        """Indexed documents: source → title."""
        return {s: d.title for s, d in self.retriever().index.documents.items()}

    def document_text(self, source: str) -> str:
        """The cleaned text of a document: what citation offsets point into."""
        docs = self.retriever().index.documents
        if source not in docs:
            raise UsageError(f"no document {source!r} in the index")
        return docs[source].text

    # --- adding documents ------------------------------------------------------------------
    def add_files(self, paths: Sequence[str | Path], progress: indexer.Progress | None = None,
                  subfolder: str = "uploads") -> tuple[IndexReport, list[str]]:
        """Copy files into the corpus folder (names sanitised, duplicates by content skipped)
        and update the index. Returns the index report and one message per file."""
        target = self.corpus_dir / subfolder
        target.mkdir(parents=True, exist_ok=True)
        known = {file_sha256(p): p.name for p in list_files(self.corpus_dir)}
        messages = []
        limit = int(self.settings.max_upload_mb * 1_000_000)
        for raw in paths:
            path = Path(raw)
            name = safe_name(path.name)
            if path.suffix.lower() not in SUPPORTED:
                messages.append(f"{path.name}: not added — only {', '.join(SUPPORTED)} files are accepted")
                continue
            if not path.is_file():
                messages.append(f"{path.name}: not added — file not found")
                continue
            if path.stat().st_size > limit:
                messages.append(f"{path.name}: not added — larger than {self.settings.max_upload_mb:g} MB")
                continue
            digest = file_sha256(path)
            if digest in known:
                messages.append(f"{path.name}: already in the corpus as {known[digest]}")
                continue
            dest = _free_path(target / name)
            shutil.copyfile(path, dest)
            known[digest] = dest.name
            messages.append(f"{path.name}: added as {dest.relative_to(self.corpus_dir).as_posix()}")
        report = self.index(progress=progress)
        for skipped in report.skipped:
            messages.append(f"skipped {skipped}")
        return report, messages


def safe_name(name: str) -> str:
    """A file name with no path, no leading dots and only safe characters.

    >>> safe_name("../../etc/pass wd.txt")
    'pass_wd.txt'
    >>> len(safe_name("a" * 300 + ".md")), safe_name("a" * 300 + ".md")[-3:], safe_name(".txt")
    (120, '.md', 'upload.txt')
    """
    base = Path(name.replace("\\", "/")).name
    if base.startswith(".") and base.count(".") == 1:
        base = "upload" + base  # ".txt" is an extension with no name: keep the extension
    base = re.sub(r"[^\w.\-]+", "_", base, flags=re.UNICODE).lstrip(".") or "upload"
    stem, suffix = Path(base).stem, Path(base).suffix
    return stem[: 120 - len(suffix)] + suffix


def _free_path(path: Path) -> Path:
    if not path.exists():
        return path
    for i in range(2, 10_000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise UsageError(f"too many files named {path.name}")


_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The shared assistant over the default corpus (settings from the environment)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
        return _default


def reset_default() -> None:
    """Forget the shared assistant (tests, or after changing ``ASSISTANT_*`` variables)."""
    global _default
    with _default_lock:
        _default = None


def answer(question: str, k: int | None = None, history: Sequence[str] | None = None) -> Answer:
    """A cited answer from the default corpus. See :meth:`Assistant.answer`."""
    return default_assistant().answer(question, k=k, history=history)


def retrieve(question: str, k: int | None = None) -> list[Passage]:
    """The ``k`` best passages of the default corpus, best first. See :meth:`Assistant.retrieve`."""
    return default_assistant().retrieve(question, k=k)
