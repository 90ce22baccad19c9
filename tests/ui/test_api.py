"""The app's API from a user's script (gradio_client), concurrency, and what the server does not serve."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import import_or_unavailable

gradio_client = import_or_unavailable("gradio_client", "pip install -e '.[ui]'")

EN_QUESTION = "How much has Japan invested in the economy of Kazakhstan?"
EN_SOURCE = "001_25332e5ce76467f9.txt"


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_ask_endpoint_returns_the_answer_and_its_citations(client):
    result = client.predict(EN_QUESTION, 5, [], api_name="/ask")
    assert "7 billion" in result["answer"]
    assert result["citations"][0]["source"] == EN_SOURCE
    assert result["citations"][0]["number"] == 1
    assert result["citations"][0]["highlights"]
    assert result["abstained"] is False


def test_ask_endpoint_follow_up_with_history(client):
    result = client.predict("And how many American companies work there?", 5, [EN_QUESTION], api_name="/ask")
    assert "500" in result["answer"]
    assert result["citations"][0]["source"] == EN_SOURCE


def test_ask_endpoint_reports_bad_input_as_a_message(client):
    with pytest.raises(Exception, match="question is empty"):
        client.predict("   ", 5, [], api_name="/ask")
    # and still answers afterwards
    assert client.predict(EN_QUESTION, 3, [], api_name="/ask")["citations"]


def test_the_api_lists_ask(client):
    assert "/ask" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


class Slow:
    """The real assistant, but every answer waits until two answers are in progress at once."""

    def __init__(self, inner, parties: int = 2) -> None:
        self._inner = inner
        self.barrier = threading.Barrier(parties, timeout=30)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def answer(self, *args, **kwargs):
        self.barrier.wait()  # raises BrokenBarrierError if the other request never starts
        return self._inner.answer(*args, **kwargs)


def test_one_slow_answer_does_not_block_another(bot, launch_app):
    slow = Slow(bot)
    client = gradio_client.Client(launch_app(slow), verbose=False)
    started = time.perf_counter()
    jobs = [client.submit(EN_QUESTION, 3, [], api_name="/ask") for _ in range(2)]
    results = [job.result(timeout=60) for job in jobs]
    assert all(r["citations"][0]["source"] == EN_SOURCE for r in results)
    assert not slow.barrier.broken
    assert time.perf_counter() - started < 30


def test_no_file_outside_the_app_is_served(app_url):
    manifest = Path(__file__).resolve().parents[2] / "corpus" / "manifest.json"
    for path in ("/etc/passwd", str(manifest)):
        for prefix in ("gradio_api/file=", "file="):
            try:
                with urllib.request.urlopen(f"{app_url}{prefix}{path}", timeout=10) as response:
                    body = response.read()
                    assert b"root:x:" not in body and b'"documents"' not in body, f"{prefix}{path} was served"
            except urllib.error.HTTPError as exc:
                assert exc.code in (403, 404, 405)
