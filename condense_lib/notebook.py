"""The set-up every chapter runs first (on Colab, the right ``condense_lib``), and what a
notebook session means for the library's progress bars.

A chapter's set-up cell (written by ``tools/set_repository.py``, the one place that
names the repository) installs ``condense_lib`` with ``%pip`` on a fresh Colab runtime,
where it cannot be imported yet, then calls :func:`notebook_setup`. That call handles a
runtime that already holds a *different* install, e.g. after the chapter moved to a
newer release. The device is not the notebook's business: every function that trains takes
``device=None``, the best this machine has (``training.device.resolve_device``;
``CONDENSE_DEVICE=cpu`` keeps a GPU machine on its CPU).

Importing this module registers the progress policy of a notebook (``training.progress``): a
bar in a terminal or a live notebook session, never in a headless build.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .plotting.base import book_style
from .training.progress import set_progress_policy
from .training.shipped import results_dir

__all__ = ["notebook_setup", "live_frontend", "on_colab", "install_spec", "installed_ref", "glue"]

PACKAGE = "condense_lib"
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def on_colab() -> bool:
    """Whether this kernel runs on Google Colab (which imports ``google.colab`` at start)."""
    return "google.colab" in sys.modules


def install_spec(repository: str, ref: str) -> str:
    """The pip requirement for ``condense_lib`` at ``ref`` (a tag or a commit) of a GitHub repository.

    >>> install_spec("condense-book/condense-book", "v0.1.0")
    'condense_lib @ git+https://github.com/condense-book/condense-book@v0.1.0'
    """
    if not _REPOSITORY.fullmatch(repository or ""):
        raise ValueError(f"repository must read OWNER/NAME, as in github.com/OWNER/NAME; got {repository!r}")
    if not ref or not re.fullmatch(r"[A-Za-z0-9_./-]+", ref):
        raise ValueError(f"ref must be a tag or a commit of {repository}, such as 'v0.1.0'; got {ref!r}")
    return f"{PACKAGE} @ git+https://github.com/{repository}@{ref}"


def installed_ref() -> str | None:
    """The git ref pip installed the imported ``condense_lib`` from, or None.

    None when it was not installed from a git URL: an editable install, a wheel, or a
    folder uploaded next to the notebook (which shadows any install)."""
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    module = sys.modules.get(PACKAGE)
    installed = Path(str(dist.locate_file(f"{PACKAGE}/__init__.py"))).resolve()
    if module is not None and Path(module.__file__).resolve() != installed:
        return None  # another copy is the one imported
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    return direct_url.get("vcs_info", {}).get("requested_revision")


def _pip_install(spec: str) -> None:
    """``%pip install spec``, whose output shows in the notebook; plain pip outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = lambda: None  # noqa: E731
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("pip", f'install "{spec}"')
    else:
        subprocess.run([sys.executable, "-m", "pip", "install", spec], check=False)


def notebook_setup(repository: str, ref: str) -> None:
    """Make sure a Colab runtime holds the ``condense_lib`` a chapter was written for.

    On Colab, where the package comes without the shipped results (``results/``), their URL at
    ``ref`` becomes ``CONDENSE_RESULTS_URL`` (``training.shipped``), so that the paper edition of a
    figure is fetched, not trained. On Colab, a ``condense_lib`` that pip installed from another git ref than ``ref`` is
    replaced by ``%pip install`` from ``ref``; since the old one is already imported, the
    call then stops with a one-line request to restart the session. The install is
    skipped when the imported ``condense_lib`` came from ``ref``, or not from git at all
    (an uploaded folder, a wheel). Elsewhere (a local Jupyter, the book build) nothing
    is installed. Everywhere, figures are drawn for the book's column (``plotting.base.STYLE``).

    Parameters
    ----------
    repository : str
        ``OWNER/NAME`` of the GitHub repository the chapter installs from.
    ref : str
        The tag or commit the chapter was written for, such as ``"v0.1.0"``.

    Raises
    ------
    SystemExit
        On Colab, after reinstalling (restart the session) or when the install failed
        (what to do instead); IPython shows its message as one line.
    """
    _figures_for_the_book()
    spec = install_spec(repository, ref)
    if on_colab() and results_dir() is None:  # the package comes without results/: fetch shipped runs
        os.environ.setdefault("CONDENSE_RESULTS_URL", f"https://raw.githubusercontent.com/{repository}/{ref}/results")
    if on_colab():
        have = installed_ref()
        if have is not None and have != ref:
            _pip_install(spec)
            if installed_ref() != ref:
                raise SystemExit(
                    f"Could not install {PACKAGE} from https://github.com/{repository} at {ref}: check that "
                    f"the repository and {ref} exist, or upload the {PACKAGE} folder next to this notebook."
                )
            raise SystemExit(
                f"{PACKAGE} {ref} replaced {have}: restart the session (Runtime > Restart session), then run all cells."
            )


def _figures_for_the_book() -> None:
    """Every figure drawn for the book's column (``plotting.base.book_style``), shown as a PNG
    at twice its pixel size (``retina``: crisp on a high-density screen, same size on the page)."""
    book_style()
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def glue(name: str, value, display: bool = False) -> None:
    """MyST-NB's ``glue``: keep ``value`` under ``name`` for the book's text and captions to quote
    (``{glue:text}`name```). Without MyST-NB (Colab, a plain Jupyter) it does nothing: the value
    is printed by the cell or shown by the figure itself."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # a NumPy or torch scalar: its plain text must read as a number ({glue:text}`x:.2f`)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)


def live_frontend() -> bool:
    """Whether this kernel serves a live notebook that renders ipywidgets: Colab, or a
    Jupyter server session (JupyterLab, Notebook 7, which set ``JPY_SESSION_NAME``).
    False when a notebook is executed headless (``jupyter-book``, ``nbclient``,
    ``papermill``, ``nbval``), whose output must work without a kernel."""
    if "google.colab" not in sys.modules and not os.environ.get("JPY_SESSION_NAME"):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


set_progress_policy(lambda: live_frontend() or sys.stderr.isatty())
