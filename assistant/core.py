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
from assistant.errors import IndexCorruptError, NotAllowedError, UsageError
from assistant.ingest.load import SUPPORTED, Skipped, file_hash, parse
from assistant.lexicon import disabled, load_lexicon
from assistant.library import (
    OPERATOR,
    SHARED,
    UPLOADS,
    Access,
    DocumentView,
    LibraryEntry,
    Records,
    now,
    record_for,
    view,
)
from assistant.library import entries as library_entries
from assistant.records import Answer, Document, IndexReport, Passage, Status
from assistant.retrieve import MODES, Retriever, SearchOptions
from assistant.settings import USER_NAME, Settings, load_settings

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
                saved = store.load(self.index_dir, indexer.milvus_token(self.settings))
            except IndexCorruptError as exc:
                log.warning("index in %s unusable (%s): rebuilding from the corpus", self.index_dir, exc)
                saved = None
            fingerprint = saved.manifest.get("model", {}).get("fingerprint") if saved else None
            if saved is not None and fingerprint == self.embedder.fingerprint:
                if not indexer.store_matches(saved, self.settings):
                    pass  # vectors kept elsewhere than the settings say: the sync below moves them
                elif not self.corpus_dir.is_dir():
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
        return Status(model=info, documents=len(retriever.index.documents), passages=retriever.index.passage_count,
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

    # --- the library: adding, listing, reading, sharing and removing documents --------------
    def add_files(self, paths: Sequence[str | Path], progress: indexer.Progress | None = None,
                  subfolder: str | None = None, user: str | None = None) -> tuple[IndexReport, list[str]]:
        """Copy files into the corpus folder and update the index; the index report and one
        message per file.

        With ``user``, the files become that user's own uploads (``uploads/<user>/``: only their
        questions search them, see :mod:`assistant.library`); without, they join the shared
        corpus (``subfolder``, by default ``shared/``). Names are sanitised; a file refused —
        wrong type, too large, no text in it, or the same content as a document the user can
        already see — is reported and not copied.
        """
        if user is not None and not USER_NAME.fullmatch(user):
            raise UsageError(f"{user[:70]!r} is not a user name")
        folder = f"{UPLOADS}/{user}" if user is not None else (subfolder or SHARED)
        target = self.corpus_dir / folder
        access = Access(user) if user is not None else OPERATOR
        visible = {d.content_hash: s for s, d in self._documents().items() if access.sees(d.owner)}
        messages: list[str] = []
        added: dict[str, str] = {}
        limit = int(self.settings.max_upload_mb * 1_000_000)
        for raw in paths:
            path = Path(raw)
            shown = safe_name(path.name)
            refusal, digest = self._refusal(path, Path(shown).suffix.lower(), limit, visible)
            if refusal:
                messages.append(f"{shown}: not added — {refusal}")
                continue
            target.mkdir(parents=True, exist_ok=True)
            dest = _free_path(target / shown)
            shutil.copyfile(path, dest)
            source = dest.relative_to(self.corpus_dir).as_posix()
            visible[digest] = source
            added[source] = path.name
            messages.append(f"{shown}: added as {source}")
        if added:
            Records(self.corpus_dir).update({s: record_for(user, name) for s, name in added.items()})
        report = self.index(progress=progress)
        for line in report.skipped:  # should the check above have let one through, it goes now
            source = line.split(": ", 1)[0]
            if source in added:
                (self.corpus_dir / source).unlink(missing_ok=True)
                Records(self.corpus_dir).update({source: None})
                messages.append(f"{Path(source).name}: removed — {line.split(': ', 1)[-1]}")
        if any(line.split(": ", 1)[0] in added for line in report.skipped):
            report = self.index(progress=progress)
        return report, messages

    def _refusal(self, path: Path, suffix: str, limit: int, visible: dict[str, str]) -> tuple[str, str]:
        """Why ``path`` (to be stored with ``suffix``) cannot join the corpus (``""`` if it can),
        and its content hash."""
        if suffix not in SUPPORTED:
            return f"only {', '.join(SUPPORTED)} files are accepted", ""
        if not path.is_file():
            return "file not found", ""
        if path.stat().st_size > limit:
            return f"larger than {self.settings.max_upload_mb:g} MB", ""
        data = path.read_bytes()
        digest = file_hash(data)
        if digest in visible:
            return f"the same content is already in the library as {visible[digest]}", digest
        raw = parse(f"upload{suffix}", data)
        if isinstance(raw, Skipped):
            return f"it {raw.reason}" if raw.reason.startswith(("is ", "holds ")) else raw.reason, digest
        if not indexer.to_document(raw, self.settings.clean_repeat_threshold).text.strip():
            return "it holds no text but page numbers and boilerplate", digest
        return "", digest

    def _documents(self) -> dict[str, Document]:
        return self.retriever().index.documents

    def library(self, access: Access = OPERATOR) -> list[LibraryEntry]:
        """The documents ``access`` may see, with their origin and what it may do with them."""
        retriever = self.retriever()
        return library_entries(retriever.index.documents, retriever.passages,
                               Records(self.corpus_dir).read(), access)

    def document(self, source: str, access: Access = OPERATOR) -> Document:
        """An indexed document (:class:`UsageError` if there is none ``access`` may see)."""
        doc = self._documents().get(source)
        if doc is None or not access.sees(doc.owner):
            raise UsageError(f"no document {source!r} in the library")
        return doc

    def view_document(self, source: str, access: Access = OPERATOR) -> DocumentView:
        """The document's text to read: as extracted from its file, or as indexed if the file
        changed or went; :meth:`DocumentView.locate` maps citation offsets into it."""
        return view(self.document(source, access), self.corpus_dir)

    def remove_document(self, source: str, access: Access = OPERATOR,
                        progress: indexer.Progress | None = None) -> IndexReport:
        """Delete a document's file from the corpus folder and update the index (nothing is
        re-embedded). A user may delete their own uploads; an admin, any document."""
        doc = self.document(source, access)
        if not access.may_delete(doc.owner):
            raise NotAllowedError(f"only an admin may delete {source}: it is part of the shared corpus")
        if len(self._documents()) == 1:
            raise UsageError(f"{source} is the only document left: add another before deleting it")
        self._corpus_file(source).unlink(missing_ok=True)
        Records(self.corpus_dir).update({source: None})
        log.info("document %s deleted by %s", source, access.user or "the operator")
        return self.index(progress=progress)

    def share_document(self, source: str, access: Access = OPERATOR,
                       progress: indexer.Progress | None = None) -> tuple[str, IndexReport]:
        """Move a user's upload into the shared corpus (``shared/``): everyone's questions
        search it from then on. Only an admin may. Returns its new source and the index report."""
        doc = self.document(source, access)
        if not doc.owner:
            raise UsageError(f"{source} is already part of the shared corpus")
        if not access.may_share(doc.owner):
            raise NotAllowedError("only an admin may share an upload with everyone")
        dest = _free_path(self.corpus_dir / SHARED / Path(source).name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._corpus_file(source).rename(dest)
        new = dest.relative_to(self.corpus_dir).as_posix()
        records = Records(self.corpus_dir)
        old = records.read().get(source, {"by": doc.owner, "name": Path(source).name})
        records.update({source: None, new: {**old, "shared_by": access.user or "", "shared_at": now()}})
        log.info("document %s shared as %s by %s", source, new, access.user or "the operator")
        return new, self.index(progress=progress)

    def _corpus_file(self, source: str) -> Path:
        path = (self.corpus_dir / source).resolve()
        if not path.is_relative_to(self.corpus_dir.resolve()):
            raise UsageError(f"no document {source!r} in the library")
        return path


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
