"""The built book in a real browser, offline, read as a reader does at 1280 px and at 390 px.

Serves ``_build/html`` on 127.0.0.1, opens every page (and index.html) in Debian's Chromium
through Playwright at a laptop's width (1280 px) and a phone's (390 px), refuses every request
that leaves 127.0.0.1, and fails on what a reader would see go wrong:

* MathJax: math left untypeset, or an error box (``mjx-merror``) instead of an equation;
* a display equation whose box leaves the text column, or whose start or end cannot be
  scrolled into view (a wide equation must start at its box's left edge, in a box that scrolls);
* raw TeX in the text, the page title or the navigation;
* a word or number broken across lines inside a table cell;
* an answer dropdown inside another dropdown; a book figure number ("Fig. 38") beside the paper's;
* anything wider than the column (code, outputs, tables, images) that is not in a box of its
  own that scrolls, and Markdown tables left as text;
* an output figure shown at less than 60% of the width it was drawn for, or without a caption;
  an animation frame narrower than 300 px (or the column), or a player without a caption;
* on a phone, a menu (the book's contents, the page's contents) that does not open and close
  when its visible button is pressed;
* images that do not load, widgets that do not render, errors in the console.

A full-page screenshot of each page at each width goes to ``_build/screenshots/<width>/``
(``make screenshots``). Runs after ``make book``; skips when there is no build or no Chromium.
"""
import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 60_000
WIDTHS = {"laptop": 1280, "phone": 390}
SHOWN_AT_LEAST = 0.6    # of a figure's drawn width
FRAME_AT_LEAST = 300    # CSS px, an animation frame (or the whole column, if narrower)

if not (HTML / "index.html").is_file():
    pytestmark = pytest.mark.skip(reason=f"no built book at {HTML}: run `make book` first")
    PAGES = ["index.html"]
elif not CHROMIUM.exists():
    pytestmark = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium")
    PAGES = ["index.html"]
else:
    PAGES = ["index.html"] + sorted(p.relative_to(HTML).as_posix() for p in (HTML / "book").glob("*.html"))

# Sphinx writes math as <span class="math notranslate nohighlight">\(...\)</span>
# (and a <div> for display math), which MathJax replaces by an <mjx-container>.
MATH_IN_SOURCE = re.compile(r'class="math notranslate')
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac|\\mathrm|\\gamma|\\tanh|\\varepsilon")
REFRESH = re.compile(r'http-equiv="refresh"[^>]*url=([^"\s>]+)', re.I)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Text a reader sees: the article without code, math and scripts; the title; the navigation.
VISIBLE_TEXT_JS = """() => {
  const main = document.querySelector('article') || document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  const nav = document.querySelector('nav.bd-docs-nav');
  return {article: copy.textContent, title: document.title, nav: nav ? nav.textContent : ''};
}"""

