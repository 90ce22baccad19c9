"""The Gradio app: a chat with streamed, cited answers, a status line, examples and uploads.

Gradio is an optional extra and is imported only here (``pip install -e '.[ui]'``).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from html import escape
from typing import Any

import gradio as gr

from assistant.core import Assistant, default_assistant
from assistant.errors import AssistantError, ConfigError
from assistant.records import Answer
from assistant.ui import render

log = logging.getLogger(__name__)

EXAMPLES = (
    "Что, по словам казахстанского эксперта, строит Казахстан вместо стен?",
    "Какой объём внутреннего рынка ИИ-решений в России называет Минцифры?",
    "How much has Japan invested in the economy of Kazakhstan?",
    "What does the Kazakh expert say about Khorgos?",
)
UPLOAD_TYPES = [".txt", ".md", ".pdf", ".docx", ".html", ".htm"]
EMPTY_HINT = "Type a question first — in Russian or English — or click one of the examples."
PROGRESS = gr.Progress()  # Gradio spots a Progress default and feeds the upload's progress bar
INTERNAL_ERROR = "Something went wrong while answering ({kind}); the error was logged. Please try again."


def _new_session() -> dict[str, Any]:
    return {"messages": [], "questions": []}


def _modes(assistant: Assistant) -> list[str]:
    provider = assistant.settings.llm_provider
    return ["extractive"] if provider == "none" else [f"llm ({provider})", "extractive"]


def _stream_kwargs(assistant: Assistant, mode: str | None) -> dict[str, Any]:
    """The chosen answer mode ("llm (openai)" → "llm"), or nothing for the configured default."""
    if not mode or mode == _modes(assistant)[0]:
        return {}
    return {"mode": mode.split(" ")[0]}


def _doc_length(assistant: Assistant):
    def length(source: str) -> int | None:
        try:
            return len(assistant.document_text(source))
        except AssistantError:
            return None
    return length


def answer_stream(assistant: Assistant, message: str | None, session: dict[str, Any], k: float | None,
                  mode: str | None = None) -> Iterator[tuple[list[dict[str, str]], dict[str, Any], str, str]]:
    """One chat turn: yields (messages, session, hint, textbox) as the answer is written."""
    question = (message or "").strip()
    messages = list(session["messages"])
    if not question:
        yield messages, session, EMPTY_HINT, ""
        return
    turn = len(messages) + 1
    messages.append({"role": "user", "content": render.user_html(question)})
    messages.append({"role": "assistant", "content": render.streaming_html("")})
    yield messages, session, "", ""

    started = time.perf_counter()
    text = ""
    result: Answer | None = None
    try:
        stream = assistant.stream(question, k=int(k) if k else None, history=list(session["questions"]),
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
        html = render.answer_html(result, turn, _doc_length(assistant), time.perf_counter() - started)
        session = {"messages": [*messages[:-1], {"role": "assistant", "content": html}],
                   "questions": [*session["questions"], result.question]}
        yield session["messages"], session, "", ""
    except AssistantError as exc:
        messages[-1] = {"role": "assistant", "content": render.error_html(str(exc))}
        session = {**session, "messages": messages}
        yield messages, session, "", ""
    except Exception as exc:  # never a traceback in the chat; the server keeps serving
        log.exception("answering %r failed", question[:200])
        shown = INTERNAL_ERROR.format(kind=type(exc).__name__)
        messages[-1] = {"role": "assistant", "content": render.error_html(shown)}
        session = {**session, "messages": messages}
        yield messages, session, "", ""


def build_app(assistant: Assistant) -> gr.Blocks:
    """The chat app over ``assistant`` (loads or builds its index first)."""
    settings = assistant.settings
    status = assistant.status()  # also makes sure the index is ready before anyone asks
    modes = _modes(assistant)
    concurrency = settings.ui_concurrency

    def respond(message, session, k, mode):
        yield from answer_stream(assistant, message, session, k, mode)

    def ask_example(question: str):
        def run(session, k, mode):
            yield from answer_stream(assistant, question, session, k, mode)
        return run

    def clear():
        fresh = _new_session()
        return fresh["messages"], fresh, "", ""

    def add_documents(files, progress=PROGRESS):
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        if not paths:
            return '<div class="upload-log">Choose one or more files first.</div>', gr.update(), None
        progress(0, desc="Copying files")

        def report(stage: str, done: int, total: int) -> None:
            progress((done, total) if total else None, desc=stage)

        try:
            index_report, lines = assistant.add_files(paths, progress=report)
            r = index_report
            lines.append(f"index now holds {r.documents} documents, {r.passages} passages "
                         f"({r.embedded} passages embedded, {r.seconds:.1f} s)")
        except AssistantError as exc:
            lines = [f"not added: {exc}"]
        except Exception as exc:
            log.exception("adding %s failed", paths)
            lines = [f"not added: something went wrong ({type(exc).__name__}); the error was logged"]
        log_html = '<div class="upload-log">' + "<br>".join(escape(line) for line in lines) + "</div>"
        return log_html, render.status_html(assistant.status(), modes), None

    def refresh_status():
        return render.status_html(assistant.status(), modes)

    def ask(question: str, k: int = settings.top_k, history: list[str] | None = None) -> dict:
        """Answer `question` from the corpus: answer text with [n] markers and its numbered citations.
        `history` lists the earlier questions of the conversation (for follow-ups)."""
        try:
            result = assistant.answer(question, k=int(k), history=history or None)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from exc
        return {
            "question": result.question,
            "answer": result.answer,
            "abstained": result.abstained,
            "language": result.language,
            "composer": result.composer,
            "citations": [asdict(c) for c in result.citations],
            "warnings": list(result.warnings) + list(result.notices),
        }

    with gr.Blocks(title="Corpus assistant", analytics_enabled=False) as app:
        session = gr.State(_new_session())
        gr.Markdown("# Ask the corpus\nAnswers are built from the indexed articles; every claim carries a "
                    "numbered marker — click it to see the passage it comes from.", elem_id="app-title")
        status_box = gr.HTML(render.status_html(status, modes), elem_id="status")
        with gr.Row():
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(
                    label="Chat", show_label=False, elem_id="chat", height=640, latex_delimiters=[],
                    buttons=["copy"], feedback_options=None, group_consecutive_messages=False,
                    placeholder="Ask a question about the articles — in Russian or English.",
                )
                with gr.Row():
                    msg = gr.Textbox(placeholder="Ask a question… / Задайте вопрос…", show_label=False,
                                     lines=1, max_lines=6, scale=6, elem_id="question", autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="send")
                hint = gr.Markdown("", elem_id="hint")
            with gr.Column(scale=2):
                gr.Markdown("**Examples** — one click asks")
                example_buttons = [gr.Button(q, size="sm", elem_classes=["example-btn"],
                                             elem_id=f"example-{i}") for i, q in enumerate(EXAMPLES)]
                with gr.Accordion("Settings", open=True):
                    k = gr.Slider(1, 10, value=min(settings.top_k, 10), step=1, label="Passages to use",
                                  info="How many retrieved passages the answer may draw on", elem_id="k")
                    mode = gr.Radio(modes, value=modes[0], label="Answer mode", visible=len(modes) > 1,
                                    elem_id="mode", info="LLM writes the answer; extractive quotes sentences")
                    clear_btn = gr.Button("New conversation", size="sm", elem_id="clear")
                with gr.Accordion("Add documents", open=False, elem_id="add-docs"):
                    limits = f"{', '.join(UPLOAD_TYPES)} · up to {settings.max_upload_mb:g} MB each"
                    files = gr.File(file_count="multiple", file_types=UPLOAD_TYPES, label=limits,
                                    elem_id="upload")
                    add_btn = gr.Button("Add to corpus", elem_id="add")
                    upload_log = gr.HTML("", elem_id="upload-log")

        chat_io: dict[str, Any] = {"outputs": [chatbot, session, hint, msg], "concurrency_limit": concurrency,
                   "concurrency_id": "answer", "api_visibility": "undocumented", "show_progress": "hidden"}
        msg.submit(respond, [msg, session, k, mode], **chat_io)
        send.click(respond, [msg, session, k, mode], **chat_io)
        for button, question in zip(example_buttons, EXAMPLES, strict=True):
            button.click(ask_example(question), [session, k, mode], **chat_io)
        clear_btn.click(clear, None, [chatbot, session, hint, msg], api_visibility="private")
        chatbot.clear(clear, None, [chatbot, session, hint, msg], api_visibility="private")
        add_btn.click(add_documents, [files], [upload_log, status_box, files], concurrency_limit=1,
                      concurrency_id="index", api_visibility="private")
        app.load(refresh_status, None, status_box, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=concurrency, concurrency_id="answer")
    return app


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth(assistant: Assistant, host: str) -> tuple[str, str] | None:
    secret = assistant.settings.ui_auth
    if is_loopback(host):
        return None
    if secret is None or not secret.get_secret_value():
        log.warning("serving on %s without a password: set ASSISTANT_UI_AUTH=user:password", host)
        return None
    user, sep, password = secret.get_secret_value().partition(":")
    if not sep or not user or not password:
        raise ConfigError("ui_auth must look like user:password")
    return user, password


def theme() -> gr.themes.Base:
    # Local fonts only: the browser must not reach for Google Fonts (there may be no internet).
    return gr.themes.Soft(primary_hue="blue", font=["system-ui", "Segoe UI", "Roboto", "sans-serif"],
                          font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])


def start(assistant: Assistant | None = None, host: str | None = None, port: int | None = None, *,
          block: bool = False, quiet: bool = False) -> gr.Blocks:
    """Build and serve the app; returns at once unless ``block`` (then serves until interrupted)."""
    assistant = assistant or default_assistant()
    settings = assistant.settings
    host = host or settings.ui_host
    port = settings.ui_port if port is None else port
    auth = _auth(assistant, host)
    app = build_app(assistant)
    app.queue(default_concurrency_limit=settings.ui_concurrency)
    app.launch(
        server_name=host, server_port=port, auth=auth, prevent_thread_lock=not block, quiet=quiet,
        show_error=False, ssr_mode=False, max_file_size=int(settings.max_upload_mb * 1_000_000),
        footer_links=["api"], theme=theme(), css=render.CSS, head=render.HEAD,
    )
    return app


def launch(assistant: Assistant | None = None, host: str | None = None, port: int | None = None) -> None:
    """Serve the chat (host/port default to the ``ui_host``/``ui_port`` settings) until interrupted."""
    start(assistant, host, port, block=True)
