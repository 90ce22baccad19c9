"""A scripted LLM server: a real OpenAI- and Ollama-protocol HTTP peer whose replies come from a script.

No model runs here. Each chat request takes the next reply from a queue (text, HTTP status,
delay, broken stream, malformed body) and every request body is recorded, so tests can assert
what the product sends and how it handles each kind of reply, over real HTTP. The same server
makes a demo of the LLM path possible on a machine without weights::

    python -m tests.llm_server --port 8011 --reply-file script.json
    ASSISTANT_LLM_PROVIDER=openai ASSISTANT_LLM_BASE_URL=http://127.0.0.1:8011/v1 \\
        ASSISTANT_LLM_MODEL=scripted assistant ask "Where is Khorgos?"

Endpoints: ``POST /v1/chat/completions`` (plain JSON, or SSE ``data: {...}`` chunks ending with
``data: [DONE]`` when ``"stream": true``), ``GET /v1/models``, Ollama's ``POST /api/chat``
(NDJSON when streaming, Ollama's default), ``GET /api/tags``, ``GET /api/version``.

A reply-file holds a JSON list of replies, or ``{"model": ..., "replies": [...], "default": {...}}``.
A reply is a string (the text) or an object with the fields of :class:`Reply`. When the queue
is empty the ``default`` reply is used; without one, the server quotes the first sentence of the
first passage in the prompt with a ``[1]`` marker (handy for a demo with any question).

Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

QUOTE = "{quote}"  # in a reply's text: the first sentence of the first passage of the prompt


@dataclass
class Reply:
    """One scripted reply.

    ``text``: what the model "writes" (``{quote}`` is replaced by the first sentence of the first
    passage it was sent). ``status``: an HTTP status; anything but 200 sends an error body with
    ``error`` as its message. ``delay``: seconds to wait before answering (to test timeouts).
    ``chunk_delay``: seconds between streamed chunks. ``break_after``: when streaming, close
    the connection mid-body after this many content chunks (a broken stream). ``malformed``:
    send a body that is not valid JSON (or a broken SSE/NDJSON line when streaming).
    """

    text: str = ""
    status: int = 200
    delay: float = 0.0
    chunk_delay: float = 0.0
    break_after: int | None = None
    malformed: bool = False
    error: str = "scripted error"

    @classmethod
    def parse(cls, item: str | dict[str, Any] | Reply) -> Reply:
        if isinstance(item, Reply):
            return item
        if isinstance(item, str):
            return cls(text=item)
        known = {f.name for f in fields(cls)}
        unknown = set(item) - known
        if unknown:
            raise ValueError(f"unknown reply field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**item)


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    def content(self, role: str) -> str:
        """All message text of one role (``system``, ``user``, ``assistant``), joined."""
        out = []
        for m in self.messages:
            if m.get("role") != role:
                continue
            c = m.get("content")
            if isinstance(c, list):  # OpenAI content parts
                c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
            out.append(c or "")
        return "\n".join(out)


def pieces(text: str) -> list[str]:
    """The text cut into word-sized chunks, as a model streams it."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


def first_quote(body: Any) -> str:
    """The first sentence of the first ``<passage …>`` block of the request, with ``[1]``."""
    text = ""
    if isinstance(body, dict):
        text = "\n".join(str(m.get("content", "")) for m in body.get("messages", [])
                         if isinstance(m, dict) and m.get("role") == "user")
    m = re.search(r"<passage\b[^>]*\bn=[^>]*>\s*(.+?)\s*</passage>", text, re.DOTALL)
    if not m:
        return "The passages do not say."
    sentence = re.split(r"(?<=[.!?…])\s+", " ".join(m.group(1).split()), maxsplit=1)[0]
    return f"{sentence[:400]} [1]"


