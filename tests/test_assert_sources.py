"""Every assert in a chapter says where its threshold comes from (issue 20).

An assert in a chapter holds the run to a claim. Its threshold must come from somewhere a reader
can check, never from the value the run happened to give; the chapter says where, in a comment on
the assert's line or in the comment lines just above it::

    # source: theory, eq. 15 (the share along v1 tends to 1); 0.9 = the aligned level
    assert share > 0.9

The word after ``source:`` is one of

* ``paper``: a number or an observation the paper states (section, figure, equation);
* ``theory``: an equation, a bound or a derivation the book makes;
* ``definition``: one of the book's definitions (``cl.on_one_line``, the initial stage's 10%);
* ``independent``: an independent computation of the same quantity (autograd against a closed
  form, an ODE solver, a loop), with the numerical tolerance it allows;
* ``interval``: a 95% interval over seeds held against a value from one of the above;
* ``setup``: a check of the chapter's own configuration or packaging (no scientific threshold).

``python tests/test_assert_sources.py`` prints the table of every assert and its source.
"""
import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
KINDS = ("paper", "theory", "definition", "independent", "interval", "setup")
SOURCE = re.compile(r"#.*?source:\s*(" + "|".join(KINDS) + r")\b(.*)")


def asserts(code: str) -> list[tuple[int, str, str]]:
    """Each ``assert`` statement of a code cell as (line, statement, source comment or "").

    The source comment is the first ``# ... source: kind ...`` found on the statement's own lines
    or in the unbroken run of comment lines just above it; asserts that follow one another line by
    line share the source of the first (one comment for one claim checked in several asserts).

    >>> asserts("x = 1\\n# source: theory, eq. 15\\nassert x > 0\\nassert x  # source: setup")
    [(3, 'assert x > 0', 'theory, eq. 15'), (4, 'assert x', 'setup')]
    >>> asserts("# source: paper, Fig. 7\\nassert 1\\nassert 2\\n\\nassert 3")
    [(2, 'assert 1', 'paper, Fig. 7'), (3, 'assert 2', 'paper, Fig. 7'), (5, 'assert 3', '')]
    >>> asserts("assert 1 < 2")[0][2]
    ''
    """
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())
    lines = code.splitlines()
    found, ends = [], {}
    nodes = sorted((n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Assert)), key=lambda n: n.lineno)
    for node in nodes:
        above, k = [], node.lineno - 2
        while k >= 0 and lines[k].lstrip().startswith("#"):
            above.insert(0, lines[k])
            k -= 1
        own = lines[node.lineno - 1:node.end_lineno]
        match = next((m for m in map(SOURCE.search, above + own) if m), None)
        source = f"{match.group(1)}{match.group(2).rstrip()}" if match else ends.get(node.lineno - 1, "")
        ends[node.end_lineno] = source
        found.append((node.lineno, " ".join(ast.get_source_segment(code, node).split()), source))
    return found


def chapter_asserts(chapter: Path) -> list[tuple[int, int, str, str]]:
    """(cell, line, statement, source) for every assert in the chapter's code cells."""
    nb = nbformat.read(chapter, as_version=4)
    return [(i, line, statement, source) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for line, statement, source in asserts(cell.source)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_every_assert_names_the_source_of_its_threshold(chapter):
    missing = [f"cell {i} line {line}: {statement[:100]}" for i, line, statement, source in chapter_asserts(chapter)
               if not source]
    assert not missing, (
        f"{chapter.name}: {len(missing)} asserts without '# source: <{'|'.join(KINDS)}>, <where>' on or just above "
        "them; say where each threshold comes from (or drop a threshold nobody can source):\n" + "\n".join(missing))


if __name__ == "__main__":  # the table of every assert and its source, for a review or a note
    for chapter in CHAPTERS:
        rows = chapter_asserts(chapter)
        if rows:
            print(f"\n## {chapter.stem}\n\n| cell | assert | source |\n|---|---|---|")
            for i, _, statement, source in rows:
                cut = statement[7:117] + ("…" if len(statement) > 117 else "")
                print(f"| {i} | `{cut.replace('|', '/')}` | {source or '**none**'} |")
    sys.exit(0)
