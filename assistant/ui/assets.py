"""The page's own CSS and script.

CSS: layout for the phone width and the look of the answer, cards, library and viewer, in
Gradio's theme variables only (so the dark theme follows by itself).

Script, by hand because Gradio has no component for it: the answer is HTML inside a chat
message, and Gradio's chat offers no event for a click on an element inside a message. One
delegated click listener handles

* a marker ``[n]`` → open the answer's "Sources" block, scroll to card n and outline it;
* a card's title → ask the server to open that document in the viewer, by writing the card's
  id into a hidden textbox (``#open-request``) whose ``change`` event the server listens to
  (Gradio's ``input`` event follows key presses only)
  (the server looks the citation up in the session's own answers: the page names no file);
* Copy → the answer's Markdown (a hidden ``<pre>`` in the message) to the clipboard; Gradio's
  own copy button would copy the message's raw HTML.

``DOWNLOAD_JS`` and ``SCROLL_VIEWER_JS`` run as the ``js`` of Gradio events: the first saves the
exported conversation as a file in the browser, so the server never has to serve a file.
"""

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
#app-title h1 { margin: 0 0 0.1em; font-size: 1.6em; }
#app-title p { margin: 0; color: var(--body-text-color-subdued); }

/* status line: calm, details on demand */
.status-line { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.2em 1.1em; font-size: 0.9em;
  padding: 0.45em 0.8em; border-radius: var(--radius-lg); border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); color: var(--body-text-color); }
.status-warn .status-model { font-weight: 600; }
.status-note, .status-busy { color: var(--body-text-color-subdued); }
.status-open { font-weight: 600; color: var(--error-text-color); }
.status-details { flex-basis: 100%; font-size: 0.92em; color: var(--body-text-color-subdued); }
.status-details summary { cursor: pointer; width: fit-content; }
.status-details ul { margin: 0.3em 0 0.2em 1.2em; padding: 0; overflow-wrap: anywhere; }

/* the answer */
.bot-answer { line-height: 1.55; overflow-wrap: anywhere; }
.answer-note { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.25em; }
.answer-text.abstained { font-style: italic; }
.answer-notes { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 0.4em; }
.answer-error { color: var(--error-text-color); font-weight: 500; }
.answer-actions { display: flex; align-items: center; gap: 0.8em; margin-top: 0.5em; }
.answer-meta { font-size: 0.78em; color: var(--body-text-color-subdued); }
button.copy-answer { white-space: nowrap; font-size: 0.8em; padding: 0.1em 0.7em; border-radius: var(--radius-md);
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  color: var(--body-text-color); cursor: pointer; }
button.copy-answer:hover { border-color: var(--border-color-accent); }
a.cite-marker { font-weight: 700; text-decoration: none; padding: 0 0.15em; border-radius: 4px;
  background: color-mix(in srgb, var(--color-accent) 18%, transparent); color: var(--body-text-color) !important;
  cursor: pointer; }
a.cite-marker:hover, a.cite-marker:focus { outline: 2px solid var(--color-accent); }

/* sources: a collapsible block under the answer */
details.sources, details.related { margin-top: 0.6em; border-top: 1px solid var(--border-color-primary);
  padding-top: 0.35em; }
details.sources > summary, details.related > summary { cursor: pointer; font-size: 0.85em;
  color: var(--body-text-color-subdued); }
.sources-caption { font-weight: 600; color: var(--body-text-color); text-transform: uppercase;
  letter-spacing: 0.04em; font-size: 0.92em; }
details.related { border-top-style: dashed; }
.cite-list { margin-top: 0.5em; display: flex; flex-direction: column; gap: 0.6em; }
.cite-card { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent);
  border-radius: var(--radius-lg); padding: 0.55em 0.8em; background: var(--background-fill-secondary);
  color: var(--body-text-color); font-size: 0.92em; transition: box-shadow 0.3s; scroll-margin: 1em; }
