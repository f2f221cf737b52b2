"""A chapter's set-up cell, run as on a fresh Colab runtime, offline.

The kernel runs in a throwaway virtual environment that sees the main environment's
packages but not ``condense_lib``; ``google.colab`` is faked at kernel start; git
reads the GitHub URL of the set-up cell as a local repository holding this checkout's
package at the chapter's tag. pip installs from there with no index (``--no-deps``,
no build isolation: setuptools comes from the main environment).
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import ROOT

import condense_lib.notebook as notebook

CHAPTER = ROOT / "book" / "closed_form.ipynb"
FAKE_COLAB = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')"
CHECK = """\
import json
Z = cl.build_Z(np.ones((4, 1, 5, 5)), np.arange(4.0), 3)
print(json.dumps({"file": cl.__file__, "ref": cl.notebook.installed_ref(), "device": cl.resolve_device().type, "Z": list(Z.shape)}))"""


def setup_cell():
    """The chapter's set-up cell (cell 1), as committed; the repository and ref it installs."""
    source = "".join(json.loads(CHAPTER.read_text())["cells"][1]["source"])
    spec = next(line for line in source.splitlines() if "%pip install" in line)
    url, ref = spec.split("git+", 1)[1].rstrip('"').rsplit("@", 1)
    return source, url, ref


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
                   cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """A git repository with this checkout's package, tagged with the ref the chapter installs."""
    repo = tmp_path_factory.mktemp("origin")
    shutil.copytree(ROOT / "condense_lib", repo / "condense_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, repo / name)
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "package", cwd=repo)
    git("tag", setup_cell()[2], cwd=repo)
    return repo


def runtime(tmp_path, repo):
    """A kernel manager for a fresh 'Colab runtime' whose GitHub URL leads to ``repo``."""
    pytest.importorskip("ipykernel")
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The main environment's packages, but not its .pth files: no editable condense_lib.
    main_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "main_env.pth").write_text("\n".join(sorted(main_site)) + "\n")
    kernels = tmp_path / "kernels"
    (kernels / "colab").mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}", f"--IPKernelApp.exec_lines={[FAKE_COLAB]!r}"]
    (kernels / "colab" / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "colab", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PIP_")}
    env.update({
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{repo.as_uri()}.insteadOf",
        "GIT_CONFIG_VALUE_0": setup_cell()[1],
        "PIP_NO_INDEX": "1", "PIP_NO_DEPS": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip reads this one inverted: "0" turns build isolation off
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "MPLBACKEND": "Agg", "CONDENSE_PROGRESS": "0",
    })
    km = KernelManager(kernel_name="colab", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    return km, env, site


def execute(km, env, cwd, *sources):
    """Run ``sources`` as code cells in a new kernel; the executed notebook."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = nbclient.NotebookClient(nb, km=km, timeout=120, allow_errors=True,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)
    return nb


def text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def error(cell):
    return next((f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"), None)


def test_setup_cell_installs_the_tagged_package_once(tmp_path, origin):
    source, url, ref = setup_cell()
    km, env, site = runtime(tmp_path, origin)
    work = tmp_path / "content"  # a working directory outside the repository, as Colab's /content
    work.mkdir()
    first = execute(km, env, work, source, CHECK)
    assert error(first.cells[0]) is None and error(first.cells[1]) is None, (text(first.cells[0]), first.cells)
    assert "Successfully installed condense_lib" in text(first.cells[0])  # %pip's output shows
    found = json.loads(text(first.cells[1]).strip().splitlines()[-1])
    assert Path(found["file"]).is_relative_to(site) and found["ref"] == ref
    assert found["device"] == "cpu" and found["Z"] == [9, 10]
    again = execute(km, env, work, source, CHECK)  # a second session on the same runtime
    assert error(again.cells[0]) is None and "pip" not in text(again.cells[0]).lower()
    assert json.loads(text(again.cells[1]).strip().splitlines()[-1]) == found


def test_failed_install_says_what_to_do(tmp_path):
    source, url, ref = setup_cell()
    empty = tmp_path / "empty"
    empty.mkdir()
    git("init", "-q", cwd=empty)  # reachable, but without the tag
    km, env, _ = runtime(tmp_path, empty)
    nb = execute(km, env, tmp_path, source)
    message = error(nb.cells[0])
    assert message.startswith("SystemExit: Could not install condense_lib: check that ")
    assert url in message and ref in message and "upload the condense_lib folder" in message


# ------------------------------------------------------------- notebook_setup, unit by unit

@pytest.fixture
def colab(monkeypatch):
    """A fake Colab: records the pip installs instead of running them."""
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    calls = []
    monkeypatch.setattr(notebook, "_pip_install", calls.append)
    return calls


def test_setup_elsewhere_installs_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(notebook, "_pip_install", lambda spec: pytest.fail("installed outside Colab"))
    assert notebook.notebook_setup("a/b", "v1") is None


@pytest.mark.parametrize("have", [None, "v1"])
def test_setup_keeps_the_right_or_a_hand_made_install(colab, monkeypatch, have):
    monkeypatch.setattr(notebook, "installed_ref", lambda: have)
    assert notebook.notebook_setup("a/b", "v1") is None and colab == []


def test_setup_replaces_another_ref_and_asks_for_a_restart(colab, monkeypatch):
    refs = iter(["v0", "v1"])  # before and after the install
    monkeypatch.setattr(notebook, "installed_ref", lambda: next(refs))
    with pytest.raises(SystemExit, match=r"condense_lib v1 replaced v0: restart the session"):
        notebook.notebook_setup("a/b", "v1")
    assert colab == ["condense_lib @ git+https://github.com/a/b@v1"]


def test_setup_says_what_to_do_when_the_install_fails(colab, monkeypatch):
    monkeypatch.setattr(notebook, "installed_ref", lambda: "v0")
    with pytest.raises(SystemExit, match=r"^Could not install condense_lib from https://github.com/a/b at v1: .* upload"):
        notebook.notebook_setup("a/b", "v1")


def test_installed_ref_is_none_for_an_editable_install_or_a_checkout():
    # The main environment's condense_lib is an editable install, or this checkout on PYTHONPATH.
    assert notebook.installed_ref() is None


@pytest.mark.parametrize("repository, ref", [("a", "v1"), ("a/b/c", "v1"), ("a/b", ""), ("a/b", "v1 --pre")])
def test_install_spec_refuses_what_pip_would_misread(repository, ref):
    with pytest.raises(ValueError, match="OWNER/NAME|tag or a commit"):
        notebook.install_spec(repository, ref)


def test_setup_on_colab_points_at_the_shipped_results_of_its_release(colab, monkeypatch):
    monkeypatch.setattr(notebook, "installed_ref", lambda: None)
    monkeypatch.setattr(notebook, "results_dir", lambda: None)  # installed from git: no results/ folder
    monkeypatch.delenv("CONDENSE_RESULTS_URL", raising=False)
    notebook.notebook_setup("a/b", "v1")
    assert os.environ.pop("CONDENSE_RESULTS_URL") == "https://raw.githubusercontent.com/a/b/v1/results"
