"""The Gradio app: a chat with streamed, cited answers; conversations kept per user; a document
library with uploads, sharing, deletion and a viewer; and a calm status line.

Gradio is an optional extra and is imported only here (``pip install -e '.[ui]'``).

Who is asking is always the login (``request.username``), never anything the page sends; with
no logins configured the chat serves loopback only and its one user is ``local``.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.core import Assistant, default_assistant
from assistant.errors import AssistantError, ConfigError, UsageError
from assistant.library import LOCAL_USER, Access, LibraryEntry
from assistant.records import Answer, Document
from assistant.ui import render
from assistant.ui.assets import CSS, DOWNLOAD_JS, HEAD, SCROLL_VIEWER_JS
from assistant.ui.conversations import Conversations
from assistant.ui.guard import Guard, remove_uploaded
from assistant.ui.jobs import Job, Jobs

log = logging.getLogger(__name__)

EXAMPLES = (
    "Что, по словам казахстанского эксперта, строит Казахстан вместо стен?",
    "Какой объём внутреннего рынка ИИ-решений в России называет Минцифры?",
    "How much has Japan invested in the economy of Kazakhstan?",
    "What does the Kazakh expert say about Khorgos?",
)
UPLOAD_TYPES = [".txt", ".md", ".pdf", ".docx", ".html", ".htm"]
DOCUMENTED = ("ask",)  # the API: every other event is the page's own (see assistant.ui.guard)
EMPTY_HINT = "Type a question first — in Russian or English — or pick one of the examples."
INTERNAL_ERROR = "Something went wrong while answering ({kind}); the error was logged. Please try again."
CONVERSATIONS_DB = "conversations.sqlite"


@dataclass
class Context:
    """What every handler of one app shares."""

    assistant: Assistant
    conversations: Conversations
    jobs: Jobs
    modes: list[str]
    logins: bool  # a login is required
    loopback: bool  # served on this machine only
    open_network: bool = False  # --insecure: off loopback with no login
    upload_dir: Path = field(default_factory=lambda: Path(gr.utils.get_upload_folder()))

    def user(self, request: gr.Request | None) -> str:
        name = getattr(request, "username", None) if request is not None else None
        return name or LOCAL_USER

    def access(self, user: str) -> Access:
        # Without logins only this machine can connect (unless --insecure): its one user runs it.
        admin = user in self.assistant.settings.admins() or (not self.logins and self.loopback)
        return Access(user, admin=admin)

    def doc_of(self, source: str) -> Document | None:
        try:
            return self.assistant.document(source)
        except AssistantError:
            return None

    def status(self, user: str) -> str:
        busy = "Updating the library…" if self.jobs.busy() else ""
        return render.status_html(self.assistant.status(), self.modes, user=user if self.logins else "",
                                  open_network=self.open_network, busy=busy)


def new_session() -> dict[str, Any]:
    return {"conversation": None, "answers": [], "messages": [], "jobs": [], "seen": -1}


def _modes(assistant: Assistant) -> list[str]:
    provider = assistant.settings.llm_provider
    return ["extractive"] if provider == "none" else [f"llm ({provider})", "extractive"]


def _stream_kwargs(assistant: Assistant, mode: str | None) -> dict[str, Any]:
    """The chosen answer mode ("llm (openai)" → "llm"), or nothing for the configured default."""
    if not mode or mode == _modes(assistant)[0]:
        return {}
    return {"mode": mode.split(" ")[0]}


def whole_k(k: object) -> int | None:
    """The slider's or the API's ``k`` as a whole number, or :class:`UsageError`."""
    if k is None or k == "":
        return None
    if isinstance(k, bool):
        raise UsageError("k must be a whole number from 1 to 50")
    try:
        value = float(k)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"k must be a whole number from 1 to 50, not {str(k)[:20]!r}") from None
    if not value.is_integer() or not 1 <= value <= 50:
        raise UsageError("k must be a whole number from 1 to 50")
    return int(value)


def answer_stream(ctx: Context | Assistant, message: str | None, session: dict[str, Any], k: object,
                  mode: str | None = None, user: str | None = None
                  ) -> Iterator[tuple[list[dict[str, str]], dict[str, Any], str, str]]:
    """One chat turn: yields (messages, session, hint, textbox) as the answer is written. The
    finished answer is added to the session (and, with a context, to the user's stored
    conversation); a failed turn keeps the question in the box, so nothing typed is lost."""
    assistant = ctx.assistant if isinstance(ctx, Context) else ctx
    question = (message or "").strip()
    messages = list(session["messages"])
    if not question:
        yield messages, session, EMPTY_HINT, message or ""
        return
    turn = len(session["answers"]) + 1
    messages.append({"role": "user", "content": render.user_html(question)})
    messages.append({"role": "assistant", "content": render.streaming_html("")})
    yield messages, session, "", ""

    started = time.perf_counter()
    text = ""
    result: Answer | None = None
    try:
        history = [a.question for a in session["answers"]]
        stream = assistant.stream(question, k=whole_k(k), history=history, user=user,
                                  **_stream_kwargs(assistant, mode))
        for item in stream:
            if isinstance(item, Answer):
                result = item
            else:
                text += item
                messages[-1] = {"role": "assistant", "content": render.streaming_html(text)}
                yield messages, session, "", ""
        if result is None:
            raise AssistantError("the answer stream ended without an answer")
        doc_of = ctx.doc_of if isinstance(ctx, Context) else None
        html = render.answer_html(result, turn, doc_of, time.perf_counter() - started)
        conversation = session["conversation"]
        if isinstance(ctx, Context) and user is not None:
            conversation = ctx.conversations.add(user, conversation, result)
        session = {**session, "messages": [*messages[:-1], {"role": "assistant", "content": html}],
                   "answers": [*session["answers"], result], "conversation": conversation}
        yield session["messages"], session, "", ""
    except AssistantError as exc:
        log.info("question not answered: %s", exc)
        messages[-1] = {"role": "assistant", "content": render.error_html(str(exc))}
        yield messages, {**session, "messages": messages}, "", message or ""
    except Exception as exc:  # never a traceback in the chat; the server keeps serving
        log.error("answering %r failed: %s: %s", question[:200], type(exc).__name__, exc)
        log.debug("answering failed", exc_info=True)
        shown = INTERNAL_ERROR.format(kind=type(exc).__name__)
        messages[-1] = {"role": "assistant", "content": render.error_html(shown)}
        yield messages, {**session, "messages": messages}, "", message or ""


def rendered(ctx: Context, answers: list[Answer]) -> list[dict[str, str]]:
    messages = []
    for turn, result in enumerate(answers, 1):
        messages.append({"role": "user", "content": render.user_html(result.question)})
        messages.append({"role": "assistant", "content": render.answer_html(result, turn, ctx.doc_of)})
    return messages


def conversation_choices(ctx: Context, user: str) -> list[tuple[str, str]]:
    return [(f"{c.title} · {c.updated[:10]}", c.id) for c in ctx.conversations.list(user)]


def job_lines(ctx: Context, ids: list[str]) -> list[tuple[str, str, float | None]]:
    lines: list[tuple[str, str, float | None]] = []
    for job in ctx.jobs.get(ids):
        if job.state == "waiting":
            ahead = ctx.jobs.ahead_of(job)
            lines.append(("waiting", f"{job.title} — waiting ({ahead} ahead)", None))
        elif job.state == "running":
            share = job.done / job.total if job.total else None
            stage = {"embedding": "embedding passages and sentences"}.get(job.stage, job.stage or "reading files")
            count = f" {job.done:,} of {job.total:,}" if job.total else ""
            lines.append(("running", f"{job.title} — {stage}{count}", share if share is not None else 0.0))
        else:
            for text in job.messages:
                lines.append((job.state, text, None))
            if job.report is not None and job.state == "done":
                r = job.report
                lines.append(("done", f"the library now holds {r.documents} documents ({r.embedded} passages and "
                                      f"sentences embedded, {r.seconds:.1f} s)", None))
    return lines


def build_app(assistant: Assistant, *, logins: bool = False, loopback: bool = True,
              open_network: bool = False) -> gr.Blocks:
    """The chat app over ``assistant`` (loads or builds its index first)."""
    settings = assistant.settings
    assistant.status()  # makes sure the index is ready before anyone asks
    data_dir = settings.ui_data_dir or settings.index_dir
    ctx = Context(assistant, Conversations(data_dir / CONVERSATIONS_DB), Jobs(), _modes(assistant),
                  logins=logins, loopback=loopback, open_network=open_network)
    modes = ctx.modes
    concurrency = settings.ui_concurrency
    private: dict[str, Any] = {"api_visibility": "private"}

    # --- handlers --------------------------------------------------------------------------
    def on_load(current: str | None, request: gr.Request):
        user = ctx.user(request)
        session = new_session()
        choices = conversation_choices(ctx, user)
        found = ctx.conversations.get(user, current) if current else None  # this browser's open conversation
        if found is not None:
            session = {**session, "conversation": current, "answers": found[1]}
            session["messages"] = rendered(ctx, found[1])
        library = ctx.assistant.library(ctx.access(user))
        return (ctx.status(user), gr.Radio(choices=choices, value=session["conversation"]), session["messages"],
                session, library, session["conversation"])

    def respond(message, session, k, mode, request: gr.Request):
        user = ctx.user(request)
        answered = len(session["answers"])
        for messages, state, hint, box in answer_stream(ctx, message, session, k, mode, user=user):
            if len(state["answers"]) > answered:  # the finished turn, now stored: list it
                choices = conversation_choices(ctx, user)
                yield (messages, state, hint, box, gr.Radio(choices=choices, value=state["conversation"]),
                       state["conversation"])
            else:
                yield messages, state, hint, box, gr.skip(), gr.skip()

    def ask_example(session, k, mode, evt: gr.SelectData, request: gr.Request):
        value = evt.value if isinstance(evt.value, dict) else {}
        yield from respond(str(value.get("text", "")), session, k, mode, request)

    def new_conversation(session):
        fresh = {**new_session(), "jobs": session["jobs"], "seen": session["seen"]}
        return [], fresh, "", "", gr.Radio(value=None), None

    def open_conversation(chosen, session, request: gr.Request):
        user = ctx.user(request)
        found = ctx.conversations.get(user, chosen) if chosen else None
        if found is None:
            return gr.skip(), session, "That conversation is gone.", gr.skip()
        fresh = {**new_session(), "jobs": session["jobs"], "seen": session["seen"], "conversation": chosen,
                 "answers": found[1]}
        fresh["messages"] = rendered(ctx, found[1])
        return fresh["messages"], fresh, "", chosen

    def delete_conversation(session, request: gr.Request):
        user = ctx.user(request)
        if session["conversation"]:
            ctx.conversations.delete(user, session["conversation"])
        fresh = {**new_session(), "jobs": session["jobs"], "seen": session["seen"]}
        return [], fresh, "", gr.Radio(choices=conversation_choices(ctx, user), value=None), None

    def export_conversation(session, request: gr.Request):
        user = ctx.user(request)
        if not session["answers"]:
            return "", "", "Nothing to export yet: ask a question first."
        found = ctx.conversations.get(user, session["conversation"]) if session["conversation"] else None
        title = found[0] if found else session["answers"][0].question
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        markdown = render.conversation_markdown(title, session["answers"], stamp, ctx.doc_of)
        name = f"conversation-{time.strftime('%Y%m%d-%H%M', time.gmtime())}.md"
        return markdown, name, ""

    def open_cited(payload: str, session, request: gr.Request):
        """A card's title was clicked: ``t3-c1`` (citation 1 of answer 3) or ``t3-r2`` (related passage 2)."""
        user = ctx.user(request)
        ident = (payload or "").split("|", 1)[0]
        try:
            turn_text, item = ident[1:].split("-", 1)
            result = session["answers"][int(turn_text) - 1]
            kind, n = item[0], int(item[1:])
            if kind == "c":
                c = result.citations[n - 1]
                source, span, highlights, language = c.source, (c.start, c.end), c.highlights, c.language
            else:
                p = result.related[n - 1]
                source, span, highlights, language = p.source, (p.start, p.end), (), p.language
        except (ValueError, IndexError):
            return gr.skip(), gr.skip()
        try:
            doc_view = ctx.assistant.view_document(source, ctx.access(user))
        except AssistantError as exc:
            return render.error_html(str(exc)), gr.Tabs(selected="document")
        passage = doc_view.locate(*span)
        sentences = [doc_view.locate(a, b) for a, b in highlights]
        return render.viewer_html(doc_view, passage, sentences, language), gr.Tabs(selected="document")

    def open_document(source: str, request: gr.Request):
        user = ctx.user(request)
        try:
            doc_view = ctx.assistant.view_document(source, ctx.access(user))
            language = ctx.assistant.document(source).language
        except AssistantError as exc:
            return render.error_html(str(exc)), gr.Tabs(selected="document")
        return render.viewer_html(doc_view, language=language), gr.Tabs(selected="document")

    def start_job(session, job: Job):
        ctx.jobs.submit(job)
        unfinished = [j.id for j in ctx.jobs.get(session["jobs"]) if not j.over]  # the finished were read
        session = {**session, "jobs": [*unfinished, job.id]}
        return render.jobs_html(job_lines(ctx, session["jobs"])), session, gr.Timer(active=True)

    def add_documents(files, session, request: gr.Request):
        user = ctx.user(request)
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        if not paths:
            return render.jobs_html([("failed", "Choose one or more files first.", None)]), gr.skip(), session, \
                gr.skip()
        names = ", ".join(Path(p).name for p in paths)
        title = names if len(names) <= 80 else f"{len(paths)} files"

        def work(progress):
            return ctx.assistant.add_files(paths, progress=progress, user=user)

        def cleanup() -> None:  # Gradio's temporary copies: the corpus has its own now (or refused them)
            remove_uploaded(paths, ctx.upload_dir)

        job = Job(user, title, work, cleanup=cleanup)
        jobs_log, session, timer = start_job(session, job)
        return jobs_log, None, session, timer

    def delete_document(source: str, title: str, session, request: gr.Request):
        user = ctx.user(request)
        access = ctx.access(user)

        def work(progress):
            return ctx.assistant.remove_document(source, access, progress=progress), [f"{title} ({source}): deleted"]

        jobs_log, session, timer = start_job(session, Job(user, f"Deleting {source}", work))
        return jobs_log, session, timer, ""

    def share_document(source: str, title: str, session, request: gr.Request):
        user = ctx.user(request)
        access = ctx.access(user)

        def work(progress):
            new, report = ctx.assistant.share_document(source, access, progress=progress)
            return report, [f"{title} ({source}): shared with everyone as {new}"]

        jobs_log, session, timer = start_job(session, Job(user, f"Sharing {source}", work))
        return jobs_log, session, timer

    def poll(session, request: gr.Request):
        """The timer's tick while this page has library jobs: their progress, and the library
        and status once one finishes."""
        user = ctx.user(request)
        jobs = ctx.jobs.get(session["jobs"])
        running = any(not j.over for j in jobs)
        jobs_log = render.jobs_html(job_lines(ctx, session["jobs"]))
        if ctx.jobs.changes != session["seen"]:
            session = {**session, "seen": ctx.jobs.changes}
            library = ctx.assistant.library(ctx.access(user))
            return jobs_log, library, ctx.status(user), gr.Timer(active=running), session
        return jobs_log, gr.skip(), gr.skip(), gr.Timer(active=running), session

    def ask(question: str, k: int = settings.top_k, history: list[str] | None = None,
            request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Answer `question` from the documents: answer text with [n] markers and its numbered
        citations. `history` lists the earlier questions of the conversation (for follow-ups).
        With logins, the caller's own uploads are searched too."""
        started = time.perf_counter()
        try:
            if history is not None and (not isinstance(history, list) or not all(isinstance(h, str) for h in history)):
                raise UsageError("history must be a list of the earlier questions (strings)")
            result = ctx.assistant.answer(question, k=whole_k(k), history=history or None,
                                          user=ctx.user(request))
        except AssistantError as exc:
            log.info("/ask refused: %s", exc)
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:
            log.error("/ask failed: %s: %s", type(exc).__name__, exc)
            log.debug("/ask failed", exc_info=True)
            raise gr.Error(INTERNAL_ERROR.format(kind=type(exc).__name__), print_exception=False) from None
        log.info("/ask answered in %.2f s", time.perf_counter() - started)
        return {
            "question": result.question,
            "answer": result.answer,
            "abstained": result.abstained,
            "language": result.language,
            "composer": result.composer,
            "citations": [asdict(c) for c in result.citations],
            "related": [{k: v for k, v in asdict(p).items()} for p in result.related],
            "warnings": list(result.warnings) + list(result.notices),
        }

    # --- layout ----------------------------------------------------------------------------
    with gr.Blocks(title="Corpus assistant", analytics_enabled=False, delete_cache=(900, 3600)) as app:
        session = gr.State(new_session())
        library_state = gr.State([])
        pending_delete = gr.State("")
        # This browser's open conversation, so a reload reopens it. The id is checked against the
        # login before anything is read, so the fixed secret (kept across restarts) guards nothing.
        current = gr.BrowserState(None, storage_key="assistant-conversation", secret="assistant-conversation")
        timer = gr.Timer(1.0, active=False)

        with gr.Sidebar(label="Conversations", open=False, elem_id="conversations-panel", width=300):
            gr.Markdown("### Conversations")
            new_btn = gr.Button("New conversation", variant="primary", size="sm", elem_id="new-conversation")
            conversations = gr.Radio([], value=None, label="Your conversations", show_label=False,
                                     elem_id="conversations", container=False)
            with gr.Row():
                export_btn = gr.Button("Export as Markdown", size="sm", elem_id="export")
                delete_conv_btn = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-conversation")
            conv_hint = gr.Markdown("", elem_id="conversation-hint")
            export_md = gr.Textbox(visible="hidden", elem_id="export-md")
            export_name = gr.Textbox(visible="hidden", elem_id="export-name")

        gr.Markdown("# Ask the documents\nAsk in Russian or English. Answers quote the documents, with numbered "
                    "sources you can open and check.", elem_id="app-title")
        status_box = gr.HTML(render.status_html(assistant.status(), modes, open_network=open_network),
                             elem_id="status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(
                    label="Chat", show_label=False, elem_id="chat", height="68vh", min_height=360,
                    latex_delimiters=[], buttons=[], feedback_options=None, group_consecutive_messages=False,
                    layout="panel",
                    placeholder="Ask a question about the documents — in Russian or English — or pick an example.",
                    examples=[{"text": q, "display_text": q} for q in EXAMPLES],
                )
                with gr.Row(elem_id="ask-row"):
                    msg = gr.Textbox(placeholder="Ask a question…", show_label=False, lines=1, max_lines=6,
                                     scale=1, min_width=0, elem_id="question", autofocus=True, container=False)
                    send = gr.Button("Ask", variant="primary", scale=0, min_width=0, elem_id="send")
                hint = gr.Markdown("", elem_id="hint")
            with gr.Column(scale=2, min_width=300), gr.Tabs(selected="library", elem_id="panel") as tabs:
                with gr.Tab("Library", id="library", elem_id="library-tab"):
                    files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, elem_id="upload", height=140,
                                    label=f"Add documents: {' '.join(UPLOAD_TYPES)}, up to "
                                          f"{settings.max_upload_mb:g} MB each")
                    add_btn = gr.Button("Add to my documents", elem_id="add")
                    jobs_log = gr.HTML(render.jobs_html([]), elem_id="upload-log")
                    gr.Markdown("Your uploads answer only your questions until an admin shares them with "
                                "everyone.", elem_id="library-note")

                    @gr.render(inputs=[library_state, pending_delete])
                    def show_library(entries: list[LibraryEntry], pending: str):
                        with gr.Column(elem_id="library"):
                            for entry in entries:
                                library_row(entry, pending)

                with gr.Tab("Document", id="document", elem_id="document-tab"):
                    viewer = gr.HTML(render.viewer_html(None), elem_id="viewer")
                with gr.Tab("Settings", id="settings", elem_id="settings-tab"):
                    k = gr.Slider(1, 10, value=min(settings.top_k, 10), step=1, label="Passages to use",
                                  info="How many retrieved passages the answer may draw on", elem_id="k")
                    mode = gr.Radio(modes, value=modes[0], label="Answer mode", visible=len(modes) > 1,
                                    elem_id="mode", info="LLM writes the answer; extractive quotes sentences")
        open_request = gr.Textbox(visible="hidden", elem_id="open-request")

        def library_row(entry: LibraryEntry, pending: str) -> None:
            source, title = entry.source, entry.title

            def opened(request: gr.Request):
                return open_document(source, request)

            def shared(sess, request: gr.Request):
                return share_document(source, title, sess, request)

            def deleted(sess, request: gr.Request):
                return delete_document(source, title, sess, request)

            with gr.Row(elem_classes=["lib-row"], equal_height=False):
                gr.HTML(render.library_row(entry), elem_classes=["lib-info"], min_height=0)
                with gr.Row(elem_classes=["lib-actions"], scale=0):
                    gr.Button("Open", size="sm", elem_classes=["lib-open"], scale=0, min_width=0).click(
                        opened, None, [viewer, tabs], **private).then(None, None, None, js=SCROLL_VIEWER_JS, **private)
                    if entry.can_share:
                        gr.Button("Share", size="sm", elem_classes=["lib-share"], scale=0, min_width=0).click(
                            shared, [session], [jobs_log, session, timer], **private)
                    if entry.can_delete and pending != source:
                        gr.Button("Delete", size="sm", elem_classes=["lib-delete"], scale=0, min_width=0).click(
                            lambda: source, None, [pending_delete], **private)
                    elif entry.can_delete:
                        gr.Button("Delete for good", size="sm", variant="stop", elem_classes=["lib-confirm"], scale=0,
                                  min_width=0).click(deleted, [session], [jobs_log, session, timer, pending_delete],
                                                     **private)
                        gr.Button("Keep", size="sm", elem_classes=["lib-keep"], scale=0, min_width=0).click(
                            lambda: "", None, [pending_delete], **private)

        # --- events --------------------------------------------------------------------------
        chat_out = [chatbot, session, hint, msg, conversations, current]
        chat_io: dict[str, Any] = {"concurrency_limit": concurrency, "concurrency_id": "answer",
                                   "show_progress": "hidden", **private}
        msg.submit(respond, [msg, session, k, mode], chat_out, **chat_io)
        send.click(respond, [msg, session, k, mode], chat_out, **chat_io)
        chatbot.example_select(ask_example, [session, k, mode], chat_out, **chat_io)
        new_btn.click(new_conversation, [session], [chatbot, session, hint, msg, conversations, current], **private)
        conversations.input(open_conversation, [conversations, session], [chatbot, session, conv_hint, current],
                            **private)
        delete_conv_btn.click(delete_conversation, [session], [chatbot, session, conv_hint, conversations, current],
                              **private)
        export_btn.click(export_conversation, [session], [export_md, export_name, conv_hint], **private).then(
            None, [export_md, export_name], None, js=DOWNLOAD_JS, **private)
        open_request.change(open_cited, [open_request, session], [viewer, tabs], **private).then(
            None, None, None, js=SCROLL_VIEWER_JS, **private)
        add_btn.click(add_documents, [files, session], [jobs_log, files, session, timer], **private)
        timer.tick(poll, [session], [jobs_log, library_state, status_box, timer, session], **private)
        app.load(on_load, [current], [status_box, conversations, chatbot, session, library_state, current],
                 **private)
        gr.api(ask, api_name="ask", concurrency_limit=concurrency, concurrency_id="answer")
    return app


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth(assistant: Assistant, host: str, insecure: bool = False) -> list[tuple[str, str]] | None:
    """Gradio's list of logins. With ``ui_auth`` set a login is required wherever the chat
    listens (a proxy on this machine may forward others to a loopback address); without it,
    off loopback, the chat refuses to start unless ``insecure``."""
    logins = assistant.settings.logins()
    if logins:
        return list(logins.items())
    if is_loopback(host):
        return None
    if not insecure:
        raise ConfigError(
            f"refusing to serve the chat on {host} without a login: set ASSISTANT_UI_AUTH=user:password "
            "(several: ann:pw1,bob:pw2), or start it with --insecure to let anyone on the network in")
    log.warning("INSECURE: serving the chat on %s with no login — anyone who can reach it can read, upload and "
                "delete documents (started with --insecure)", host)
    return None


