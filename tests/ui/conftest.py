"""Fixtures for the chat UI: the app served in-process on a free port, and Debian's Chromium.

* ``app_url`` — the app over the shared ``bot`` (default corpus, read-only use).
* ``upload_url`` — a second app over a private copy of the corpus, for uploads.
* ``browser`` — one headless Chromium per session (``/usr/bin/chromium``; Playwright's own
  browser download does not work here). Missing Chromium fails under ``CI``, skips otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.settings import OFFLINE_MODEL
from tests.conftest import import_or_unavailable, unavailable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(assistant) -> Iterator[str]:
    from assistant.ui import start

    port = free_port()
    app = start(assistant, host="127.0.0.1", port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.fixture
def launch_app():
    """Serve an extra app for one test: ``url = launch_app(assistant)``; closed afterwards."""
    servers = []

    def run(assistant) -> str:
        server = serve(assistant)
        servers.append(server)
        return next(server)

    yield run
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def app_url(bot: Assistant) -> Iterator[str]:
    yield from serve(bot)


@pytest.fixture(scope="session")
def upload_bot(bot: Assistant, session_index_dir: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """An assistant over a private corpus copy; its index starts as a copy of ``bot``'s (no re-embedding)."""
    root = tmp_path_factory.mktemp("upload")
    shutil.copytree(CORPUS, root / "corpus")
    shutil.copytree(session_index_dir, root / "index")
    assistant = Assistant(settings=Settings(embedding_model=OFFLINE_MODEL, corpus_dir=root / "corpus",
                                            index_dir=root / "index", max_upload_mb=1))
    assistant.index()
    return assistant


@pytest.fixture(scope="session")
def upload_url(upload_bot: Assistant) -> Iterator[str]:
    yield from serve(upload_bot)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    sync_api = import_or_unavailable("playwright.sync_api", "pip install -e '.[dev]'")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """A factory of pages, each in its own browser context (so its own Gradio session)."""
    contexts = []

    def make(url: str):
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        page.locator("#status-line").wait_for()
        return page

    yield make
    for context in contexts:
        context.close()


class Timings:
    """Measured times, written to tests/artifacts/timings.json at the end of the session."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, **row) -> None:
        self.rows.append(row)


@pytest.fixture(scope="session")
def timings(artifacts: Path) -> Iterator[Timings]:
    t = Timings()
    yield t
    if t.rows:
        text = json.dumps(t.rows, ensure_ascii=False, indent=1)
        (artifacts / "timings.json").write_text(text, encoding="utf-8")
