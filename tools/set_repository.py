"""Name the GitHub repository the Colab links point to, in one place.

    python tools/set_repository.py OWNER/NAME [--ref REF] [--branch BRANCH]
    python tools/set_repository.py --check

rewrites, together:

- the *Open in Colab* badge, first line of the first markdown cell of every
  ``book/*.ipynb``: opens ``book/<chapter>.ipynb`` of OWNER/NAME at BRANCH on Colab;
- the set-up cell (cell 1, tagged ``hide-input``) of every chapter, from ``SETUP_CELL``:
  on Colab it installs ``condense_lib`` from OWNER/NAME at REF (default: the tag
  ``v<version in pyproject.toml>``), so a re-run installs the code the chapter was
  written for;
- the notebook metadata that asks Colab for a GPU runtime;
- ``repository.url`` and ``repository.branch`` in ``_config.yml`` (the book's launch buttons).

``--check`` rewrites nothing: it exits with status 1, naming each file that differs
from what the repository named in ``_config.yml`` calls for.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from condense_lib.notebook import install_spec  # noqa: E402  (one definition of the pip requirement)

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = "[![Open In Colab]({image})](https://colab.research.google.com/github/{repository}/blob/{branch}/{path})"
BADGE_LINE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")

# The set-up cell of every chapter. Before condense_lib is installed nothing of it can be
# imported, so the first install is written here; IPython turns the indented %pip into a
# call, and %pip (unlike a subprocess) shows pip's output in the notebook.
SETUP_CELL = """\
# Set-up. On Colab: installs condense_lib ({ref} of https://github.com/{repository}) unless it is importable.
import importlib.util, sys
if "google.colab" in sys.modules and importlib.util.find_spec("condense_lib") is None:
    %pip install "{spec}"
    if importlib.util.find_spec("condense_lib") is None: sys.exit("Could not install condense_lib: check that https://github.com/{repository} and its {ref} exist, or upload the condense_lib folder next to this notebook.")
import condense_lib as cl, numpy as np
cl.notebook_setup("{repository}", "{ref}")  # on Colab, the condense_lib this chapter was written for"""

# What Colab writes when the runtime type is a GPU (Runtime > Change runtime type).
COLAB_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}


def default_ref(root: Path = ROOT) -> str:
    """The release tag of the package version in ``pyproject.toml``: ``v<version>``."""
    match = re.search(r'^version\s*=\s*"([^"]+)"', (root / "pyproject.toml").read_text(), re.M)
    if match is None:
        raise ValueError(f"no version = \"...\" line in {root / 'pyproject.toml'}")
    return f"v{match.group(1)}"


def setup_source(repository: str, ref: str) -> str:
    """The set-up cell's source for ``repository`` at ``ref``."""
    return SETUP_CELL.format(repository=repository, ref=ref, spec=install_spec(repository, ref))


def badge(repository: str, branch: str, path: str) -> str:
    """The Markdown of an *Open in Colab* badge for the notebook at ``path`` (relative to the root)."""
    return BADGE.format(image=BADGE_IMAGE, repository=repository, branch=branch, path=path)


def _lines(text: str) -> list[str]:
    """A cell source as nbformat stores it: lines that keep their newline."""
    return text.splitlines(keepends=True)


def rewrite_notebook(nb: dict, path: str, repository: str, ref: str, branch: str) -> dict:
    """``nb`` with its badge, set-up cell (cell 1) and Colab metadata for ``repository``."""
    cells = nb["cells"]
    first = next((c for c in cells if c["cell_type"] == "markdown"), None)
    if first is None or len(cells) < 2 or cells[1]["cell_type"] != "code":
        raise ValueError(f"{path}: expected a markdown cell, then the set-up code cell (cell 1)")
    text = "".join(first["source"])
    new_badge = badge(repository, branch, path)
    if BADGE_LINE.match(text):
        text = BADGE_LINE.sub(lambda _: new_badge, text, count=1)
    else:
        text = f"{new_badge}\n\n{text}"
    first["source"] = _lines(text)
    setup = cells[1]
    setup["source"] = _lines(setup_source(repository, ref))
    tags = setup.setdefault("metadata", {}).setdefault("tags", [])
    if "hide-input" not in tags:
        tags.append("hide-input")
    nb["metadata"].update(json.loads(json.dumps(COLAB_METADATA)))
    return nb


