"""The app's API from a user's script (gradio_client), what else the server answers, concurrency,
and who may start it how."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from tests.conftest import import_or_unavailable
from tests.ui.conftest import TEAM, free_port

gradio_client = import_or_unavailable("gradio_client", "pip install -e '.[ui]'")

EN_QUESTION = "How much has Japan invested in the economy of Kazakhstan?"
EN_SOURCE = "001_25332e5ce76467f9.txt"


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def multipart(files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
        for name, data in files.items()) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


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


def test_ask_endpoint_abstains_with_related_passages(client):
    result = client.predict("Who won the 1998 football world cup?", 5, [], api_name="/ask")
    assert result["abstained"] is True and result["citations"] == []
    assert result["related"] and "text" in result["related"][0]


@pytest.mark.parametrize(("question", "k", "message"), [
    ("   ", 5, "question is empty"),
    (EN_QUESTION, 0, "k must be a whole number from 1 to 50"),
    (EN_QUESTION, "abc", "k must be a whole number from 1 to 50, not 'abc'"),
    (EN_QUESTION, 2.5, "k must be a whole number"),
])
def test_api_errors_are_a_short_message_and_one_log_line(client, caplog, capfd, question, k, message):
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="assistant"), pytest.raises(Exception) as info:
        client.predict(question, k, [], api_name="/ask")
    shown = str(info.value)
    assert message in shown and "Traceback" not in shown and len(shown) < 300
    ours = [r for r in caplog.records if r.name.startswith("assistant") and r.levelno >= logging.INFO]
    assert len(ours) == 1 and message.split(",")[0] in ours[0].getMessage() and ours[0].exc_info is None
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert client.predict(EN_QUESTION, 3, [], api_name="/ask")["citations"]  # and it still answers


def test_the_api_lists_ask_only(client):
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(named) == ["/ask"]


def test_only_the_documented_endpoint_can_be_called_by_name(app_url):
    status, body = http(f"{app_url}config")
    names = {d["api_name"] for d in json.loads(body)["dependencies"] if d.get("api_name")}
    assert {"respond", "add_documents", "open_cited", "delete_conversation"} <= names  # the page's own events
    payload = json.dumps({"data": []}).encode()
    for name in sorted(names - {"ask"}):
        for route in ("call", "call/v2", "run", "api"):
            status, body = http(f"{app_url}gradio_api/{route}/{name}", payload, {"Content-Type": "application/json"})
            assert status == 404, (route, name, status, body[:200])
            assert b"/ask" in body
    status, body = http(f"{app_url}gradio_api/call/ask", json.dumps({"data": [EN_QUESTION, 3, []]}).encode(),
                        {"Content-Type": "application/json"})
    assert status == 200 and b"event_id" in body


def test_a_script_cannot_queue_the_pages_own_events(app_url):
    """gradio_client queues calls by event number; only /ask's is taken without the page element
    that triggered it (which the page always names)."""
    status, body = http(f"{app_url}config")
    deps = json.loads(body)["dependencies"]
    respond = next(i for i, d in enumerate(deps) if d.get("api_name") == "respond")
    ask = next(i for i, d in enumerate(deps) if d.get("api_name") == "ask")
    headers = {"Content-Type": "application/json"}
    call = {"data": [EN_QUESTION, None, 3, "extractive"], "fn_index": respond, "session_hash": "script1"}
    status, body = http(f"{app_url}gradio_api/queue/join", json.dumps(call).encode(), headers)
    assert status == 404 and b"not an API endpoint" in body and b"/ask" in body
    status, body = http(f"{app_url}gradio_api/queue/join",
                        json.dumps({**call, "fn_index": ask, "data": [EN_QUESTION, 3, []]}).encode(), headers)
    assert status == 200 and b"event_id" in body
    trigger = deps[respond]["targets"][0][0]
    status, body = http(f"{app_url}gradio_api/queue/join", json.dumps({**call, "trigger_id": trigger}).encode(),
                        headers)
    assert status == 200, "the page's own way in stays open (the handler checks who asks)"


def test_uploads_take_only_the_library_types_and_are_never_served_back(app_url):
    from gradio.utils import get_upload_folder

    upload_dir = Path(get_upload_folder())
    exe = b"MZ" + b"\x00" * 4000
    body, kind = multipart({f"tool{i}.exe": exe + bytes([i]) for i in range(3)})
    status, answer = http(f"{app_url}gradio_api/upload", body, {"Content-Type": kind})
    assert status == 415 and b".txt" in answer
    assert not list(upload_dir.rglob("tool*.exe")), "refused files are deleted"
    body, kind = multipart({"notes.txt": b"Plain notes about Aktau.", "evil.exe": exe})
    status, _ = http(f"{app_url}gradio_api/upload", body, {"Content-Type": kind})
    assert status == 415 and not list(upload_dir.rglob("evil.exe")) and not list(upload_dir.rglob("notes.txt"))
    body, kind = multipart({"fine.txt": f"Plain notes about Aktau {uuid.uuid4()}.".encode()})
    status, answer = http(f"{app_url}gradio_api/upload", body, {"Content-Type": kind})
    assert status == 200
    [stored] = json.loads(answer)
    assert Path(stored).is_file()
    for prefix in ("gradio_api/file=", "file="):
        status, served = http(f"{app_url}{prefix}{stored}")
        assert status in (403, 404) and b"Aktau" not in served


def test_no_file_outside_the_app_is_served(app_url):
    manifest = Path(__file__).resolve().parents[2] / "corpus" / "manifest.json"
    for path in ("/etc/passwd", str(manifest)):
        for prefix in ("gradio_api/file=", "file="):
            status, body = http(f"{app_url}{prefix}{path}")
            assert status in (403, 404, 405) and b"root:x:" not in body and b'"documents"' not in body
    assert http(f"{app_url}gradio_api/file=/etc/passwd")[0] == 403
    assert http(f"{app_url}file=/etc/passwd")[0] == 404


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


def test_one_slow_answer_does_not_block_another(chat_bot, launch_app):
    slow = Slow(chat_bot)
    client = gradio_client.Client(launch_app(slow), verbose=False)
    started = time.perf_counter()
    jobs = [client.submit(EN_QUESTION, 3, [], api_name="/ask") for _ in range(2)]
    results = [job.result(timeout=60) for job in jobs]
    assert all(r["citations"][0]["source"] == EN_SOURCE for r in results)
    assert not slow.barrier.broken
    assert time.perf_counter() - started < 30


def test_twenty_users_at_once_get_their_answers(app_url):
    questions = [EN_QUESTION, "Что, по словам казахстанского эксперта, строит Казахстан вместо стен?",
                 "What does the Kazakh expert say about Khorgos?", "And how many American companies work there?"]
    results: list[object] = [None] * 20

    def user(i: int) -> None:
        try:
            results[i] = gradio_client.Client(app_url, verbose=False).predict(
                questions[i % 4], 3, [EN_QUESTION] if i % 4 == 3 else [], api_name="/ask")
        except Exception as exc:  # counted below
            results[i] = exc

    threads = [threading.Thread(target=user, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    errors = [r for r in results if not isinstance(r, dict)]
    assert not errors, errors[:3]
    assert all(r["citations"] for r in results)  # type: ignore[index]


def test_off_loopback_without_a_login_it_refuses_to_start(chat_bot):
    from assistant.ui import start

    with pytest.raises(ConfigError, match=r"refusing to serve the chat on 0\.0\.0\.0 without a login"):
        start(chat_bot, host="0.0.0.0", port=free_port(), quiet=True)


def test_insecure_start_off_loopback_is_loud(chat_bot, launch_app, caplog):
    with caplog.at_level(logging.WARNING, logger="assistant"):
        url = launch_app(chat_bot, host="0.0.0.0", insecure=True)
    assert any("INSECURE" in r.getMessage() for r in caplog.records)
    status, body = http(url)
    assert status == 200
    status, body = http(f"{url}config")
    assert b"Open to everyone on the network" in body


def test_with_logins_every_route_asks_for_one_even_on_loopback(team_url):
    status, body = http(team_url)
    assert status == 200 and b"login" in body.lower()
    status, _ = http(f"{team_url}gradio_api/call/ask", json.dumps({"data": [EN_QUESTION, 3, []]}).encode(),
                     {"Content-Type": "application/json"})
    assert status == 401
    client = gradio_client.Client(team_url, auth=("ann", TEAM["ann"]), verbose=False)
    assert client.predict(EN_QUESTION, 3, [], api_name="/ask")["citations"]