# Everything the reader sees of the layout, as lists of problems (empty: fine).
READER_JS = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const col = article.getBoundingClientRect();
  const describe = el => (el.tagName.toLowerCase() + '.' + [...el.classList].join('.')) + ': '
      + (el.textContent || el.getAttribute('src') || '').trim().replace(/\s+/g, ' ').slice(0, 60);
  const visible = el => el.getClientRects().length > 0 && el.getBoundingClientRect().width > 0;
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  // The box that holds el for the reader: the nearest ancestor (or el) that scrolls sideways.
  const scroller = el => { for (let e = el; e && e !== article; e = e.parentElement) if (scrolls(e)) return e; return null; };
  const inColumn = r => r.left >= col.left - 2 && r.right <= col.right + 2;
  const out = {errors: [], untypeset: [], equations: [], wide: [], broken: [], nested: [], small: [],
               uncaptioned: [], frames: [], pipes: [], width: Math.round(col.width)};

  out.errors = [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
      .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80));
  out.untypeset = [...article.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))
      .map(e => e.textContent.slice(0, 80));

  // Display equations: in the column, starting at the left edge of a box that shows or scrolls to all of it.
  for (const eq of article.querySelectorAll('mjx-container[display="true"]')) {
    if (!visible(eq)) continue;
    const math = eq.querySelector('mjx-math') || eq;
    const m = math.getBoundingClientRect(), e = eq.getBoundingClientRect();
    const box = scroller(eq);
    const b = box ? box.getBoundingClientRect() : col;
    const width = Math.max(m.width, e.width);
    const problem =
        !inColumn(b) ? 'its box leaves the column' :
        Math.min(m.left, e.left) < b.left - 2 ? 'its start lies left of its box, out of reach' :
        width > b.width + 2 && !box ? 'wider than the column, in no scrolling box' :
        box && width > box.scrollWidth + 2 ? 'its end cannot be scrolled into view' : null;
    if (problem) out.equations.push(describe(eq.closest('div') || eq) + ' (' + problem + ')');
  }

  // Wide content: fine inside a box of the column that scrolls.
  for (const el of article.querySelectorAll('pre, div.cell_output, div.output, img, table')) {
    if (!visible(el) || el.closest('mjx-container')) continue;
    const r = el.getBoundingClientRect();
    const box = scroller(el);
    const b = box && box !== el ? box.getBoundingClientRect() : r;
    if (box ? !inColumn(b) : (r.right > col.right + 2 || el.scrollWidth > el.clientWidth + 2))
      out.wide.push(describe(el));
  }

  // Words (between spaces, hyphens and slashes) broken across lines in a table cell.
  for (const cell of article.querySelectorAll('td, th')) {
    if (!visible(cell)) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('mjx-container')) continue;
      const word = /[^\s\-\/\u2013]{2,}/g;
      for (let w = word.exec(node.data); w; w = word.exec(node.data)) {
        const range = document.createRange();
        range.setStart(node, w.index);
        range.setEnd(node, w.index + w[0].length);
        const lines = new Set([...range.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        if (lines.size > 1) out.broken.push(w[0]);
      }
    }
  }

  out.nested = [...article.querySelectorAll('details details, .dropdown .dropdown, details .dropdown, .dropdown details')]
      .map(describe);

  // Output figures: shown at >= 60% of their drawn width (the width attribute of a retina PNG), captioned.
  for (const img of article.querySelectorAll('div.cell_output img')) {
    if (img.closest('.animation-figure') || img.closest('.animation')) continue;
    // MyST-NB sets a retina PNG's drawn size as style="width: ...px"; otherwise its pixels are its size.
    const drawn = parseFloat(img.style.width) || Number(img.getAttribute('width')) || img.naturalWidth;
    const shown = img.getBoundingClientRect().width;
    if (visible(img) && shown < 0.6 * drawn - 1)
      out.small.push(describe(img.closest('.cell') || img) + ` (${Math.round(shown)} of ${Math.round(drawn)} px)`);
    const fig = img.closest('figure');
    if (!(fig && fig.querySelector('figcaption') && fig.querySelector('figcaption').textContent.trim()))
      out.uncaptioned.push(describe(img.closest('.cell') || img));
  }
  // Animation players: frames readable, a caption each.
  for (const player of article.querySelectorAll('div.animation')) {
    const fig = player.closest('figure');
    if (!(fig && fig.querySelector('figcaption') && fig.querySelector('figcaption').textContent.trim()))
      out.uncaptioned.push('animation: ' + describe(player));
    const frame = player.querySelector('img');
    if (frame && frame.getBoundingClientRect().width < Math.min(300, col.width) - 1)
      out.frames.push(`${Math.round(frame.getBoundingClientRect().width)} px wide`);
  }
  out.pipes = [...article.querySelectorAll('p, div.output pre, div.cell_output pre')]
      .filter(e => /\|\s*:?-{3,}:?\s*\|/.test(e.textContent)).map(describe);
  out.numbers = [...article.querySelectorAll('span.caption-number')].filter(visible).map(describe);
  out.figures = article.querySelectorAll('div.cell_output img').length;
  return out;
}"""

IMAGES_JS = """async () => {
  const imgs = [...document.images];
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  return imgs.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth}));
}"""


def _open_and_close(page, button, dialog):
    """Press the visible ``button``; the ``dialog`` must open with links in it, then close on Escape."""
    page.locator(f"{button} >> visible=true").first.click()
    page.wait_for_function(f"() => document.querySelector('{dialog}').open", timeout=5_000)
    links = page.evaluate(f"() => [...document.querySelectorAll('{dialog} a')].filter(a => a.getClientRects().length).length")
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => !document.querySelector('{dialog}').open", timeout=5_000)
    return links


@pytest.mark.parametrize("device", list(WIDTHS))
@pytest.mark.parametrize("page_path", PAGES)
def test_page_reads_right(browser, base_url, page_path, device):
    source = (HTML / page_path).read_text(encoding="utf-8")
    width = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": 900}, service_workers="block")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors, blocked = [], []

    def on_console(msg):
        # Chromium asks for /favicon.ico by itself; the book has none.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"console: {msg.text} ({msg.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def only_localhost(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_localhost)
    menus = {}
    try:
        page.goto(base_url + page_path, wait_until="load")
        redirect = REFRESH.search(source)
        if redirect:  # index.html only sends the browser on to the first chapter
            target = redirect.group(1).strip("'\"")
            page.wait_for_url(re.compile(re.escape(target) + "$"))
            page.wait_for_load_state("load")
            source = page.content()
        if MATH_IN_SOURCE.search(source):
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("() => MathJax.startup.promise")
            page.wait_for_selector("mjx-container", state="attached")
        text = page.evaluate(VISIBLE_TEXT_JS)
        images = page.evaluate(IMAGES_JS)
        views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        if views:
            page.wait_for_function(
                f"() => document.querySelectorAll('.widget-subarea .jupyter-widgets').length >= {views}"
            )
        page.wait_for_load_state("networkidle")
        seen = page.evaluate(READER_JS)
        if device == "phone":
            menus["contents of the book"] = _open_and_close(page, "button.primary-toggle", "#pst-primary-sidebar-modal")
            if page.locator("button.secondary-toggle >> visible=true").count():
                menus["contents of the page"] = _open_and_close(page, "button.secondary-toggle", "#pst-secondary-sidebar-modal")
    finally:
        folder = SHOTS / str(width)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / (page_path.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)
        context.close()

    where = f"at {width} px"
    assert not blocked, f"the page asked for something beyond 127.0.0.1: {blocked}"
    assert not seen["errors"], f"MathJax error boxes {where}: {seen['errors']}"
    assert not seen["untypeset"], f"math that MathJax did not typeset: {seen['untypeset']}"
    raw = {part: sorted(set(RAW_TEX.findall(text[part]))) for part in text}
    assert not any(raw.values()), f"raw TeX left in what the reader sees: {raw}"
    assert not seen["equations"], f"display equations out of reach {where} (column {seen['width']} px): {seen['equations']}"
    assert not seen["broken"], f"words broken inside table cells {where}: {sorted(set(seen['broken']))[:20]}"
    assert not seen["nested"], f"a dropdown inside another: {seen['nested']}"
    assert not seen["numbers"], f"book figure numbers beside the paper's: {seen['numbers'][:5]}"
    assert not seen["pipes"], f"Markdown tables left as text: {seen['pipes']}"
    assert not seen["wide"], f"wider than the {seen['width']}-px column {where}, in no scrolling box: {seen['wide']}"
    assert not seen["small"], f"figures shown at less than {SHOWN_AT_LEAST:.0%} of their drawn width {where}: {seen['small']}"
    assert not seen["frames"], f"animation frames narrower than {FRAME_AT_LEAST} px {where}: {seen['frames']}"
    assert not seen["uncaptioned"], f"{len(seen['uncaptioned'])} of {seen['figures']} figures have no caption: {seen['uncaptioned']}"
    broken = [img["src"] for img in images if img["width"] == 0]
    assert not broken, f"images that did not load: {broken}"
    assert all(menus.values()), f"a menu without links on a phone: {menus}"
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)
