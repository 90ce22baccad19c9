"""What the server answers beyond the page: only the documented API, no files served, and
uploads only of the types the library takes.

Gradio serves more than a page needs: every event is callable by name at
``/gradio_api/call/<name>`` (``api_visibility="private"`` only hides it from the docs), files
in its cache are served back at ``/gradio_api/file=…``, and ``/gradio_api/upload`` takes any
file. :class:`Guard` is an ASGI middleware in front of Gradio's app that

* answers 404 to a named call (``/call``, ``/call/v2``, ``/run``, ``/api``) of anything but the
  documented endpoints, and to a queued call (``/queue/join``, as ``gradio_client`` makes them)
  of any other event unless it names the page element that triggered it, as the page does;
* answers 403 to the file, proxy, stream, run-history, recording, profiling and editing routes
  (this app uses none of them: nothing uploaded is ever served back);
* answers 415 to an upload holding a file of another type, and deletes what it stored.

The page's own events still reach Gradio through its queue, as they must, and a script can
imitate the page; so this keeps the API to what is documented, but what guards the documents
is elsewhere: every handler takes the user from the login, never from what the page sends, and
checks what that user may do.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NAMED_CALL = re.compile(r"^/gradio_api/(?:call/v2|call|run|api)/([^/]+)")
CLOSED = (
    "/gradio_api/file=", "/gradio_api/file/", "/gradio_api/proxy=", "/gradio_api/stream/",
    "/gradio_api/run-history", "/gradio_api/runs", "/gradio_api/process_recording", "/gradio_api/profiling",
    "/gradio_api/vibe", "/gradio_api/undo-vibe", "/gradio_api/dev/", "/monitoring",
)
UPLOAD = "/gradio_api/upload"
JOIN = "/gradio_api/queue/join"


class Guard:
    def __init__(self, app: ASGIApp, documented: Iterable[str] = (), upload_types: Iterable[str] = (),
                 upload_dir: Path | None = None, api_fns: Callable[[], Iterable[int]] | None = None) -> None:
        self.app = app
        self.api_fns = api_fns  # the fn indices of the documented endpoints
        self.upload_dir = upload_dir.resolve() if upload_dir is not None else None
        self.documented = frozenset(documented)
        self.upload_types = tuple(t.lower() for t in upload_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        named = NAMED_CALL.match(path)
        if named and named.group(1) not in self.documented:
            shown = ", ".join(f"/{n}" for n in sorted(self.documented)) or "none"
            await _refuse(send, 404, f"no API endpoint /{named.group(1)}: the documented endpoints are {shown}")
            log.info("refused %s %s: not a documented endpoint", scope.get("method"), path[:200])
            return
        if path.startswith(CLOSED):
            await _refuse(send, 403, "not served")
            log.info("refused %s %s: route closed", scope.get("method"), path[:200])
            return
        if path.rstrip("/") == UPLOAD and scope.get("method") == "POST" and self.upload_types:
            await self._upload(scope, receive, send)
            return
        if path.rstrip("/") == JOIN and scope.get("method") == "POST" and self.api_fns is not None:
            await self._join(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _join(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A queued call: the documented endpoints for anyone, the page's events from the page."""
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        fn = payload.get("fn_index") if isinstance(payload, dict) else None
        trigger = payload.get("trigger_id") if isinstance(payload, dict) else None
        if trigger is None and fn not in set(self.api_fns()):  # type: ignore[misc]
            shown = ", ".join(f"/{n}" for n in sorted(self.documented)) or "none"
            await _refuse(send, 404, f"event {fn} is not an API endpoint: the documented endpoints are {shown}")
            log.info("refused a queued call of event %s: not a documented endpoint", fn)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let Gradio store the upload, then look at what it stored: a file of another type
        turns the whole upload into a 415, its files deleted."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)  # returns after Gradio's background moves ran too
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        if start is not None and start.get("status") == 200:
            body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
            try:
                stored = [str(p) for p in json.loads(body)]
            except (ValueError, TypeError):
                stored = []
            wrong = [p for p in stored if not p.lower().endswith(self.upload_types)]
            if wrong:
                for path in stored:
                    _remove(Path(path), self.upload_dir)
                names = ", ".join(Path(p).name for p in wrong)[:200]
                log.info("refused an upload of %d file(s): %s", len(stored), names)
                await _refuse(send, 415, f"only {', '.join(self.upload_types)} files can be uploaded "
                              f"(not {Path(wrong[0]).name[:80]})")
                return
        for message in held:
            await send(message)


def _remove(path: Path, root: Path | None = None) -> None:
    try:
        path.unlink(missing_ok=True)
        if root is None or path.parent != root:
            path.parent.rmdir()  # Gradio keeps each upload in a folder of its own (named by its hash)
    except OSError:
        pass


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def remove_uploaded(paths: Iterable[str | Path], upload_dir: Path) -> int:
    """Delete Gradio's temporary copies of uploaded files (only inside ``upload_dir``); how many."""
    root = upload_dir.resolve()
    gone = 0
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_relative_to(root) and path != root and path.is_file():
            _remove(path, root)
            gone += 1
    return gone