def theme() -> gr.themes.Base:
    # Local fonts only: the browser must not reach for Google Fonts (there may be no internet).
    return gr.themes.Soft(primary_hue="blue", font=["system-ui", "Segoe UI", "Roboto", "sans-serif"],
                          font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])


def start(assistant: Assistant | None = None, host: str | None = None, port: int | None = None, *,
          block: bool = False, quiet: bool = False, insecure: bool = False) -> gr.Blocks:
    """Build and serve the app; returns at once unless ``block`` (then serves until interrupted)."""
    assistant = assistant or default_assistant()
    settings = assistant.settings
    host = host or settings.ui_host
    port = settings.ui_port if port is None else port
    auth = _auth(assistant, host, insecure)
    loopback = is_loopback(host)
    app = build_app(assistant, logins=auth is not None, loopback=loopback, open_network=not loopback and not auth)
    app.queue(default_concurrency_limit=settings.ui_concurrency)
    api_fns = {fn._id for fn in app.fns.values() if fn.api_name in DOCUMENTED}
    guard = Middleware(Guard, documented=DOCUMENTED, upload_types=UPLOAD_TYPES,
                       upload_dir=Path(gr.utils.get_upload_folder()), api_fns=lambda: api_fns)
    app.launch(
        server_name=host, server_port=port, auth=auth, prevent_thread_lock=not block, quiet=quiet,
        show_error=False, ssr_mode=False, max_file_size=int(settings.max_upload_mb * 1_000_000),
        footer_links=["api"], theme=theme(), css=CSS, head=HEAD, app_kwargs={"middleware": [guard]},
    )
    return app


def launch(assistant: Assistant | None = None, host: str | None = None, port: int | None = None,
           insecure: bool = False) -> None:
    """Serve the chat (host/port default to the ``ui_host``/``ui_port`` settings) until interrupted."""
    start(assistant, host, port, block=True, insecure=insecure)
