#!/usr/bin/env bash
# Bring the browser-side scripts that a built page needs into _vendor/ (ignored
# by git), so that the book renders offline: MathJax 3, RequireJS and the
# Jupyter widgets HTML manager, taken from the npm registry with `npm pack`.
#
# tools/offline_assets.py (a Sphinx extension) copies _vendor/ into the site
# root, so _vendor/vendor/mathjax/tex-mml-chtml.js is served as
# _build/html/vendor/mathjax/tex-mml-chtml.js. Not in _static/ on purpose:
# Sphinx themes link every .js found there into every page.
#
# Idempotent: does nothing when _vendor/ already holds these versions.
# Without npm, or when the registry can't be reached, it says so and exits 0:
# the book then loads these scripts from their CDNs, as Jupyter Book does by default.
set -euo pipefail
cd "$(dirname "$0")/.."

MATHJAX=mathjax@3.2.2
WIDGETS=@jupyter-widgets/html-manager@1.0.15   # the line that matches ipywidgets 8
REQUIREJS=requirejs@2.3.8
WANT="$MATHJAX $WIDGETS $REQUIREJS"
DEST=_vendor

if [ -f "$DEST/.versions" ] && [ "$(cat "$DEST/.versions")" = "$WANT" ]; then
    echo "fetch_assets: $DEST/ is up to date ($WANT)"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "fetch_assets: npm not found; the book will load MathJax and the widget scripts from their CDNs"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unpack() {  # unpack NAME SPEC: npm pack SPEC and unpack it into $tmp/NAME
    (cd "$tmp" && npm pack --loglevel=error "$2" >"$1.name") &&
        mkdir "$tmp/$1" && tar -xzf "$tmp/$(cat "$tmp/$1.name")" -C "$tmp/$1" --strip-components=1
}
if ! { unpack mathjax "$MATHJAX" && unpack widgets "$WIDGETS" && unpack requirejs "$REQUIREJS"; }; then
    echo "fetch_assets: WARNING: npm could not fetch $WANT;" \
         "the book will load MathJax and the widget scripts from their CDNs" >&2
    exit 0
fi

new="$tmp/site/vendor"
mkdir -p "$new/jupyter-widgets" "$new/requirejs"
cp -r "$tmp/mathjax/es5" "$new/mathjax"            # MathJax loads its parts relative to itself
cp "$tmp/mathjax/LICENSE" "$new/mathjax/"
# embed-amd.js bundles base, controls, output and the manager; the fonts are Font Awesome's.
cp "$tmp/widgets/dist/embed-amd.js" "$tmp/widgets/package.json" "$new/jupyter-widgets/"
cp "$tmp"/widgets/dist/*.{woff2,woff,ttf,eot,svg} "$new/jupyter-widgets/"
cp "$tmp/requirejs/require.js" "$new/requirejs/"
echo "$WANT" >"$tmp/site/.versions"

rm -rf "$DEST"
mv "$tmp/site" "$DEST"
echo "fetch_assets: $WANT -> $DEST/vendor/ ($(du -sh "$DEST" | cut -f1))"
