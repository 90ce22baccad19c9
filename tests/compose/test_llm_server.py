"""The scripted LLM server speaks the protocols for real: checked here with raw HTTP (urllib)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

import pytest

from tests.llm_server import Reply, ScriptedLLMServer, build, first_quote, load_script


def post(url: str, body: dict, timeout: float = 5) -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


MESSAGES = [{"role": "system", "content": "rules"},
            {"role": "user",
             "content": '<passage n="1" source="a.txt">\nAlpha is first. Beta next.\n</passage>'}]


def test_model_listings(llm_server):
    assert get(llm_server.openai_url + "/models")["data"][0]["id"] == "scripted"
    assert get(llm_server.url + "/api/tags")["models"][0]["name"] == "scripted"


def test_openai_plain_completion_and_recording(llm_server):
    llm_server.script("Hello [1].")
    status, ctype, text = post(llm_server.openai_url + "/chat/completions",
                               {"model": "m", "messages": MESSAGES})
    assert status == 200 and ctype == "application/json"
    body = json.loads(text)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello [1]."}
    assert body["choices"][0]["finish_reason"] == "stop"
    (recorded,) = llm_server.chats
    assert recorded.body == {"model": "m", "messages": MESSAGES}
    assert recorded.content("user").startswith("<passage")


def test_openai_sse_stream(llm_server):
    llm_server.script("Hello there [1].")
    status, ctype, text = post(llm_server.openai_url + "/chat/completions",
                               {"model": "m", "messages": MESSAGES, "stream": True,
                                "stream_options": {"include_usage": True}})
    assert status == 200 and ctype == "text/event-stream"
    events = [line[len("data: "):] for line in text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content == "Hello there [1]."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and "usage" in chunks[-1]


def test_ollama_ndjson_stream_and_plain(llm_server):
    llm_server.script("Привет [1].", "Plain [1].")
    status, ctype, text = post(llm_server.url + "/api/chat", {"model": "m", "messages": MESSAGES})
    assert status == 200 and ctype == "application/x-ndjson"
    parts = [json.loads(line) for line in text.splitlines()]
    assert "".join(p["message"]["content"] for p in parts) == "Привет [1]."
    assert parts[-1]["done"] is True and parts[-1]["done_reason"] == "stop"
    assert not any(p["done"] for p in parts[:-1])
    _, _, text = post(llm_server.url + "/api/chat", {"model": "m", "messages": MESSAGES, "stream": False})
    assert json.loads(text)["message"]["content"] == "Plain [1]." and json.loads(text)["done"] is True


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/chat"])
def test_scripted_status_and_bad_requests(llm_server, path):
    llm_server.script({"status": 503, "error": "overloaded"})
    status, _, text = post(llm_server.url + path, {"model": "m", "messages": MESSAGES})
    assert status == 503 and "overloaded" in text
    status, _, _ = post(llm_server.url + path, {"model": "m"})
    assert status == 400
    assert post(llm_server.url + "/v1/nowhere", {"messages": []})[0] == 404


def test_broken_stream_is_detectably_incomplete(llm_server):
    llm_server.script({"text": "one two three four", "break_after": 2})
    conn = http.client.HTTPConnection("127.0.0.1", llm_server.port, timeout=5)
    conn.request("POST", "/v1/chat/completions", json.dumps({"messages": MESSAGES, "stream": True}),
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


def test_default_reply_quotes_the_first_passage(llm_server):
    assert first_quote({"messages": MESSAGES}) == "Alpha is first. [1]"
    _, _, text = post(llm_server.openai_url + "/chat/completions", {"messages": MESSAGES})
    assert json.loads(text)["choices"][0]["message"]["content"] == "Alpha is first. [1]"


def test_reply_file_and_command_line(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"model": "demo", "replies": ["First [1].", {"status": 500}],
                                  "default": {"text": "Always {quote}"}}), encoding="utf-8")
    replies, default, model = load_script(script)
    assert replies == [Reply("First [1]."), Reply(status=500)] and model == "demo"
    assert default == Reply("Always {quote}")
    server = build(["--port", "0", "--reply-file", str(script), "--log", str(tmp_path / "log.jsonl")])
    with server:
        assert get(server.openai_url + "/models")["data"][0]["id"] == "demo"
        assert json.loads(post(server.openai_url + "/chat/completions",
                               {"messages": MESSAGES})[2])["choices"][0]["message"]["content"] == "First [1]."
        assert post(server.openai_url + "/chat/completions", {"messages": MESSAGES})[0] == 500
        third = json.loads(post(server.openai_url + "/chat/completions", {"messages": MESSAGES})[2])
        assert third["choices"][0]["message"]["content"] == "Always Alpha is first. [1]"
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["path"] for r in logged] == ["/v1/models"] + ["/v1/chat/completions"] * 3
    with pytest.raises(ValueError, match="unknown reply field"):
        Reply.parse({"txt": "typo"})


def test_stop_cuts_a_pending_delay_short():
    import threading
    import time

    server = ScriptedLLMServer([{"text": "late", "delay": 30}]).start()
    outcome: list[str] = []

    def ask() -> None:
        try:
            post(server.openai_url + "/chat/completions", {"messages": MESSAGES}, timeout=10)
            outcome.append("answered")
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(type(exc).__name__)

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    worker.join(timeout=5)
    assert not worker.is_alive() and outcome and outcome != ["answered"]
