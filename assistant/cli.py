"""The command line: ``assistant index``, ``assistant ask``, ``assistant status``, ``assistant ui``,
``assistant eval``. Every command says which embedding model runs; ``--json`` is for scripts.

A user's mistake prints one line on stderr and exits 2 (usage) or 1 (other failures): never a
traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from assistant.errors import AssistantError

app = typer.Typer(
    name="assistant",
    help="Ask questions, in Russian or English, about a folder of articles; get answers with numbered "
    "citations to the passages that hold them.\n\nStart with:  assistant ask \"Что строит Казахстан вместо стен?\"",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

CorpusOpt = Annotated[
    Path | None,
    typer.Option("--corpus", help="Corpus folder (default: ASSISTANT_CORPUS_DIR or ./corpus); "
                 "its index is FOLDER/.assistant-index unless --index is given"),
]
IndexOpt = Annotated[
    Path | None, typer.Option("--index", help="Index folder (default: ASSISTANT_INDEX_DIR or ./index)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text")]


def _setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err, show_time=False, show_path=False)], force=True)
    for noisy in ("bm25s", "httpx", "sentence_transformers", "transformers", "huggingface_hub", "faiss"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _assistant(corpus: Path | None, index: Path | None):
    from assistant.core import Assistant

    return Assistant(corpus_dir=corpus, index_dir=index)


def _fail(exc: AssistantError, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": str(exc), "exit_code": exc.exit_code}, ensure_ascii=False))
    else:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(exc.exit_code)


def _model_line(bot) -> str:
    info = bot.embedder.info
    style = "yellow" if (info.fallback or not info.multilingual) else "green"
    return f"[{style}]{escape(info.describe())}[/]"


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=True)


@app.command()
def index(
    folder: Annotated[
        Path | None,
        typer.Argument(help="Folder of .txt/.md/.pdf/.docx/.html files (default: the corpus folder). Its index "
                       "goes to FOLDER/.assistant-index unless --index is given; ask with --corpus FOLDER"),
    ] = None,
    index_dir: IndexOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild from scratch instead of updating")] = False,
    as_json: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Build or update the index (only new or changed documents are embedded)."""
    _setup_logging(verbose)
    try:
        bot = _assistant(folder, index_dir)
        if not as_json:
            err.print(_model_line(bot))
        with _progress() as bar:
            task = bar.add_task("embedding passages", total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=stage)

            report = bot.index(progress=None if as_json else progress, force=force)
    except AssistantError as exc:
        _fail(exc, as_json)
        return
    if as_json:
        print(json.dumps({"report": asdict(report), "model": asdict(bot.embedder.info),
                          "index_dir": str(bot.index_dir)}, ensure_ascii=False))
        return
    for line in report.skipped:
        err.print(f"[yellow]skipped[/] {escape(line)}")
    if report.rebuilt_reason:
        err.print(f"[yellow]{escape(report.rebuilt_reason)}[/]")
    out.print(
        f"Indexed {report.documents} documents, {report.passages} passages in {report.seconds:.1f} s "
        f"({report.embedded} embedded, {report.reused} reused; added {len(report.added)}, "
        f"changed {len(report.changed)}, removed {len(report.removed)}) → {bot.index_dir}"
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in Russian or English")],
    k: Annotated[int | None, typer.Option("--k", "-k", min=1, max=50,
                                          help="Passages to use (default: ASSISTANT_TOP_K, 5)")] = None,
    corpus: CorpusOpt = None,
    index_dir: IndexOpt = None,
    as_json: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Answer a question with numbered citations, then show the cited passages."""
    _setup_logging(verbose)
    from assistant.records import Answer

    try:
        bot = _assistant(corpus, index_dir)
        if as_json:
            result = bot.answer(question, k=k)
            print(json.dumps({**_answer_json(result), "model": asdict(bot.embedder.info)}, ensure_ascii=False))
            return
        err.print(_model_line(bot))
        final: Answer | None = None
        streamed = []
        for item in bot.stream(question, k=k):
            if isinstance(item, Answer):
                final = item
            else:
                streamed.append(item)
                out.print(escape(item), end="", soft_wrap=True)
        out.print()
    except AssistantError as exc:
        _fail(exc, as_json)
        return
    assert final is not None
    if final.answer != "".join(streamed).strip():
        out.print(Panel(escape(final.answer), title="checked answer", border_style="cyan"))
    for note in (*final.notices, *final.warnings):
        err.print(f"[yellow]note:[/] {escape(note)}")
    for c in final.citations:
        where = f"{c.source}, characters {c.start}–{c.end}" + (f", section “{c.section}”" if c.section else "")
        body = escape(c.text if len(c.text) < 900 else c.text[:900] + "…")
        out.print(Panel(body, title=f"[{c.number}] {escape(c.title)}", subtitle=escape(where),
                        title_align="left", subtitle_align="left"))


def _answer_json(result) -> dict[str, Any]:
    data = result.to_dict()
    data["passages"] = [{k: v for k, v in p.items() if k != "text"} for p in data["passages"]]
    return data


@app.command()
def status(
    corpus: CorpusOpt = None,
    index_dir: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which model runs, what is indexed, and how answers are composed."""
    _setup_logging()
    try:
        st = _assistant(corpus, index_dir).status()
    except AssistantError as exc:
        _fail(exc, as_json)
        return
    if as_json:
        print(json.dumps(asdict(st), ensure_ascii=False))
        return
    out.print(escape(st.describe()))
    for w in st.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")


@app.command()
def ui(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: ASSISTANT_UI_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: ASSISTANT_UI_PORT, 7860)")] = None,
    corpus: CorpusOpt = None,
    index_dir: IndexOpt = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Serve off loopback with no login (ASSISTANT_UI_AUTH unset): anyone who can reach the "
        "port can read, upload and delete documents")] = False,
) -> None:
    """Open the chat in the browser."""
    _setup_logging()
    try:
        from assistant.ui import launch
    except ImportError as exc:
        err.print(f"[bold red]error:[/] the chat needs the 'ui' extra: pip install -e '.[ui]' ({exc})")
        raise typer.Exit(2) from None
    try:
        bot = _assistant(corpus, index_dir)
        err.print(_model_line(bot))
        if insecure and not bot.settings.logins():
            err.print("[bold red]WARNING: --insecure: no login. Anyone who can reach this port can read, upload "
                      "and delete documents.[/]")
        launch(bot, host=host, port=port, insecure=insecure)
    except AssistantError as exc:
        _fail(exc, False)


def _register_eval() -> None:
    try:
        from assistant.evaluation.cli import eval_command
    except ImportError:
        return
    app.command("eval", help="Run the evaluation question set and write the report.")(eval_command)


_register_eval()


def main() -> None:
    try:
        app()
    except AssistantError as exc:  # settings errors raised before a command's own handler
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
