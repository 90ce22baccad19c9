"""``assistant eval``: run the question set, print the figures, write the report.

Registered in ``assistant/cli.py`` as ``app.command("eval")(eval_command)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.cli import CorpusOpt, IndexOpt
from assistant.errors import AssistantError
from assistant.settings import PROJECT_ROOT


def _evals_dir() -> Path:
    # a source checkout keeps evals/ beside the package; otherwise the working directory's
    return PROJECT_ROOT / "evals" if (PROJECT_ROOT / "pyproject.toml").exists() else Path("evals")


EVALS = _evals_dir()


def eval_command(
    questions: Annotated[Path, typer.Option(help="Question set (JSONL, format in evals/README.md)")] = (
        EVALS / "questions.jsonl"
    ),
    k: Annotated[int, typer.Option(min=1, max=50, help="Passages per answer (hit@k, recall@k)")] = 5,
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json, chart.png and abstention.png")] = (
        EVALS / "reports"
    ),
    baselines: Annotated[
        bool, typer.Option(help="Also run BM25 alone, dense alone and the LangChain tutorial pipeline")
    ] = True,
    check_floor: Annotated[
        bool, typer.Option("--check-floor", help="Exit with 1 when a headline figure is below its floor")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout")] = False,
    floor: Annotated[Path, typer.Option(help="Floors for --check-floor")] = EVALS / "floor.json",
    corpus: CorpusOpt = None,
    index_dir: IndexOpt = None,
) -> None:
    """Evaluate retrieval, answers, citations, abstention and latency on a question set."""
    from assistant.cli import _assistant
    from assistant.evaluation import harness
    from assistant.evaluation.report import comparison_rows

    err = Console(stderr=True)
    console = err if json_output else Console()
    try:
        bot = _assistant(corpus, index_dir)
        with Progress(
            TextColumn("[bold]eval[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("starting", total=None)

            def progress(done: int, total: int, what: str) -> None:
                bar.update(task, completed=done, total=total, description=what)

            result = harness.run_evaluation(bot, questions, out, k=k, baselines=baselines, progress=progress)
        failed = harness.check_floor(result, floor) if check_floor else []
    except (AssistantError, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc

    if json_output:
        payload = result.to_dict()
        if check_floor:
            payload["floor_failures"] = failed
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    else:
        header, rows = comparison_rows(result)
        table = Table(title=f"{Path(questions).name}: assistant vs baselines (k={k})", show_lines=False)
        for i, name in enumerate(header):
            table.add_column(
                name, justify="left" if i == 0 else "right", style="bold" if name == "assistant" else None
            )
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print(f"[bold]{result.primary_metric}[/bold] (primary) = {result.primary_value:.3f}")
        console.print(f"figures produced by: {result.model}")
        for name, path in result.paths.items():
            console.print(f"{name}: {path}")
    if check_floor:
        if failed:
            for line in failed:
                err.print(f"[red]floor check failed:[/red] {line}")
            raise typer.Exit(1)
        err.print(f"[green]floor check passed[/green] ({floor})")