.cite-card.related-card { border-left-style: dashed; border-left-color: var(--border-color-primary); }
.cite-card.cite-active { box-shadow: 0 0 0 3px var(--color-accent); }
.cite-head { font-weight: 600; }
.cite-num { color: var(--body-text-color); }
/* the body colour, underlined in the accent: the theme's link colour reads too faintly on a dark card */
a.cite-open { color: var(--body-text-color) !important; text-decoration: underline;
  text-decoration-color: var(--color-accent); text-decoration-thickness: 2px; text-underline-offset: 3px;
  cursor: pointer; }
a.cite-open:hover, a.cite-open:focus { text-decoration-thickness: 3px; }
.cite-where, .cite-source { font-size: 0.82em; color: var(--body-text-color-subdued); margin: 0.15em 0; }
.cite-relevance { border-bottom: 1px dotted currentColor; cursor: help; }
.cite-relevance.rel-best, .cite-relevance.rel-strong { font-weight: 600; color: var(--body-text-color); }
.cite-text { margin: 0.35em 0; }
.cite-file { overflow-wrap: anywhere; }
/* the highlight: the theme's accent, mixed thin over whatever background the theme has */
mark.support, mark.viewer-sentence { background: color-mix(in srgb, var(--color-accent) 22%, transparent);
  color: var(--body-text-color); padding: 0 0.1em; border-radius: 2px; box-shadow: inset 0 -2px 0 var(--color-accent); }
pre.copy-src { display: none !important; }
mark.viewer-passage { background: var(--background-fill-secondary); color: var(--body-text-color);
  outline: 1px dashed var(--border-color-accent); }
.cursor { animation: blink 1s steps(1) infinite; }
@keyframes blink { 50% { opacity: 0; } }
#hint { min-height: 1.2em; color: var(--body-text-color-subdued); font-size: 0.9em; }

/* question row: the box takes the width, the button its own */
#ask-row { flex-wrap: nowrap !important; align-items: stretch; gap: 0.5em; }
#ask-row > * { min-width: 0 !important; }
#send { flex: 0 0 auto !important; min-width: 4.5em !important; width: auto !important; }

