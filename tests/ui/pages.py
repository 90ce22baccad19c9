"""What the browser tests do in a page, and what they read off it. Every wait is on a DOM
condition; no fixed sleeps."""

from __future__ import annotations

import time

RU_QUESTION = "Что, по словам казахстанского эксперта, строит Казахстан вместо стен?"
RU_SOURCE = "004_6d287214e003b8ec.txt"
EN_QUESTION = "How much has Japan invested in the economy of Kazakhstan?"
EN_SOURCE = "001_25332e5ce76467f9.txt"
KHORGOS = "What does the Kazakh expert say about Khorgos?"
OFF_TOPIC = "Who won the 1998 football world cup?"
FINISHED = ".answer-done, .answer-error"
FIRST_TEXT_JS = """
(n) => document.querySelectorAll('.answer-done, .answer-error').length > n ||
  [...document.querySelectorAll('.answer-streaming .answer-text')]
    .some(e => e.textContent.replace(/[…▍\\s]/g, '').length > 0)
"""


def ask(page, question: str, *, press_enter: bool = False):
    """Ask in the page; return (the finished answer's locator, seconds to first text, seconds to done)."""
    n = page.locator(FINISHED).count()
    box = page.locator("#question textarea")
    box.fill(question)
    started = time.perf_counter()
    if press_enter:
        box.press("Enter")
    else:
        page.locator("#send").click()
    page.wait_for_function(FIRST_TEXT_JS, arg=n, polling="raf")
    first = time.perf_counter() - started
    page.locator(FINISHED).nth(n).wait_for()
    total = time.perf_counter() - started
    return page.locator(FINISHED).nth(n), first, total


def card_files(answer) -> list[str]:
    """The source files of an answer's cards, in order (read from the DOM, open or not)."""
    return [t.strip() for t in answer.locator(".cite-card .cite-file").all_text_contents()]


def show_sources(answer) -> None:
    """Open the answer's collapsible "Sources" block."""
    summary = answer.locator("details.sources > summary")
    if answer.locator("details.sources[open]").count() == 0:
        summary.click()
    answer.locator("details.sources[open] .cite-card").first.wait_for()


def library_sources(page) -> list[str]:
    """The files the library lists (once it has been filled in after the page loaded)."""
    page.locator("#library .lib-file").first.wait_for()
    return [t.strip() for t in page.locator("#library .lib-file").all_text_contents()]


def wait_for_job(page, text: str) -> None:
    """Until the library's job log shows ``text`` (the jobs run off the request path)."""
    page.locator("#upload-log", has_text=text).wait_for(timeout=120_000)


def upload(page, *paths) -> None:
    """Choose files in the library's upload box and add them."""
    page.locator("#library-tab-button, button[role=tab]", has_text="Library").first.click()
    page.locator("#upload input[type=file]").set_input_files([str(p) for p in paths])
    for path in paths:
        page.locator("#upload", has_text=path.stem[:7]).wait_for()  # the upload reached the server
    page.locator("#add").click()


def status_docs(page) -> str:
    return page.locator("#status-line .status-docs").inner_text().strip()


CONTRAST_JS = """
(el) => {
  // WCAG contrast of an element's text against what is painted behind it (alpha layers blended).
  const parse = (c) => {
    let m = c.match(/rgba?\\(([^)]+)\\)/), k = 1;
    if (!m) { m = c.match(/color\\(srgb ([^)]+)\\)/); k = 255; }
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0] * k, p[1] * k, p[2] * k, p.length > 3 ? p[3] : 1];
  };
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const bg = parse(getComputedStyle(e).backgroundColor);
    if (bg[3] > 0) layers.push(bg);
    if (bg[3] >= 1) break;
  }
  let base = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) {
    base = [r * a + base[0] * (1 - a), g * a + base[1] * (1 - a), b * a + base[2] * (1 - a)];
  }
  const fg = parse(getComputedStyle(el).color);
  const text = [0, 1, 2].map(i => fg[i] * fg[3] + base[i] * (1 - fg[3]));
  const lum = (c) => {
    const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [l1, l2] = [lum(text), lum(base)].sort((a, b) => b - a);
  return {ratio: (l1 + 0.05) / (l2 + 0.05), text: text.map(Math.round), background: base.map(Math.round)};
}
"""


def contrast(locator) -> float:
    return locator.evaluate(CONTRAST_JS)["ratio"]
