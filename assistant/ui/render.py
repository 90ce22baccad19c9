"""HTML and Markdown for the chat: answers with clickable [n] markers, source cards, related
passages, the status line, the library and the document viewer.

Pure functions, no Gradio import, so they are cheap to test. Everything that comes from the
corpus, the question or the answer is untrusted text and is escaped here; the only markup in
the output is the markup written in this module. (Gradio's chat sanitiser also runs in the
browser: it keeps ``id``, ``class``, ``href``, ``title``, ``lang``, ``role``, ``<details>``,
``<button>`` and ``<pre hidden>``, but drops ``data-*`` and ``aria-*`` attributes and
``<textarea>``/``<template>``, so a marker reaches its card through ``href="#id"``, a card's
title names its citation as ``href="#open:t3-c1"``, and the copy text rides in a hidden ``<pre>``.)

Colours are Gradio's theme variables only (``--color-accent-soft``, ``--body-text-color`` …),
so the light and the dark theme both read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from assistant.cite import markers
from assistant.library import DocumentView, LibraryEntry, map_span
from assistant.records import Answer, Citation, Document, Passage, Status

SHOWN_QUESTION_CHARS = 600
VIEW_WINDOW = 40_000  # characters of a long document shown either side of the cited passage
DocOf = Callable[[str], Document | None]


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def card_id(turn: int, number: int) -> str:
    """The element id of citation ``number`` under answer ``turn`` (unique within a page)."""
    return f"t{turn}-c{number}"


def related_id(turn: int, number: int) -> str:
    return f"t{turn}-r{number}"


def paragraphs(text: str) -> str:
    """Escaped text with its line breaks kept, and no blank line (which would end an HTML block
    in the chat's Markdown renderer)."""
    return re.sub(r"[ \t]*(?:\r?\n[ \t]*)+", "<br>", esc(text))


def link_markers(text: str, turn: int, numbers: set[int]) -> str:
    """Escape the answer and turn each ``[n]`` that has a card into a link to it (markers found
    by :func:`assistant.cite.markers`, the one marker parser)."""
    out, last = [], 0
    for m in markers(text):
        out.append(paragraphs(text[last:m.start]))
        lead = " " if text[m.start].isspace() else ""
        links = []
        for n in m.numbers:
            if n in numbers:
                links.append(f'<a class="cite-marker" href="#{card_id(turn, n)}" title="Show source [{n}]">[{n}]</a>')
            else:
                links.append(esc(f"[{n}]"))
        out.append(lead + "".join(links))
        last = m.end
    out.append(paragraphs(text[last:]))
    return "".join(out)


def split_note(text: str) -> tuple[str, str]:
    """``("Ответ из англоязычного источника:", rest)`` when the answer opens with a one-line
    note about the source's language, else ``("", text)``."""
    first, sep, rest = text.partition("\n")
    if sep and rest.strip() and first.rstrip().endswith(":") and len(first) <= 80 and not list(markers(first)):
        return first.strip(), rest.strip()
    return "", text


# --- relevance -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Relevance:
    label: str  # in plain words
    level: str  # css class suffix: best, strong, good, weak
    detail: str  # the raw scores, for the hover text


def relevance(passage_id: str, score: float, ranked: Sequence[Passage]) -> Relevance:
    """A reader's label for how well a passage matched, from its rank and its fused score
    relative to the best retrieved passage; the raw scores go into ``detail``."""
    rank = next((i for i, p in enumerate(ranked, 1) if p.id == passage_id), 0)
    passage = ranked[rank - 1] if rank else None
    top = max((p.score for p in ranked), default=0.0)
    share = score / top if top > 0 else 0.0
    if rank == 1:
        label, level = "best match", "best"
    elif share >= 0.8:
        label, level = "strong match", "strong"
    elif share >= 0.5:
        label, level = "good match", "good"
    else:
        label, level = "partial match", "weak"
    parts = [f"rank {rank} of {len(ranked)}" if rank else "", f"combined score {score:.4f}"]
    if passage is not None and passage.dense is not None:
        parts.append(f"meaning similarity {passage.dense:.3f}")
    if passage is not None and passage.lexical is not None:
        parts.append(f"keyword score (BM25) {passage.lexical:.2f}")
    return Relevance(label, level, " · ".join(p for p in parts if p))


# --- source cards ----------------------------------------------------------------------------
def highlighted(text: str, start: int, highlights: Sequence[tuple[int, int]]) -> str:
    """The passage ``text`` (at document offset ``start``), escaped, with the sentences the
    answer used (document offsets) wrapped in ``<mark class="support">``."""
    spans = sorted((max(0, a - start), min(len(text), b - start)) for a, b in highlights)
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


def where_in_file(source: str, start: int, end: int, doc: Document | None) -> str:
    """"characters 1,234–2,100 of the file (42% in)": offsets in the text extracted from the
    file when the index knows how cleaning moved them, else in the indexed text."""
    if doc is not None and doc.spans:
        a, b = map_span(doc.spans, start, end)
        length = max(o + n for _, o, n in doc.spans)
        what = "of the file"
    else:
        a, b = start, end
        length = len(doc.text) if doc is not None else 0
        what = "of the indexed text"
    where = f"characters {a:,}–{b:,} {what}"
    if length:
        where += f" ({round(100 * a / max(length, 1))}% in)"
    return where


def _card(cid: str, number: str, title: str, section: str, rel: Relevance, body: str, language: str,
          source: str, where: str, cls: str) -> str:
    lang = f' lang="{esc(language)}"' if language in ("ru", "en") else ""
    section_html = f'<span class="cite-section">{esc(section)}</span> · ' if section else ""
    return (
        f'<div class="{cls}" id="{cid}">'
        f'<div class="cite-head">{number}<a class="cite-open" href="#open:{cid}" role="button" '
        f'title="Open the document at this passage">{esc(title)}</a></div>'
        f'<div class="cite-where">{section_html}<span class="cite-relevance rel-{rel.level}" '
        f'title="{esc(rel.detail)}">{esc(rel.label)}</span></div>'
        f'<div class="cite-text"{lang}>{body}</div>'
        f'<div class="cite-source"><code class="cite-file">{esc(source)}</code> · '
        f'<span class="cite-offsets">{esc(where)}</span></div>'
        "</div>"
    )


def card(citation: Citation, turn: int, ranked: Sequence[Passage] = (), doc: Document | None = None) -> str:
    """One numbered source: title (opens the viewer), section, relevance, the passage with the
    supporting sentences highlighted, and where it sits in the file."""
    rel = relevance(citation.passage_id, citation.score, ranked)
    return _card(card_id(turn, citation.number), f'<span class="cite-num">[{citation.number}]</span> ',
                 citation.title, citation.section, rel,
                 highlighted(citation.text, citation.start, citation.highlights), citation.language,
                 citation.source, where_in_file(citation.source, citation.start, citation.end, doc), "cite-card")


def related_card(passage: Passage, turn: int, number: int, ranked: Sequence[Passage],
                 doc: Document | None = None) -> str:
    rel = relevance(passage.id, passage.score, ranked)
    return _card(related_id(turn, number), "", passage.title, passage.section, rel, paragraphs(passage.text),
                 passage.language, passage.source, where_in_file(passage.source, passage.start, passage.end, doc),
                 "cite-card related-card")


# --- answers ---------------------------------------------------------------------------------
def answer_html(result: Answer, turn: int, doc_of: DocOf | None = None, seconds: float | None = None) -> str:
    """The finished answer: text with linked markers, its sources in a collapsible block (or,
    for an abstention, the closest passages, marked as not sources), a Copy button and the
    Markdown it copies."""
    doc_of = doc_of or (lambda _source: None)
    numbers = {c.number for c in result.citations}
    cls = "bot-answer answer-done" + (" answer-abstained" if result.abstained else "")
    parts = [f'<div class="{cls}">']
    note, text = split_note(result.answer)
    if note:
        parts.append(f'<div class="answer-note">{esc(note)}</div>')
    text_cls = "answer-text abstained" if result.abstained else "answer-text"
    parts.append(f'<div class="{text_cls}">{link_markers(text, turn, numbers)}</div>')
    notes = list(result.notices) + list(result.warnings)
    if notes:
        parts.append('<div class="answer-notes">' + "<br>".join("⚠ " + esc(n) for n in notes) + "</div>")
    if result.citations:
        titles = " · ".join(f'<span class="sources-title">[{c.number}] {esc(_short(c.title))}</span>'
                            for c in result.citations)
        parts.append(f'<details class="sources"><summary><span class="sources-caption">Sources '
                     f'({len(result.citations)})</span> {titles}</summary><div class="cite-list">')
        parts.extend(card(c, turn, result.passages, doc_of(c.source)) for c in result.citations)
        parts.append("</div></details>")
    if result.abstained and result.related:
        parts.append(f'<details class="related" open><summary><span class="sources-caption">Closest passages '
                     f'({len(result.related)})</span> — not sources: none of them answers the question'
                     '</summary><div class="cite-list">')
        parts.extend(related_card(p, turn, i, result.passages or result.related, doc_of(p.source))
                     for i, p in enumerate(result.related, 1))
        parts.append("</div></details>")
    meta = [f"answer mode: {esc(result.composer)}"]
    if seconds is not None:
        meta.append(f"{seconds:.1f} s" if seconds >= 1 else f"{max(seconds, 0.01):.2f} s")
    parts.append('<div class="answer-actions"><button class="copy-answer" type="button" '
                 'title="Copy the answer and its numbered sources as text">Copy</button>'
                 f'<span class="answer-meta">{" · ".join(meta)}</span></div>')
    # newlines as character references: a blank line would end the HTML block in the chat's Markdown
    copy_text = esc(answer_markdown(result, doc_of)).replace("\n", "&#10;")
    parts.append(f'<pre class="copy-src" hidden>{copy_text}</pre>')
    parts.append("</div>")
    return "".join(parts)


def _short(title: str, limit: int = 48) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


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


# --- Markdown: copy and export ---------------------------------------------------------------
def _quote(text: str) -> str:
    return " ".join(text.split())


def answer_markdown(result: Answer, doc_of: DocOf | None = None) -> str:
    """The answer as Markdown with its numbered sources (what Copy gives and export writes)."""
    doc_of = doc_of or (lambda _source: None)
    lines = [result.answer.strip()]
    if result.citations:
        lines += ["", "Sources:"]
        for c in result.citations:
            section = f", section “{c.section}”" if c.section else ""
            where = where_in_file(c.source, c.start, c.end, doc_of(c.source))
            lines.append(f"[{c.number}] {c.title}{section} — {c.source}, {where}")
            for a, b in c.highlights:
                quoted = _quote(c.text[max(0, a - c.start): max(0, b - c.start)])
                if quoted:
                    lines.append(f"    > {quoted}")
    elif result.abstained and result.related:
        lines += ["", "Closest passages (not sources):"]
        for p in result.related:
            where = where_in_file(p.source, p.start, p.end, doc_of(p.source))
            lines.append(f"- {p.title} — {p.source}, {where}")
    return "\n".join(lines)


def conversation_markdown(title: str, answers: Sequence[Answer], exported_at: str,
                          doc_of: DocOf | None = None) -> str:
    out = [f"# {title}", "", f"_Exported {exported_at} from the corpus assistant._"]
    for i, result in enumerate(answers, 1):
        out += ["", f"## {i}. {' '.join(result.question.split())}", "", answer_markdown(result, doc_of)]
    return "\n".join(out) + "\n"


# --- status line -----------------------------------------------------------------------------
def mode_words(composer: str) -> str:
    if composer == "extractive":
        return "quoted from the documents"
    if composer.startswith("LLM "):
        provider = composer.split(" ", 2)[1].split(" at ")[0]
        return f"written by {provider}" + (" (unusable: quoted instead)" if "unusable" in composer else "")
    return composer


def status_html(status: Status, modes: Sequence[str] = (), *, user: str = "", open_network: bool = False,
                busy: str = "") -> str:
    """A calm line in plain words; model ids, folders and warnings under "Details"."""
    model = status.model
    weak = model.fallback or not model.multilingual
    cls = "status-line status-warn" if weak else "status-line"
    items = [f'<span class="status-model">Model: {esc(model.label())}</span>',
             f'<span class="status-counts"><b class="status-docs">{status.documents}</b> documents</span>',
             f'<span class="status-mode">Answers: {esc(mode_words(status.composer))}</span>']
    if user:
        items.append(f'<span class="status-user">Signed in as <b>{esc(user)}</b></span>')
    if busy:
        items.append(f'<span class="status-busy">{esc(busy)}</span>')
    if open_network:
        items.append('<span class="status-open">⚠ Open to everyone on the network: no login</span>')
    details = [model.describe(), f"{status.passages:,} passages indexed",
               f"answer mode: {status.composer}" + (f" (choose: {', '.join(modes)})" if len(modes) > 1 else ""),
               f"cross-lingual dictionary: {status.lexicon}", f"corpus folder: {status.corpus_dir}",
               f"index folder: {status.index_dir}", *status.warnings]
    if weak:
        items.append('<span class="status-note">Russian questions reach English articles only through names, '
                     "numbers and a dictionary</span>")
    detail_html = "".join(f"<li>{esc(d)}</li>" for d in details)
    return (f'<div class="{cls}" id="status-line">{"".join(items)}'
            f'<details class="status-details"><summary>Details</summary><ul>{detail_html}</ul></details></div>')


# --- library and viewer ----------------------------------------------------------------------
LANGUAGES = {"ru": "Russian", "en": "English"}


def library_row(entry: LibraryEntry) -> str:
    """One document of the library: title, then language · passages · origin and who/when."""
    origin = entry.origin
    if entry.origin == "upload" and entry.owner:
        origin = f"uploaded by {entry.owner}"
    elif entry.origin == "shared upload":
        origin = f"uploaded by {entry.added_by or 'someone'}, shared by {entry.shared_by or 'an admin'}"
    when = (entry.shared_at or entry.added_at)[:10]
    meta = [LANGUAGES.get(entry.language, entry.language or "language unknown"),
            f"{entry.passages} passage{'s' if entry.passages != 1 else ''}", origin + (f" on {when}" if when else "")]
    private = '<span class="lib-private" title="Only its uploader\'s questions search it">private</span> ' \
        if entry.origin == "upload" else ""
    return (f'<div class="lib-entry"><div class="lib-title">{private}{esc(entry.title)}</div>'
            f'<div class="lib-meta">{esc(" · ".join(meta))}</div>'
            f'<div class="lib-file"><code>{esc(entry.source)}</code></div></div>')


def viewer_html(doc_view: DocumentView | None, passage: tuple[int, int] | None = None,
                sentences: Sequence[tuple[int, int]] = (), language: str = "") -> str:
    """The document's text with the cited passage and its supporting sentences highlighted
    (offsets already mapped into ``doc_view.text``); the first supporting sentence (or the
    passage) carries ``id="viewer-target"`` so it can be scrolled into view. A long document
    is shown around the passage."""
    if doc_view is None:
        return ('<div class="viewer viewer-empty" id="viewer-doc">Open a document from the library, or click a '
                "source's title under an answer to read it here with the cited sentence marked.</div>")
    text = doc_view.text
    lo, hi = 0, len(text)
    if passage and len(text) > 2 * VIEW_WINDOW:
        lo, hi = max(0, passage[0] - VIEW_WINDOW), min(len(text), passage[1] + VIEW_WINDOW)
    elif not passage and len(text) > 2 * VIEW_WINDOW:
        hi = 2 * VIEW_WINDOW
    marks = [(a, b, "viewer-sentence") for a, b in sentences if lo <= a < b <= hi]
    target = min(marks)[0] if marks else (passage[0] if passage else None)
    bounds = {lo, hi}
    if passage:
        bounds |= {max(lo, min(hi, passage[0])), max(lo, min(hi, passage[1]))}
    for a, b, _ in marks:
        bounds |= {a, b}
    cuts = sorted(bounds)
    out = []
    for a, b in pairwise(cuts):
        piece = esc(text[a:b])
        in_sentence = any(x <= a and b <= y for x, y, _ in marks)
        in_passage = bool(passage) and passage[0] <= a and b <= passage[1]  # type: ignore[index]
        if in_sentence:
            ident = ' id="viewer-target"' if a == target else ""
            piece = f'<mark class="viewer-sentence"{ident}>{piece}</mark>'
        elif in_passage:
            ident = ' id="viewer-target"' if a == target else ""
            piece = f'<mark class="viewer-passage"{ident}>{piece}</mark>'
        out.append(piece)
    before = f'<div class="viewer-cut">… {lo:,} characters before</div>' if lo else ""
    after = f'<div class="viewer-cut">… {len(text) - hi:,} characters after</div>' if hi < len(text) else ""
    how = "as extracted from the file" if doc_view.from_file else \
        "as indexed (the file changed or is gone since it was indexed)"
    lang = f' lang="{esc(language)}"' if language in ("ru", "en") else ""
    return (f'<div class="viewer" id="viewer-doc"><div class="viewer-head"><b class="viewer-title">'
            f'{esc(doc_view.title)}</b><span class="viewer-source"><code>{esc(doc_view.source)}</code> · {how}'
            f'</span></div><div class="viewer-text"{lang}>{before}{"".join(out)}{after}</div></div>')


def jobs_html(lines: Sequence[tuple[str, str, float | None]]) -> str:
    """Upload and library jobs: (css state, text, share done or None)."""
    if not lines:
        return '<div class="jobs-log" id="jobs-log"></div>'
    rows = []
    for state, text, share in lines:
        bar = f'<progress max="100" value="{round(100 * share)}"></progress>' if share is not None else ""
        rows.append(f'<div class="job job-{esc(state)}">{bar}<span>{esc(text)}</span></div>')
    return f'<div class="jobs-log" id="jobs-log">{"".join(rows)}</div>'