def rewrite_config(text: str, repository: str, branch: str) -> str:
    """``_config.yml`` with ``repository.url`` and ``repository.branch`` set."""
    block = re.search(r"^repository:\n((?:[ \t]+.*\n?)*)", text, re.M)
    if block is None:
        raise ValueError("_config.yml has no 'repository:' section")
    body = block.group(1)
    body, n = re.subn(r"^(\s+url:).*$", rf"\1 https://github.com/{repository}  # tools/set_repository.py", body, 1, re.M)
    body, m = re.subn(r"^(\s+branch:).*$", rf"\1 {branch}", body, 1, re.M)
    if not (n and m):
        raise ValueError("_config.yml: the 'repository:' section needs a 'url:' and a 'branch:' line")
    return text[: block.start(1)] + body + text[block.end(1):]


def configured(root: Path = ROOT) -> tuple[str, str]:
    """``(repository, branch)`` as ``_config.yml`` names them."""
    text = (root / "_config.yml").read_text()
    url = re.search(r"^repository:\n(?:[ \t]+.*\n)*?[ \t]+url:\s*https://github\.com/([^\s#]+)", text, re.M)
    branch = re.search(r"^repository:\n(?:[ \t]+.*\n)*?[ \t]+branch:\s*(\S+)", text, re.M)
    if url is None or branch is None:
        raise ValueError(f"{root / '_config.yml'}: no repository url (https://github.com/OWNER/NAME) or branch")
    return url.group(1).removesuffix(".git").rstrip("/"), branch.group(1)


def pinned_ref(root: Path = ROOT) -> str | None:
    """The ref the chapters' set-up cells install, when they all name the same one."""
    refs = set()
    for path in sorted((root / "book").glob("*.ipynb")):
        source = "".join(json.loads(path.read_text())["cells"][1]["source"])
        refs.update(re.findall(r'notebook_setup\("[^"]*", "([^"]*)"\)', source) or [None])
    return refs.pop() if len(refs) == 1 else None


def _dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def apply(root: Path, repository: str, ref: str, branch: str, write: bool = True) -> list[Path]:
    """Rewrite (or, with ``write=False``, only compare) every file; return the ones that differ."""
    install_spec(repository, ref)  # checks both
    changed = []
    for path in sorted((root / "book").glob("*.ipynb")):
        old = path.read_text()
        new = _dump(rewrite_notebook(json.loads(old), path.relative_to(root).as_posix(), repository, ref, branch))
        if new != old:
            changed.append(path)
            if write:
                path.write_text(new)
    config = root / "_config.yml"
    old = config.read_text()
    new = rewrite_config(old, repository, branch)
    if new != old:
        changed.append(config)
        if write:
            config.write_text(new)
    return changed


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", nargs="?", help="OWNER/NAME on GitHub (default with --check: _config.yml's)")
    parser.add_argument("--ref", help="tag or commit the set-up cells install (default: v<version in pyproject.toml>)")
    parser.add_argument("--branch", help="branch the badges open (default: _config.yml's repository.branch)")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if a file differs")
    args = parser.parse_args(argv)
    repository, branch = configured(root)
    if args.repository is None and not args.check:
        parser.error("name the repository, OWNER/NAME, or pass --check")
    repository = args.repository or repository
    branch = args.branch or branch
    ref = args.ref or (pinned_ref(root) if args.check else None) or default_ref(root)
    try:
        changed = apply(root, repository, ref, branch, write=not args.check)
    except ValueError as error:
        parser.error(str(error))
    for path in changed:
        print(f"{'differs' if args.check else 'rewrote'}: {path.relative_to(root)}")
    if args.check and changed:
        print(f"run: python tools/set_repository.py {repository} --ref {ref} --branch {branch}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
