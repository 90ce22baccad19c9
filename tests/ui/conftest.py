"""Fixtures for the chat UI: the app served in-process on a free port, and Debian's Chromium.

Every app runs on the default (multilingual) model; an app that changes its corpus gets a
private copy of the corpus and of the session's index, so nothing is embedded again.

* ``app_url`` — the app over a private copy of ``bot``'s corpus and index (questions only, and
  its own conversations database).
* ``upload_url`` / ``upload_bot`` — an app over another copy, for uploads and deletions.
* ``team_url`` / ``team_bot`` — an app with logins (ann, bob; root is the admin), for scoping.
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

from assistant import Assistant
from tests.conftest import default_settings, import_or_unavailable, unavailable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[2]
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


TEAM = {"ann": "ann-secret", "bob": "bob-secret", "root": "root-secret"}


def serve(assistant, **kwargs) -> Iterator[str]:
    from assistant.ui import start

    port = free_port()
    app = start(assistant, host=kwargs.pop("host", "127.0.0.1"), port=port, quiet=True, **kwargs)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def private_bot(bot: Assistant, root: Path, **settings) -> Assistant:
    """An assistant over a private copy of the default corpus, its index a copy of ``bot``'s
    (so nothing is embedded again)."""
    shutil.copytree(bot.corpus_dir, root / "corpus")
    shutil.copytree(bot.index_dir, root / "index")
    assistant = Assistant(settings=default_settings(corpus_dir=root / "corpus", index_dir=root / "index", **settings))
    report = assistant.index()
    assert report.embedded == 0, report
    return assistant


@pytest.fixture
def launch_app():
    """Serve an extra app for one test: ``url = launch_app(assistant)``; closed afterwards."""
    servers = []

    def run(assistant, **kwargs) -> str:
        server = serve(assistant, **kwargs)
        servers.append(server)
        return next(server)

    yield run
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def chat_bot(bot: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return private_bot(bot, tmp_path_factory.mktemp("chat"))


@pytest.fixture(scope="session")
def app_url(chat_bot: Assistant) -> Iterator[str]:
    yield from serve(chat_bot)


@pytest.fixture(scope="session")
def upload_bot(bot: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return private_bot(bot, tmp_path_factory.mktemp("upload"), max_upload_mb=1)


@pytest.fixture(scope="session")
def upload_url(upload_bot: Assistant) -> Iterator[str]:
    yield from serve(upload_bot)


@pytest.fixture(scope="session")
def team_bot(bot: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    logins = ",".join(f"{user}:{password}" for user, password in TEAM.items())
    return private_bot(bot, tmp_path_factory.mktemp("team"), ui_auth=logins, ui_admins="root")


@pytest.fixture(scope="session")
def team_url(team_bot: Assistant) -> Iterator[str]:
    yield from serve(team_bot)


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

    def make(url: str, *, user: str | None = None, width: int = 1280, height: int = 1000,
             dark: bool = False, context=None):
        """A page of ``url`` in a new context (or ``context``), logged in as ``user`` if given."""
        if context is None:
            context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US",
                                          color_scheme="dark" if dark else "light")
            context.set_default_timeout(60_000)
            contexts.append(context)
        page = context.new_page()
        page.goto(url + ("?__theme=dark" if dark else ""))
        if user is not None:
            login(page, user)
        page.locator("#status-line").wait_for()
        page.locator("#library .lib-row").first.wait_for()  # the page's load event has run
        return page

    yield make
    for context in contexts:
        context.close()


def login(page, user: str) -> None:
    """Sign in on Gradio's login form."""
    page.locator("input[type=password]").wait_for()
    page.locator("input[type=text]").first.fill(user)
    page.locator("input[type=password]").fill(TEAM[user])
    page.get_by_role("button", name="Login").click()


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
