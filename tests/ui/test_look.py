"""What a person sees: readable in the light and the dark theme, and usable at a phone's width.

Contrast is measured as WCAG defines it, text against what is actually painted behind it; 4.5
is the AA level for normal text. With ``UPDATE_DOCS_SCREENSHOT=1`` the screenshots taken here
replace the ones in ``docs/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.ui.pages import CONTRAST_JS, EN_QUESTION, OFF_TOPIC, ask, contrast, show_sources

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AA = 4.5


def docs_screenshot(page, artifacts: Path, name: str) -> None:
    """The page as one first sees it after asking: from its top, one screen high."""
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("window.scrollY === 0")
    page.screenshot(path=str(artifacts / name), full_page=False)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(artifacts / name, ROOT / "docs" / name)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_part_of_an_answer_reads_in_the_theme(app_url, new_page, artifacts, theme):
    page = new_page(app_url, dark=theme == "dark")
    body = page.locator("body").evaluate(CONTRAST_JS)["background"]
    assert (sum(body) < 200) == (theme == "dark"), f"the {theme} theme is in force: {body}"
    ask(page, OFF_TOPIC)
    answer, _, _ = ask(page, EN_QUESTION)
    show_sources(answer)
    answer.locator("a.cite-marker").first.click()
    page.locator(".cite-card.cite-active").wait_for()
    checks = {
        "answer text": answer.locator(".answer-text"),
        "marker": answer.locator("a.cite-marker").first,
        "highlighted sentence": answer.locator("mark.support").first,
        "clicked card": page.locator(".cite-card.cite-active .cite-text"),
        "card title": answer.locator("a.cite-open").first,
        "relevance": answer.locator(".cite-relevance").first,
        "status line": page.locator("#status-line .status-model"),
        "abstention": page.locator(".answer-abstained .answer-text"),
        "related passage": page.locator(".related-card .cite-text").first,
        "library entry": page.locator("#library .lib-title").first,
    }
    low = {name: round(contrast(el), 2) for name, el in checks.items() if contrast(el) < AA}
    assert not low, f"below {AA}:1 in the {theme} theme: {low}"
    # the clicked card stands out: its outline is the accent, not the card's own background
    ring = page.locator(".cite-card.cite-active").evaluate("e => getComputedStyle(e).boxShadow")
    assert ring and ring != "none"
    # the status line is a visible box
    status = page.locator("#status-line").evaluate("e => getComputedStyle(e).borderTopColor")
    assert status != page.locator("#status-line").evaluate("e => getComputedStyle(e).backgroundColor")
    docs_screenshot(page, artifacts, "screenshot.png" if theme == "light" else "screenshot-dark.png")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_at_phone_width_nothing_scrolls_sideways(app_url, new_page, artifacts, theme):
    page = new_page(app_url, width=390, height=844, dark=theme == "dark")

    def no_sideways_scroll(where: str) -> None:
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{where}: the page is {wide} px wide at 390 px"

    no_sideways_scroll("empty page")
    status = page.locator("#status-line").bounding_box()
    assert status and status["height"] <= 110, f"status line {status}"
    box, send = page.locator("#question").bounding_box(), page.locator("#send").bounding_box()
    assert box and send and box["width"] >= 0.65 * 390 and send["width"] <= 100, (box, send)
    assert abs(box["y"] - send["y"]) < 10, "the button sits beside the box"
    line = page.locator("#question textarea").evaluate(
        "e => [e.clientHeight, parseFloat(getComputedStyle(e).lineHeight)]")
    assert line[0] < 2 * line[1] + 20, f"the placeholder takes one line: {line}"
    answer, _, _ = ask(page, EN_QUESTION)
    show_sources(answer)
    no_sideways_scroll("answer with its sources open")
    # the chat grows with the page instead of scrolling inside a fixed box
    inner = page.evaluate("""() => [...document.querySelectorAll('#chat *')].filter(e => {
        const s = getComputedStyle(e);
        return /(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight + 2; }).length""")
    assert inner == 0, "no scroll box inside the chat"
    chat = page.locator("#chat").bounding_box()
    assert chat and chat["height"] > 844 * 0.9, "the chat is as long as its answer, not a fixed box"
    docs_screenshot(page, artifacts, "screenshot-phone.png" if theme == "light" else "screenshot-phone-dark.png")
    answer.locator("a.cite-open").first.click()
    target = page.locator("#viewer #viewer-target")
    target.wait_for()
    expect(target).to_be_in_viewport()
    no_sideways_scroll("document viewer")
