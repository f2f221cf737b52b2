"""Sphinx extension: serve MathJax and the Jupyter widgets scripts from the book.

By default a built page loads MathJax and the ipywidgets embedder from CDNs,
so offline it shows raw LaTeX. ``tools/fetch_assets.sh`` puts local copies in
``_vendor/vendor/``; when they are there, this extension

* adds ``_vendor`` to ``html_extra_path``, so they are copied to ``vendor/`` in
  the site root (``_build/html/vendor/...``),
* points ``mathjax_path`` and myst-nb's ``nb_ipywidgets_js`` at them.

Sphinx takes a script path as relative to ``_static/`` and then makes it
relative to each page, so ``../vendor/mathjax/...`` becomes
``_static/../vendor/mathjax/...`` in ``index.html`` and
``../_static/../vendor/mathjax/...`` in ``book/x.html``: both resolve to the
site's ``vendor/``. When ``_vendor/`` is absent the CDN defaults stay.

With the local widget scripts it also adds a small inline script that fixes two
faults of ``embed-amd.js`` (they occur with the CDN copy as well):

* it looks for its Font Awesome fonts next to its AMD module's URL, which
  RequireJS puts in the page's folder (404s): map the modules to ``vendor/``;
* its ``typeset`` calls MathJax 2's ``MathJax.Hub.Queue``, while Sphinx loads
  MathJax 3 (TypeError): give MathJax 3 a ``Hub.Queue`` that typesets.

And on every page it drops repeated inline scripts: Sphinx 7.4 lists an inline
script added after the builder starts twice (``None`` and ``''`` differ), so
sphinx-thebe's ``const THEBE_JS_URL = ...`` runs twice, a SyntaxError.

And it serves the *Open in Colab* badge from the book: the chapters link the badge image
by its absolute URL (Colab cannot load a relative one), and the built pages show the copy
in ``book/images/`` instead, so a page loads nothing from outside.

Registered from ``_config.yml``: ``sphinx: local_extensions: {offline_assets: tools}``.
"""

from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

VENDOR_DIR = "_vendor"  # in the book root; its contents go to the site root
# Paths in the site, from its root.
MATHJAX = "vendor/mathjax/tex-mml-chtml.js"  # the component Sphinx loads by default
REQUIREJS = "vendor/requirejs/require.js"
WIDGETS = "vendor/jupyter-widgets/embed-amd.js"


def _script(path):
    """A site path as Sphinx wants a script's path: relative to ``_static/``."""
    return "../" + path


WIDGETS_FIXES_JS = """(function () {
  var requirejs_src = document.querySelector('script[src*="vendor/requirejs/require.js"]').src;
  var dir = new URL("../jupyter-widgets/", requirejs_src).href;
  var paths = {"@jupyter-widgets/html-manager/dist": dir.slice(0, -1)};
  ["base", "base7", "controls", "controls7", "html-manager"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = dir + name;
  });
  require.config({paths: paths});
  var config = window.MathJax;  // MathJax 3 reads its configuration from here, then replaces it
  if (config && !config.version) {
    config.startup = config.startup || {};
    config.startup.ready = function () {
      MathJax.startup.defaultReady();
      MathJax.Hub = {Queue: function (job) {  // job = ["Typeset", MathJax.Hub, element]
        MathJax.startup.promise = MathJax.startup.promise.then(function () {
          return MathJax.typesetPromise([job[2]]);
        });
      }};
    };
  }
})();"""


def use_local_assets(app, config):
    vendor = Path(app.srcdir) / VENDOR_DIR
    missing = [f for f in (MATHJAX, REQUIREJS, WIDGETS) if not (vendor / f).is_file()]
    if missing:
        logger.info(
            "offline_assets: %s not found; MathJax and the widget scripts load from "
            "their CDNs (run tools/fetch_assets.sh for an offline book)",
            vendor / missing[0],
        )
        return
    config.html_extra_path = [*config.html_extra_path, VENDOR_DIR]
    config.mathjax_path = _script(MATHJAX)
    config.nb_ipywidgets_js = {
        _script(REQUIREJS): {},
        "": {"body": WIDGETS_FIXES_JS},  # an inline script: no file
        # Widgets that embed-amd.js does not bundle (third-party ones) still come
        # from this CDN; the standard controls are all in the local file.
        _script(WIDGETS): {"data-jupyter-widgets-cdn": "https://cdn.jsdelivr.net/npm/"},
    }
    logger.info("offline_assets: MathJax and widget scripts served from %s", vendor)


def drop_repeated_inline_scripts(app, pagename, templatename, context, doctree):
    scripts, seen = context.get("script_files"), set()
    if not scripts:
        return
    kept = []
    for js in scripts:
        body = getattr(js, "attributes", {}).get("body")
        if not getattr(js, "filename", None) and body:
            if body in seen:
                continue
            seen.add(body)
        kept.append(js)
    scripts[:] = kept


BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_LOCAL = "images/colab-badge.svg"  # relative to book/, where the chapters are


def local_badge(app, docname, source):
    """The Colab badge image from ``book/images/`` in the built page (``source-read``)."""
    if docname.startswith("book/"):
        source[0] = source[0].replace(BADGE_URL, BADGE_LOCAL)


def setup(app):
    app.connect("config-inited", use_local_assets)
    app.connect("source-read", local_badge)
    app.connect("html-page-context", drop_repeated_inline_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
