"""HTML for the chat: answers with clickable [n] markers and numbered citation cards.

Pure functions, no Gradio import, so they are cheap to test. Everything that comes from the
corpus, the question or the answer is untrusted text and is escaped here; the only markup in
the output is the markup written in this module. (Gradio's chat sanitiser also runs in the
browser: it keeps ``id``, ``class``, ``href`` and ``title`` but drops ``data-*`` attributes, so
markers reach their cards through ``href="#id"`` only.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from html import escape

from assistant.records import Answer, Citation, Status

MARKER = re.compile(r"\[(\d{1,3})\]")
SHOWN_QUESTION_CHARS = 600


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def card_id(turn: int, number: int) -> str:
    """The element id of citation ``number`` under answer ``turn`` (unique within a page)."""
    return f"t{turn}-c{number}"


def paragraphs(text: str) -> str:
    """Escaped text with its line breaks kept, and no blank line (which would end an HTML block
    in the chat's Markdown renderer)."""
    return re.sub(r"[ \t]*(?:\r?\n[ \t]*)+", "<br>", esc(text))


def link_markers(text: str, turn: int, numbers: set[int]) -> str:
    """Escape the answer and turn each ``[n]`` that has a card into a link to it."""
    out, last = [], 0
    for m in MARKER.finditer(text):
        out.append(paragraphs(text[last:m.start()]))
        n = int(m.group(1))
        if n in numbers:
            cid = card_id(turn, n)
            out.append(f'<a class="cite-marker" href="#{cid}" title="Show source [{n}]">[{n}]</a>')
        else:
            out.append(esc(m.group(0)))
        last = m.end()
    out.append(paragraphs(text[last:]))
    return "".join(out)


def highlighted(citation: Citation) -> str:
    """The passage text, escaped, with the sentences the answer used wrapped in ``<mark>``."""
    text = citation.text
    spans = sorted(
        (max(0, a - citation.start), min(len(text), b - citation.start))
        for a, b in citation.highlights
    )
    out, pos = [], 0
    for a, b in spans:
        if b <= a or b <= pos:
            continue
        a = max(a, pos)
        out.append(paragraphs(text[pos:a]) if pos < a else "")
        out.append(f'<mark class="support">{paragraphs(text[a:b])}</mark>')
        pos = b
    out.append(paragraphs(text[pos:]))
    return "".join(out)


def location(citation: Citation, doc_length: int | None) -> str:
    parts = []
    if citation.section:
        parts.append(f"section «{citation.section}»")
    where = f"characters {citation.start:,}–{citation.end:,}"
    if doc_length:
        where += f" of {doc_length:,} ({round(100 * citation.start / max(doc_length, 1))}% in)"
    parts.append(where)
    return " · ".join(parts)


def card(citation: Citation, turn: int, doc_length: int | None = None) -> str:
    cid = card_id(turn, citation.number)
    lang = f' lang="{esc(citation.language)}"' if citation.language in ("ru", "en") else ""
    return (
        f'<div class="cite-card" id="{cid}">'
        f'<div class="cite-head"><span class="cite-num">[{citation.number}]</span> '
        f'<span class="cite-title">{esc(citation.title)}</span></div>'
        f'<div class="cite-where">{esc(location(citation, doc_length))}</div>'
        f'<div class="cite-text"{lang}>{highlighted(citation)}</div>'
        f'<div class="cite-source">source file: <code class="cite-file">{esc(citation.source)}</code>'
        f' · relevance {citation.score:.3f}</div>'
        "</div>"
    )


def answer_html(result: Answer, turn: int, doc_length: Callable[[str], int | None] | None = None,
                seconds: float | None = None) -> str:
    """The finished answer: text with linked markers, then one card per citation."""
    numbers = {c.number for c in result.citations}
    parts = ['<div class="bot-answer answer-done">']
    cls = "answer-text abstained" if result.abstained else "answer-text"
    parts.append(f'<div class="{cls}">{link_markers(result.answer, turn, numbers)}</div>')
    notes = list(result.notices) + list(result.warnings)
    if notes:
        parts.append('<div class="answer-notes">' + "<br>".join("⚠ " + esc(n) for n in notes) + "</div>")
    if result.citations:
        caption = f"Sources ({len(result.citations)})"
        parts.append(f'<div class="cite-list"><div class="cite-caption">{caption}</div>')
        for c in result.citations:
            parts.append(card(c, turn, doc_length(c.source) if doc_length else None))
        parts.append("</div>")
    meta = [f"answer mode: {esc(result.composer)}"]
    if seconds is not None:
        meta.append(f"{seconds:.1f} s")
    parts.append(f'<div class="answer-meta">{" · ".join(meta)}</div>')
    parts.append("</div>")
    return "".join(parts)


def streaming_html(text: str) -> str:
    """The answer while it is being written (markers not linked yet)."""
    return (f'<div class="bot-answer answer-streaming"><div class="answer-text">{paragraphs(text) or "…"}'
            '<span class="cursor">▍</span></div></div>')


def error_html(message: str) -> str:
    return f'<div class="bot-answer answer-error">⚠ {esc(message)}</div>'


def user_html(question: str) -> str:
    """The user's message as shown in the chat (very long ones shortened for display)."""
    shown = question if len(question) <= SHOWN_QUESTION_CHARS else (
        question[:SHOWN_QUESTION_CHARS] + f"… ({len(question):,} characters)")
    return paragraphs(shown)


def status_html(status: Status, modes: Sequence[str] = ()) -> str:
    model = status.model
    weak = model.fallback or not model.multilingual
    cls = "status-line status-warn" if weak else "status-line"
    icon = "⚠ " if weak else ""
    mode = status.composer + (f" (available: {', '.join(modes)})" if len(modes) > 1 else "")
    return (
        f'<div class="{cls}" id="status-line">'
        f'<span class="status-model">{icon}{esc(model.describe())}</span>'
        f'<span class="status-counts"><b class="status-docs">{status.documents}</b> documents · '
        f'<b class="status-passages">{status.passages}</b> passages indexed</span>'
        f'<span class="status-mode">answer mode: <b>{esc(mode)}</b></span>'
        f'<span class="status-lexicon">cross-lingual lexicon: {esc(status.lexicon)}</span>'
        "</div>"
    )


CSS = """
.gradio-container { max-width: 1100px !important; margin: 0 auto !important; }
#app-title h1 { margin-bottom: 0.1em; }
.status-line { display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; font-size: 0.9em; padding: 0.55em 0.8em;
  border-radius: 8px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); }
.status-warn { border-color: #e0a000; background: #fff8e1; color: #5c4400; }
.status-warn .status-model { font-weight: 600; }
.bot-answer { line-height: 1.5; }
.answer-text.abstained { font-style: italic; opacity: 0.85; }
.answer-notes { font-size: 0.85em; color: #8a5a00; margin-top: 0.4em; }
.answer-meta { font-size: 0.78em; opacity: 0.65; margin-top: 0.5em; }
.answer-error { color: #b00020; font-weight: 500; }
a.cite-marker { font-weight: 700; text-decoration: none; padding: 0 0.15em; border-radius: 4px;
  background: #e3ecff; color: #1a4fd6 !important; cursor: pointer; }
a.cite-marker:hover { background: #c9d9ff; }
.cite-list { margin-top: 0.8em; display: flex; flex-direction: column; gap: 0.6em; }
.cite-caption { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.05em; opacity: 0.7; }
.cite-card { border: 1px solid var(--border-color-primary); border-left: 4px solid #1a4fd6;
  border-radius: 8px;
  padding: 0.6em 0.8em; background: var(--background-fill-primary); font-size: 0.92em;
  transition: box-shadow 0.3s, background 0.3s; scroll-margin: 1em; }
.cite-card.cite-active { box-shadow: 0 0 0 3px #ffb300; background: #fffdf3; }
.cite-head { font-weight: 600; }
.cite-num { color: #1a4fd6; }
.cite-where, .cite-source { font-size: 0.82em; opacity: 0.75; margin: 0.15em 0; }
.cite-text { margin: 0.35em 0; }
mark.support { background: #fff0a8; color: inherit; padding: 0 0.1em; border-radius: 2px; }
.cursor { animation: blink 1s steps(1) infinite; }
@keyframes blink { 50% { opacity: 0; } }
#hint { min-height: 1.4em; color: #8a5a00; font-size: 0.9em; }
#upload-log { font-size: 0.88em; }
.example-btn { font-size: 0.85em !important; text-align: left !important; }
"""

# Clicking a marker scrolls its card into view (inside the chat's own scroll box) and flashes it.
HEAD = """
<script>
document.addEventListener("click", function (ev) {
  const a = ev.target.closest ? ev.target.closest("a.cite-marker") : null;
  if (!a) return;
  ev.preventDefault();
  ev.stopPropagation();
  const card = document.getElementById((a.getAttribute("href") || "").replace(/^#/, ""));
  if (!card) return;
  document.querySelectorAll(".cite-card.cite-active").forEach(function (c) {
    c.classList.remove("cite-active");
  });
  card.classList.add("cite-active");
  card.scrollIntoView({behavior: "smooth", block: "center"});
}, true);
</script>
"""
