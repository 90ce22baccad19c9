"""HTML rendering and the chat turn, without a server or a browser."""

from __future__ import annotations

import pytest

from assistant.errors import ConfigError, UsageError
from assistant.records import Answer, Citation
from tests.conftest import import_or_unavailable

import_or_unavailable("gradio", "pip install -e '.[ui]'")

from assistant.ui import app as ui_app  # noqa: E402 — only once gradio is known to import
from assistant.ui import render  # noqa: E402

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def citation(**kw) -> Citation:
    text = "First sentence here. The supporting sentence. Last one."
    base = dict(number=1, source="a.txt", title="Title", start=100, end=100 + len(text), score=0.5,
                text=text, passage_id="p1", highlights=((121, 145),))
    return Citation(**{**base, **kw})


def test_passages_titles_and_sources_are_escaped():
    c = citation(text=EVIL + " tail", end=100 + len(EVIL) + 5, title=EVIL, source=EVIL, section=EVIL,
                 highlights=((100, 110),))
    html = render.card(c, 1, 5000)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_answer_markers_link_to_cards_and_answer_text_is_escaped():
    answer = Answer(question="q", answer=f"{EVIL} Fact [1]. Unknown [7].", citations=(citation(),),
                    abstained=False, language="en")
    html = render.answer_html(answer, 3)
    assert '<a class="cite-marker" href="#t3-c1"' in html
    assert 'id="t3-c1"' in html
    assert "[7]" in html and 'href="#t3-c7"' not in html
    assert "<script" not in html


def test_highlight_uses_offsets_relative_to_the_passage():
    html = render.highlighted(citation())
    assert '<mark class="support">The supporting sentence.</mark>' in html
    assert html.startswith("First sentence here. <mark")


def test_no_blank_line_inside_the_html():
    c = citation(text="One.\n\n\nTwo.", end=111, highlights=())
    assert "\n" not in render.card(c, 1)


def test_auth_only_off_loopback():
    from assistant.settings import Settings

    class Fake:
        settings = Settings(ui_auth="ann:secret")

    assert ui_app._auth(Fake, "127.0.0.1") is None
    assert ui_app._auth(Fake, "localhost") is None
    assert ui_app._auth(Fake, "0.0.0.0") == ("ann", "secret")
    Fake.settings = Settings(ui_auth="no-colon")
    with pytest.raises(ConfigError):
        ui_app._auth(Fake, "0.0.0.0")


class Broken:
    """An assistant whose stream fails in the middle."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.settings = None

    def stream(self, question, k=None, history=None):
        yield "partial "
        raise self.exc


@pytest.mark.parametrize("exc, shown", [
    (UsageError("k must be a whole number"), "k must be a whole number"),
    (RuntimeError("secret internals"), "Something went wrong"),
])
def test_errors_become_chat_messages(exc, shown, monkeypatch):
    monkeypatch.setattr(ui_app, "_stream_kwargs", lambda a, m: {})
    *_, (messages, session, _, _) = ui_app.answer_stream(Broken(exc), "Question?", ui_app._new_session(), 5)
    last = messages[-1]["content"]
    assert "answer-error" in last and shown in last
    assert "Traceback" not in last and "secret internals" not in last
    assert session["questions"] == []


def test_empty_message_gives_a_hint_and_no_turn():
    (messages, _, hint, _), = list(ui_app.answer_stream(None, "  \n ", ui_app._new_session(), 5))
    assert messages == [] and "Type a question" in hint


def test_turn_keeps_history_per_session(bot):
    session = ui_app._new_session()
    *_, (messages, session, _, _) = ui_app.answer_stream(bot, "How much has Japan invested in the economy of "
                                                         "Kazakhstan?", session, 5)
    *_, (messages, session, _, _) = ui_app.answer_stream(bot, "And how many American companies work there?",
                                                         session, 5)
    assert len(session["questions"]) == 2 and len(messages) == 4
    assert "500" in messages[-1]["content"] and 'id="t3-c1"' in messages[-1]["content"]
