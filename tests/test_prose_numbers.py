"""No measured number is typed into a chapter's prose (issue 20).

Every decimal and percentage a chapter's text or exercise answers state must come from the
computation: glued from the cell that computes it (MyST-NB ``glue``, shown with
``{glue:text}`name:.3f```), or printed by a cell. What may be typed:

* a number quoted from the paper, marked as such: ``[0.035]{.paper}`` (shown with "(paper)");
* a setting or a constant of the theory, written as maths (``$\\gamma = 0.5$``, ``$0.9$``) or code
  (`` `lr=0.05` ``); never a measurement with its spread (``$0.852 \\pm 0.055$``);
* a number inside a link's target or a code block, the paper's arXiv number, a section number.

The check reads the Markdown cells of every chapter notebook, takes those out, and fails on any
decimal (``0.72``) or percentage (``5%``) left, naming the chapter, the cell and the words around it.
"""
import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))

ALLOWED = re.compile(
    r"```.*?```"                       # code blocks
    r"|\$\$.*?\$\$|\$[^$\n]*\$"        # maths: settings and constants
    r"|\\begin\{.*?\\end\{[^}]*\}"     # amsmath environments
    r"|\{glue:text\}`[^`]*`"           # glued from the computation
    r"|`[^`\n]*`"                      # inline code
    r"|\[[^\]\n]*\]\{\.paper\}"        # quoted from the paper
    r"|\]\([^)\s]*\)"                  # a link's target
    r"|arXiv:\d+\.\d+"                   # the paper's arXiv number
    r"|(?:Secs?\.|Sections?|Apps?\.|Appendix|Thm\.|Theorem|Lemma|Remark|Prop\.|Def\.|Table)\s*[A-Z]?\d+(?:\.\d+)+",
    re.S,
)
# A measurement written as maths: a decimal with its spread ("$0.852 \\pm 0.055$") is never a setting.
PAPER_OR_CODE = re.compile(r"```.*?```|`[^`\n]*`|\[[^\]\n]*\]\{\.paper\}", re.S)
MEASURED_MATH = re.compile(r"\d*\.\d+\s*\\pm\s*\d*\.?\d+|\\pm\s*\d*\.\d+")
MEASURED = re.compile(r"(?<![\w.])\d+\.\d+(?!\.?\d)(?!\w)|(?<![\w.])\d+(?:\.\d+)?\s?%")


def typed_numbers(markdown: str) -> list[tuple[str, str]]:
    """The decimals and percentages left in ``markdown`` once the allowed forms are taken out,
    each with the words before it.

    >>> typed_numbers("aligned $0.9$, measured {glue:text}`a1:.2f`, paper [0.035]{.paper}")
    []
    >>> [number for number, _ in typed_numbers("the loss fell by 5% to 0.72")]
    ['5%', '0.72']
    >>> [number for number, _ in typed_numbers("measured $0.852 \\\\pm 0.055$, paper [$0.035$]{.paper}")]
    ['0.852 \\\\pm 0.055']
    """
    spreads = [(m.group(0), m.group(0)) for m in MEASURED_MATH.finditer(PAPER_OR_CODE.sub(" ", markdown))]
    text = ALLOWED.sub(" ", markdown)
    return spreads + [(m.group(0), " ".join(text[max(0, m.start() - 40):m.end()].split())) for m in MEASURED.finditer(text)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_no_measured_number_typed_in_prose(chapter):
    nb = nbformat.read(chapter, as_version=4)
    found = [f"cell {i}: {number!r} in '…{words}'" for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
             for number, words in typed_numbers(cell.source)]
    assert not found, (
        f"{chapter.name}: {len(found)} numbers typed into the prose; glue each from the cell that computes it "
        "({glue:text}`name:.2f`), mark a quotation of the paper as [x]{.paper}, or write a setting as $x$:\n"
        + "\n".join(found)
    )
