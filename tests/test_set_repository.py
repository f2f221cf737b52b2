"""tools/set_repository.py: badges, set-up cells and _config.yml name one repository."""
import importlib.util
import json
import re
import shutil

import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("set_repository", ROOT / "tools" / "set_repository.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def names(root):
    """Every repository and ref the badges, set-up cells and _config.yml name, read independently."""
    found = {"badge": set(), "setup": set(), "config": set(), "ref": set()}
    for path in sorted((root / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        badge = "".join(nb["cells"][0]["source"]).splitlines()[0]
        found["badge"].update(re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/", badge))
        setup = "".join(nb["cells"][1]["source"])
        found["setup"].update(re.findall(r"git\+https://github\.com/([^/@\"]+/[^/@\"]+)@", setup))
        found["ref"].update(re.findall(r"git\+https://github\.com/[^@\"]+@([^\"]+)\"", setup))
        found["setup"].update(re.findall(r'notebook_setup\("([^"]+)"', setup))
    config = (root / "_config.yml").read_text()
    found["config"].update(re.findall(r"^\s+url:\s*https://github\.com/(\S+)", config, re.M))
    return found


@pytest.fixture
def copy(tmp_path):
    """The book's notebooks, _config.yml and pyproject.toml in a scratch folder."""
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("*.md", "images"))
    for name in ("_config.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_book_names_one_repository_everywhere():
    found = names(ROOT)
    repository = found["config"]
    assert len(repository) == 1, found
    assert found["badge"] == found["setup"] == repository, found
    assert len(found["ref"]) == 1, found
    assert tool.main(["--check"]) == 0, "run tools/set_repository.py OWNER/NAME"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_asks_colab_for_a_gpu_and_shows_an_absolute_badge(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["accelerator"] == "GPU" and "colab" in nb["metadata"]
    assert "".join(nb["cells"][0]["source"]).startswith(f"[![Open In Colab]({tool.BADGE_IMAGE})]")
    setup = nb["cells"][1]
    assert "hide-input" in setup["metadata"]["tags"]
    assert "".join(setup["source"]) == tool.setup_source(tool.configured(ROOT)[0], tool.pinned_ref(ROOT))


def test_one_command_renames_everything(copy, capsys):
    assert tool.main(["someone/fork", "--ref", "0123abc", "--branch", "dev"], root=copy) == 0
    found = names(copy)
    assert found == {"badge": {"someone/fork"}, "setup": {"someone/fork"}, "config": {"someone/fork"}, "ref": {"0123abc"}}
    first = json.loads((copy / "book" / "closed_form.ipynb").read_text())["cells"][0]
    assert "/github/someone/fork/blob/dev/book/closed_form.ipynb)" in first["source"][0]
    assert re.search(r"^  branch: dev$", (copy / "_config.yml").read_text(), re.M)
    assert tool.main(["--check"], root=copy) == 0
    capsys.readouterr()
    assert tool.main(["someone/fork", "--ref", "0123abc", "--branch", "dev"], root=copy) == 0
    assert capsys.readouterr().out == ""  # a second run changes nothing


def test_ref_defaults_to_the_release_tag_of_the_package_version(copy):
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    tool.main(["someone/fork"], root=copy)
    assert names(copy)["ref"] == {f"v{version}"}


def test_check_names_what_differs(copy, capsys):
    tool.main(["someone/fork"], root=copy)
    (copy / "_config.yml").write_text((copy / "_config.yml").read_text().replace("someone/fork", "other/name"))
    assert tool.main(["--check"], root=copy) == 1
    out = capsys.readouterr().out
    assert "differs: book/closed_form.ipynb" in out and "run: python tools/set_repository.py other/name" in out


def test_bad_names_are_refused(copy, capsys):
    for argv in (["not-a-repository"], ["a/b", "--ref", "v1 ; rm"]):
        with pytest.raises(SystemExit):
            tool.main(argv, root=copy)
        err = capsys.readouterr().err
        assert "OWNER/NAME" in err or "ref must be" in err


def test_setup_cell_is_valid_ipython():
    """IPython turns the indented %pip into a call; what is left compiles."""
    transformer = pytest.importorskip("IPython.core.inputtransformer2").TransformerManager()
    code = transformer.transform_cell(tool.setup_source("someone/fork", "v9.9.9"))
    assert "get_ipython().run_line_magic('pip', 'install \"condense_lib @ git+https://github.com/someone/fork@v9.9.9\"')" in code
    compile(code, "<setup cell>", "exec")
