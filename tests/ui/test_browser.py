"""The chat in a real browser (Debian's Chromium driven by Playwright).

Every wait is on a DOM condition; no fixed sleeps.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
RU_QUESTION = "Что, по словам казахстанского эксперта, строит Казахстан вместо стен?"
RU_SOURCE = "004_6d287214e003b8ec.txt"
EN_QUESTION = "How much has Japan invested in the economy of Kazakhstan?"
EN_SOURCE = "001_25332e5ce76467f9.txt"
FIRST_TEXT_JS = """
(n) => document.querySelectorAll('.answer-done, .answer-error').length > n ||
  [...document.querySelectorAll('.answer-streaming .answer-text')]
    .some(e => e.textContent.replace(/[…▍\\s]/g, '').length > 0)
"""


def ask(page, question: str, *, press_enter: bool = False):
    """Ask in the page; return (the finished answer's locator, seconds to first text, seconds to done)."""
    n = page.locator(".answer-done, .answer-error").count()
    box = page.locator("#question textarea")
    box.fill(question)
    started = time.perf_counter()
    if press_enter:
        box.press("Enter")
    else:
        page.locator("#send").click()
    page.wait_for_function(FIRST_TEXT_JS, arg=n, polling="raf")
    first = time.perf_counter() - started
    page.locator(".answer-done, .answer-error").nth(n).wait_for()
    total = time.perf_counter() - started
    return page.locator(".answer-done, .answer-error").nth(n), first, total


def card_files(answer) -> list[str]:
    return [t.strip() for t in answer.locator(".cite-file").all_inner_texts()]


def test_russian_question_cites_the_right_document(app_url, new_page, artifacts, timings):
    page = new_page(app_url)
    answer, first, total = ask(page, RU_QUESTION)
    timings.add(test="russian", question=RU_QUESTION, first_text_s=round(first, 3), done_s=round(total, 3))
    assert "answer-done" in (answer.get_attribute("class") or "")
    assert RU_SOURCE in card_files(answer)
    text = answer.locator(".answer-text").inner_text()
    assert "[1]" in text and len(text) > 40
    card = answer.locator(".cite-card").first
    assert card.locator("mark.support").count() >= 1, "the supporting sentence is highlighted"
    assert "characters" in card.locator(".cite-where").inner_text()
    page.screenshot(path=str(artifacts / "answer_ru.png"), full_page=True)


def test_english_question_and_status_line(app_url, new_page, artifacts, timings):
    page = new_page(app_url)
    status = page.locator("#status-line")
    assert "ENGLISH-ONLY" in status.inner_text(), "the English-only model is flagged"
    assert "status-warn" in (status.get_attribute("class") or "")
    assert status.locator(".status-docs").inner_text() == "5"
    assert "extractive" in status.locator(".status-mode").inner_text()
    answer, first, total = ask(page, EN_QUESTION, press_enter=True)
    timings.add(test="english", question=EN_QUESTION, first_text_s=round(first, 3), done_s=round(total, 3))
    assert card_files(answer)[0] == EN_SOURCE
    assert "7 billion" in answer.locator(".answer-text").inner_text()
    assert "7 billion" in " ".join(answer.locator(".cite-card mark.support").all_inner_texts())
    page.screenshot(path=str(artifacts / "answer_en.png"), full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):  # refresh the README's picture on request only
        shutil.copyfile(artifacts / "answer_en.png", ROOT / "docs" / "screenshot.png")


def test_marker_leads_to_its_card(app_url, new_page):
    page = new_page(app_url)
    page.set_viewport_size({"width": 1280, "height": 600})  # short, so one answer fills the chat
    ask(page, RU_QUESTION)
    answer, _, _ = ask(page, EN_QUESTION)
    marker = answer.locator("a.cite-marker").first
    target = marker.get_attribute("href")
    assert target and target.startswith("#t")
    card = page.locator(f".cite-card{target}")
    from playwright.sync_api import expect

    # Gradio's Chatbot autoscrolls 300 ms after each update that finds the chat at the bottom
    # (Chatbot.svelte: `await tick(); setTimeout(scroll_to_bottom, 300)`), so one scroll to the top
    # can be undone after it was checked. Scroll to the top, then wait until the chat has stayed
    # there, with the card clipped out of view, for a full second: that outlasts any pending
    # autoscroll. Each poll looks before it scrolls, so an autoscroll between polls is seen.
    page.wait_for_function(
        """sel => { const log = document.querySelector('#chat [role=log]');
                   const c = document.querySelector(sel).getBoundingClientRect();
                   const l = log.getBoundingClientRect();
                   const held = log.scrollTop === 0 && (c.top >= l.bottom || c.bottom <= l.top);
                   if (!held) { log.scrollTop = 0; window.__heldSince = null; return false; }
                   window.__heldSince = window.__heldSince || performance.now();
                   return performance.now() - window.__heldSince > 1000; }""",
        arg=f".cite-card{target}",
        polling=50,
    )
    expect(card).not_to_be_in_viewport()
    marker.click()
    card.and_(page.locator(".cite-active")).wait_for()
    assert page.locator(".cite-active").count() == 1
    expect(card).to_be_in_viewport()
    assert EN_SOURCE in card.locator(".cite-file").inner_text()


def test_follow_up_question_uses_the_conversation(app_url, new_page):
    page = new_page(app_url)
    ask(page, EN_QUESTION)
    answer, _, _ = ask(page, "And how many American companies work there?")
    assert "500" in answer.locator(".answer-text").inner_text()
    assert card_files(answer)[0] == EN_SOURCE
    assert page.locator(".answer-done").count() == 2


def test_empty_message_is_ignored_with_a_hint(app_url, new_page):
    page = new_page(app_url)
    page.locator("#question textarea").fill("   ")
    page.locator("#send").click()
    page.locator("#hint", has_text="Type a question first").wait_for()
    assert page.locator("#chat .message-row").count() == 0
    answer, _, _ = ask(page, EN_QUESTION)  # and the hint goes away once a real question is asked
    assert card_files(answer)[0] == EN_SOURCE
    assert "Type a question" not in page.locator("#hint").inner_text()


def test_very_long_message_is_an_error_message_and_the_server_keeps_serving(app_url, new_page):
    page = new_page(app_url)
    answer, _, _ = ask(page, "Kazakhstan " * 1000)
    assert "answer-error" in (answer.get_attribute("class") or "")
    assert "limit is 2,000" in answer.inner_text()
    assert "Traceback" not in page.content()
    assert "characters)" in page.locator("#chat").inner_text(), "the long question is shortened for display"
    answer, _, _ = ask(page, EN_QUESTION)
    assert card_files(answer)[0] == EN_SOURCE


def test_two_pages_chat_at_once_with_their_own_history(app_url, new_page):
    one, two = new_page(app_url), new_page(app_url)
    for page, question in ((one, RU_QUESTION), (two, EN_QUESTION)):
        page.locator("#question textarea").fill(question)
    one.locator("#send").click()
    two.locator("#send").click()
    one.locator(".answer-done").first.wait_for()
    two.locator(".answer-done").first.wait_for()
    assert RU_SOURCE in card_files(one.locator(".answer-done").first)
    assert card_files(two.locator(".answer-done").first)[0] == EN_SOURCE
    assert EN_QUESTION not in one.locator("#chat").inner_text()
    assert RU_QUESTION not in two.locator("#chat").inner_text()
    # page two's follow-up is read against page two's history only
    answer, _, _ = ask(two, "And how many American companies work there?")
    assert "500" in answer.inner_text()


def test_example_button_asks_in_one_click(app_url, new_page):
    page = new_page(app_url)
    page.locator("#example-0").click()
    answer = page.locator(".answer-done").first
    answer.wait_for()
    assert RU_SOURCE in card_files(answer)


def test_upload_a_document_and_ask_about_it(upload_url, new_page, tmp_path, artifacts):
    doc = tmp_path / "Zorblax report.md"
    doc.write_text(
        "# The Zorblax observatory\n\nThe Zorblax observatory near Karaganda opened in spring with "
        "forty-two radio telescopes. Its director, Aigerim Zorblaxova, said the Zorblax array would map "
        "hydrogen clouds.\n", encoding="utf-8")
    page = new_page(upload_url)
    page.locator("#add-docs").get_by_text("Add documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.locator("#upload", has_text="Zorblax").wait_for()  # the upload reached the server
    page.locator("#add").click()
    page.locator("#upload-log", has_text="added as uploads/Zorblax_report.md").wait_for()
    page.locator("#status-line .status-docs", has_text="6").wait_for()
    answer, _, _ = ask(page, "How many radio telescopes does the Zorblax observatory have?")
    assert card_files(answer)[0] == "uploads/Zorblax_report.md"
    assert "forty-two" in answer.locator(".answer-text").inner_text()
    page.screenshot(path=str(artifacts / "upload.png"), full_page=True)
    from playwright.sync_api import expect

    # the file box is emptied once the files are added, so the next wait below sees the new upload
    expect(page.locator("#upload")).not_to_contain_text("Zorblax")
    # the same content again is recognised as a duplicate
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.locator("#upload", has_text="Zorblax").wait_for()
    page.locator("#add").click()
    page.locator("#upload-log", has_text="already in the corpus").wait_for()
    page.locator("#status-line .status-docs", has_text="6").wait_for()


def test_measure_answer_times_in_the_browser(app_url, new_page, timings):
    """Time to first answer text and to the finished answer with its cards, as a reader sees them."""
    from assistant.ui.app import EXAMPLES

    page = new_page(app_url)
    for question in EXAMPLES:
        answer, first, total = ask(page, question)
        assert answer.locator(".cite-card").count() >= 1
        timings.add(test="measure", question=question, first_text_s=round(first, 3), done_s=round(total, 3))
        assert total < 60