/* library, jobs and viewer */
.lib-entry { font-size: 0.9em; }
.lib-title { font-weight: 600; overflow-wrap: anywhere; }
.lib-meta, .lib-file { font-size: 0.85em; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.lib-private { font-size: 0.75em; font-weight: 600; padding: 0 0.4em; border-radius: 999px;
  border: 1px solid var(--border-color-accent); color: var(--body-text-color); }
#library { gap: 0 !important; }
.lib-row { padding: 0.45em 0; border-bottom: 1px solid var(--border-color-primary); gap: 0.4em !important;
  align-items: center; flex-wrap: wrap !important; }
.lib-row > .lib-info { flex: 1 1 14em !important; min-width: 0 !important; }
.lib-actions { gap: 0.3em !important; flex: 0 0 auto !important; flex-wrap: nowrap !important; width: auto !important; }
.lib-actions button { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; }
.jobs-log { font-size: 0.88em; display: flex; flex-direction: column; gap: 0.3em; }
.job { display: flex; flex-direction: column; gap: 0.15em; overflow-wrap: anywhere; }
.job-failed { color: var(--error-text-color); }
.job progress { width: 100%; height: 0.5em; accent-color: var(--color-accent); }
.viewer-empty { color: var(--body-text-color-subdued); font-size: 0.9em; }
.viewer-head { display: flex; flex-direction: column; gap: 0.1em; margin-bottom: 0.4em; }
.viewer-source { font-size: 0.82em; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.viewer-text { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 65vh; overflow-y: auto;
  font-size: 0.92em; line-height: 1.5; padding: 0.5em 0.7em; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-lg); background: var(--background-fill-secondary); color: var(--body-text-color); }
.viewer-cut { font-style: italic; color: var(--body-text-color-subdued); }

/* phones: one column, no sideways scroll, the chat grows with the page instead of scrolling inside it */
@media (max-width: 700px) {
  #app-title { padding-left: 2.2em; }  /* room for the conversations panel's toggle */
  #chat { height: auto !important; max-height: none !important; }
  #chat > div, #chat .bubble-wrap, #chat [role=log] { height: auto !important; max-height: none !important;
    overflow: visible !important; }
  #app-title h1 { font-size: 1.3em; }
  .status-line { gap: 0.1em 0.8em; font-size: 0.85em; }
}
"""

# Gradio scopes the custom CSS of a media query to elements inside its ``.contain`` block; the
# page's outer padding (2 × 32 px of a 390 px phone screen) sits outside it, so it is set here.
HEAD = """
<style>
@media (max-width: 700px) { .gradio-container .main.app { padding-left: 6px; padding-right: 6px; } }
</style>
<script>
(function () {
  function openDetails(el) {
    for (let d = el.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
  }
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return; }
    const ta = document.createElement("textarea");  // plain http off loopback: no clipboard API
    ta.value = text; ta.style.position = "fixed"; ta.style.opacity = "0";
    document.body.appendChild(ta); ta.select(); document.execCommand("copy"); ta.remove();
  }
  document.addEventListener("click", function (ev) {
    const t = ev.target.closest ? ev.target : null;
    if (!t) return;
    const marker = t.closest("a.cite-marker");
    if (marker) {
      ev.preventDefault(); ev.stopPropagation();
      const card = document.getElementById((marker.getAttribute("href") || "").replace(/^#/, ""));
      if (!card) return;
      openDetails(card);
      document.querySelectorAll(".cite-card.cite-active").forEach(c => c.classList.remove("cite-active"));
      card.classList.add("cite-active");
      card.scrollIntoView({behavior: "smooth", block: "center"});
      // Gradio's chat scrolls itself to the bottom 300 ms after an answer settles: if that took
      // the card away again, bring it back once.
      setTimeout(() => {
        const r = card.getBoundingClientRect();
        if (r.bottom < 0 || r.top > innerHeight) card.scrollIntoView({block: "center"});
      }, 450);
      return;
    }
    const open = t.closest("a.cite-open");
    if (open) {
      ev.preventDefault(); ev.stopPropagation();
      const box = document.querySelector("#open-request textarea, #open-request input");
      if (!box) return;
      box.value = (open.getAttribute("href") || "").replace(/^#open:/, "") + "|" + Date.now();
      box.dispatchEvent(new Event("input", {bubbles: true}));
      return;
    }
    const copy = t.closest("button.copy-answer");
    if (copy) {
      ev.preventDefault(); ev.stopPropagation();
      const src = copy.closest(".bot-answer") && copy.closest(".bot-answer").querySelector("pre.copy-src");
      if (!src) return;
      copyText(src.textContent).then(() => {
        copy.textContent = "Copied"; copy.classList.add("copied");
        setTimeout(() => { copy.textContent = "Copy"; copy.classList.remove("copied"); }, 1500);
      }, () => { copy.textContent = "Copy failed"; });
    }
  }, true);
})();
</script>
"""

DOWNLOAD_JS = """
(markdown, name) => {
  if (!markdown) return;
  const url = URL.createObjectURL(new Blob([markdown], {type: "text/markdown;charset=utf-8"}));
  const a = document.createElement("a");
  a.href = url; a.download = name || "conversation.md";
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
"""

SCROLL_VIEWER_JS = """
() => {
  requestAnimationFrame(() => {
    const target = document.getElementById("viewer-target");
    const panel = document.getElementById("viewer-doc");
    if (target) target.scrollIntoView({block: "center"});
    else if (panel) {
      panel.scrollIntoView({block: "start"});
      const text = panel.querySelector(".viewer-text");
      if (text) text.scrollTop = 0;
    }
  });
}
"""