class ScriptedLLMServer:
    """The server, run in a background thread: ``with ScriptedLLMServer(["Hi [1]."]) as s: s.openai_url``."""

    def __init__(self, replies: list[Any] | tuple[Any, ...] = (), *, host: str = "127.0.0.1", port: int = 0,
                 model: str = "scripted", default: Any = None) -> None:
        self.model = model
        self.host = host
        self.default = Reply.parse(default) if default is not None else None
        self._queue: deque[Reply] = deque(Reply.parse(r) for r in replies)
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self.httpd = _HTTPServer((host, port), _handler(self))
        self._thread: threading.Thread | None = None

    # --- script and records ------------------------------------------------------------------
    def script(self, *replies: Any) -> None:
        """Queue more replies."""
        with self._lock:
            self._queue.extend(Reply.parse(r) for r in replies)

    def next_reply(self, body: Any) -> Reply:
        with self._lock:
            reply = self._queue.popleft() if self._queue else self.default
        if reply is None:
            return Reply(text=first_quote(body))
        if QUOTE in reply.text:
            reply = Reply(**{**reply.__dict__, "text": reply.text.replace(QUOTE, first_quote(body))})
        return reply

    def record(self, item: Recorded) -> None:
        with self._lock:
            self.requests.append(item)

    @property
    def chats(self) -> list[Recorded]:
        """The chat requests received (OpenAI and Ollama), in order."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/") in ("/v1/chat/completions", "/api/chat")]

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> ScriptedLLMServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"scripted-llm-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # cuts short any scripted delay
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that gave up (its timeout) is part of the script, not an error
        super().handle_error(request, client_address)


def _handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked streams, so a broken one is detectably broken
        server_version = "ScriptedLLM/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet; requests are recorded
            pass

        # --- plumbing ----------------------------------------------------------------------
        def _read_body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            try:
                return json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                return raw

        def _record(self, body: Any) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.record(Recorded(self.command, self.path, headers, body))

        def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_stream(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def _chunk(self, data: str) -> None:
            raw = data.encode()
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()

        def _end_stream(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _break(self) -> None:
            """Drop the connection mid-body: no terminating chunk, so the client sees a broken stream."""
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

        def _wait(self, seconds: float) -> bool:
            """Sleep (cut short when the server stops); False, and the connection dropped, when stopping."""
            if seconds > 0 and server.stopping.wait(seconds):
                self.close_connection = True
                return False
            return True

        # --- routes ------------------------------------------------------------------------
        def do_GET(self) -> None:
            self._record(None)
            path = self.path.split("?")[0].rstrip("/")
            if path == "/v1/models":
                self._send(200, {"object": "list", "data": [
                    {"id": server.model, "object": "model", "created": 0, "owned_by": "scripted"}]})
            elif path == "/api/tags":
                self._send(200, {"models": [{"name": server.model, "model": server.model, "size": 0,
                                             "modified_at": "2024-01-01T00:00:00Z", "digest": "0" * 12}]})
            elif path == "/api/version":
                self._send(200, {"version": "0.0.0-scripted"})
            elif path == "":
                self._send(200, b"Ollama is running (scripted)", "text/plain")
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            body = self._read_body()
            self._record(body)
            path = self.path.split("?")[0].rstrip("/")
            if path not in ("/v1/chat/completions", "/api/chat"):
                self._send(404, {"error": f"no route {self.path}"})
                return
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                self._send(400, {"error": {"message": "body must be JSON with a messages list",
                                           "type": "invalid_request_error"}})
                return
            reply = server.next_reply(body)
            if not self._wait(reply.delay):
                return
            try:
                if path == "/api/chat":
                    self._ollama(body, reply)
                else:
                    self._openai(body, reply)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
                self.close_connection = True

        # --- OpenAI chat completions -------------------------------------------------------
        def _openai(self, body: dict[str, Any], reply: Reply) -> None:
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": reply.error, "type": "server_error",
                                                    "code": reply.status}})
                return
            rid, created, model = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time()), body.get("model", "")
            if not body.get("stream"):
                if reply.malformed:
                    self._send(200, b'{"id": "broken", "choices": [', "application/json")
                    return
                self._send(200, {
                    "id": rid, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": len(pieces(reply.text)),
                              "total_tokens": 1 + len(pieces(reply.text))},
                })
                return

            def event(delta: dict[str, Any], finish: str | None = None) -> str:
                chunk = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
                return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

            self._start_stream("text/event-stream")
            self._chunk(event({"role": "assistant", "content": ""}))
            if not self._stream_pieces(reply, lambda piece: event({"content": piece}),
                                       'data: {"id": "broken", "choices": [{"delta": \n\n'):
                return
            self._chunk(event({}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                n = len(pieces(reply.text))
                usage = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [],
                         "usage": {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1}}
                self._chunk(f"data: {json.dumps(usage)}\n\n")
            self._chunk("data: [DONE]\n\n")
            self._end_stream()

        def _stream_pieces(self, reply: Reply, encode: Callable[[str], str], broken: str) -> bool:
            """Send the reply's pieces as the protocol's events, misbehaving as scripted (a cut
            connection, a malformed second event, delays). False when the stream was cut."""
            for i, piece in enumerate(pieces(reply.text)):
                if reply.break_after is not None and i >= reply.break_after:
                    self._break()
                    return False
                if reply.malformed and i == 1:
                    self._chunk(broken)
                    continue
                if not self._wait(reply.chunk_delay):
                    return False
                self._chunk(encode(piece))
            if reply.break_after is not None:
                self._break()
                return False
            return True

        # --- Ollama /api/chat --------------------------------------------------------------
        def _ollama(self, body: dict[str, Any], reply: Reply) -> None:
            if reply.status != 200:
                self._send(reply.status, {"error": reply.error})
                return
            model = body.get("model", "")
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())

            def part(content: str, done: bool) -> dict[str, Any]:
                out: dict[str, Any] = {"model": model, "created_at": stamp,
                                       "message": {"role": "assistant", "content": content}, "done": done}
                if done:
                    out.update(done_reason="stop", total_duration=1, load_duration=0, prompt_eval_count=1,
                               prompt_eval_duration=1, eval_count=len(pieces(reply.text)), eval_duration=1)
                return out

            if not body.get("stream", True):
                if reply.malformed:
                    self._send(200, b'{"model": "broken", "message": {', "application/json")
                    return
                self._send(200, part(reply.text, True))
                return
            self._start_stream("application/x-ndjson")
            if not self._stream_pieces(reply, lambda piece: json.dumps(part(piece, False), ensure_ascii=False) + "\n",
                                       '{"model": "broken", "message": {\n'):
                return
            self._chunk(json.dumps(part("", True)) + "\n")
            self._end_stream()

    return Handler


def load_script(path: str | Path) -> tuple[list[Reply], Reply | None, str | None]:
    """``(replies, default, model)`` from a reply-file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, list):
        return [Reply.parse(r) for r in data], None, None
    if not isinstance(data, dict):
        raise ValueError("a reply-file holds a JSON list of replies or an object with 'replies'")
    default = data.get("default")
    return ([Reply.parse(r) for r in data.get("replies", [])],
            Reply.parse(default) if default is not None else None, data.get("model"))


