"""The built book in a real browser, offline.

Serves ``_build/html`` on 127.0.0.1, opens each chapter page (and index.html) in
Debian's Chromium through Playwright, refuses every request that leaves
127.0.0.1, and checks that MathJax typeset the math, that every image loaded,
that embedded widgets rendered and that the console stayed free of errors; that
tables are HTML tables (no Markdown pipes left as text), that nothing (code,
outputs, display equations, images, tables) is wider than the text column, and
that every figure a chapter's code drew has a caption.
A full-page screenshot of each page goes to ``_build/screenshots/``.

Runs after ``make book``; skips when there is no build or no /usr/bin/chromium.
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
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac")
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


# Text left in the article once code, math and scripts are taken out.
VISIBLE_TEXT_JS = """() => {
  const main = document.querySelector('article') || document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  return copy.textContent;
}"""

# What the reader sees of the layout: elements wider than the text column, tables left as
# Markdown text, and output figures without a caption. Folded (hidden) elements have no width.
LAYOUT_JS = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const column = article.getBoundingClientRect();
  const describe = el => (el.tagName.toLowerCase() + '.' + [...el.classList].join('.')) + ': '
      + (el.textContent || el.getAttribute('src') || '').trim().slice(0, 60);
  const wide = [];
  for (const el of article.querySelectorAll('pre, div.cell_output, div.output, mjx-container[display="true"], img, table')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || el.closest('.animation')) continue;
    const over = Math.max(r.right - column.right, el.scrollWidth - el.clientWidth);
    if (over > 2) wide.push(describe(el) + ' (' + Math.round(over) + ' px over)');
  }
  const pipes = [...article.querySelectorAll('p, div.output pre, div.cell_output pre')]
      .filter(e => /\|\s*:?-{3,}:?\s*\|/.test(e.textContent)).map(describe);
  const figures = [...article.querySelectorAll('div.cell_output img')].filter(img => !img.closest('.animation'));
  const uncaptioned = figures.filter(img => !(img.closest('figure') && img.closest('figure').querySelector('figcaption')))
      .map(img => describe(img.closest('.cell') || img));
  return {width: column.width, wide, pipes, figures: figures.length, uncaptioned,
          tables: article.querySelectorAll('table').length};
}"""

IMAGES_JS = """async () => {
  const imgs = [...document.images];
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  return imgs.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth}));
}"""


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_offline(browser, base_url, page_path):
    source = (HTML / page_path).read_text(encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
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
            untypeset = page.evaluate(
                "() => [...document.querySelectorAll('.math')]"
                ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80))"
            )
            assert not untypeset, f"math that MathJax did not typeset: {untypeset}"
        raw = sorted(set(RAW_TEX.findall(page.evaluate(VISIBLE_TEXT_JS))))
        assert not raw, f"raw TeX left in the visible text: {raw}"

        images = page.evaluate(IMAGES_JS)
        broken = [img["src"] for img in images if img["width"] == 0]
        assert not broken, f"images that did not load: {broken}"

        views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        if views:
            page.wait_for_function(
                f"() => document.querySelectorAll('.widget-subarea .jupyter-widgets').length >= {views}"
            )
        page.wait_for_load_state("networkidle")
        layout = page.evaluate(LAYOUT_JS)
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / (page_path.replace("/", "__").removesuffix(".html") + ".png")),
                        full_page=True)
        context.close()

    assert not blocked, f"the page asked for something beyond 127.0.0.1: {blocked}"
    assert not layout["pipes"], f"Markdown tables left as text: {layout['pipes']}"
    assert not layout["wide"], f"wider than the {layout['width']:.0f}-px text column: {layout['wide']}"
    assert not layout["uncaptioned"], f"{len(layout['uncaptioned'])} of {layout['figures']} figures have no caption: {layout['uncaptioned']}"
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)
