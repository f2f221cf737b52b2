"""The chapters as the book build executed them.

``make book`` executes every chapter once (``execute_notebooks: force``, a failing cell or
assert fails the build) and MyST-NB keeps each executed copy in ``_build/jupyter_execute``.
These tests read those copies instead of executing the chapters a second time: every chapter
in the table of contents was executed, every code cell ran, none raised, and no output holds
a timing or a version string. Skips when there is no build.
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT / "_build" / "jupyter_execute" / "book"
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
TOC = (ROOT / "_toc.yml").read_text()
# "took 3.2 s", "12.5 s/it", tqdm's "[00:03<00:00", version strings like "torch 2.14.1"
TIMING = re.compile(r"\b\d+(\.\d+)?\s?(s/it|it/s|ms|seconds?)\b|\[\d\d:\d\d<|\b(torch|numpy|python)\s+\d+\.\d+\.\d+", re.I)

if not EXECUTED.is_dir():
    pytestmark = pytest.mark.skip(reason=f"no executed chapters in {EXECUTED}: run `make book` first")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_is_in_the_book(chapter):
    assert f"book/{chapter}" in TOC, f"book/{chapter}.ipynb is not in _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_executed_without_error(chapter):
    path = EXECUTED / f"{chapter}.ipynb"
    assert path.is_file(), f"{chapter} was not executed by the build"
    assert path.stat().st_mtime >= (ROOT / "book" / f"{chapter}.ipynb").stat().st_mtime, "executed copy is stale"
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert cells, f"{chapter} has no code"
    unexecuted = [i for i, c in enumerate(cells) if c.get("execution_count") is None and "".join(c["source"]).strip()]
    assert not unexecuted, f"code cells that did not run: {unexecuted}"
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{chapter} raised: {[e['ename'] + ': ' + e['evalue'] for e in errors]}"
    text = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for c in cells for o in c["outputs"])
    assert not TIMING.search(text), f"{chapter} prints a timing or a version: {TIMING.search(text).group(0)!r}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_ends_with_exercises_and_folded_answers(chapter):
    cells = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text())["cells"]
    last = "".join(next(c for c in reversed(cells) if c["cell_type"] == "markdown")["source"])
    assert "## Exercises" in last, f"{chapter} does not end with its exercises"
    assert last.count(":class: dropdown") >= 2, f"{chapter}: the exercises need folded answers"