def build(argv: list[str] | None = None) -> ScriptedLLMServer:
    """The server the command line asks for (not started); ``SystemExit`` on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m tests.llm_server",
                                     description="Scripted OpenAI-/Ollama-protocol chat server (no model).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011, help="0 picks a free port")
    parser.add_argument("--reply-file", help="JSON list of replies (or {replies, default, model})")
    parser.add_argument("--model", default=None, help="model name listed by /v1/models and /api/tags")
    parser.add_argument("--log", help="append every request received to this JSONL file")
    args = parser.parse_args(argv)
    replies: list[Reply] = []
    default = None
    model = None
    if args.reply_file:
        try:
            replies, default, model = load_script(args.reply_file)
        except (OSError, ValueError, TypeError) as exc:
            parser.exit(2, f"error: cannot read {args.reply_file}: {exc}\n")
    server = ScriptedLLMServer(replies, host=args.host, port=args.port,
                               model=args.model or model or "scripted", default=default)
    if args.log:
        log_path = Path(args.log)
        record = server.record

        def record_and_log(item: Recorded) -> None:
            record(item)
            with log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(item.__dict__, ensure_ascii=False) + "\n")

        server.record = record_and_log  # type: ignore[method-assign]
    return server


def main(argv: list[str] | None = None) -> int:
    server = build(argv)
    then = "the default reply" if server.default else "quoting the first sentence of passage [1]"
    print(f"scripted LLM server: OpenAI API at {server.openai_url}, Ollama API at {server.url}; "
          f"{server.pending} scripted replies, then {then}. Ctrl-C stops it.", file=sys.stderr, flush=True)
    try:
        server.httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
