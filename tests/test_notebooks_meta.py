"""Every notebook is committed clean and follows the series' skeleton."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sync_repo_url  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ must hold at least one notebook"


def _load(path):
    return json.loads(path.read_text())


def _code_cells(nb):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, (
                f"{path.name} has outputs: strip them (nbstripout or Edit > Clear Outputs)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernelspec_is_python3(path):
    assert _load(path)["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_and_install_cell_match_the_repository(path):
    nb = _load(path)
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith("# ")
    assert sync_repo_url.colab_url(path) in first, "run `python tools/sync_repo_url.py`"
    setup = _code_cells(nb)[0]
    assert f'REPO_URL = "{sync_repo_url.repo_url()}"' in setup
    assert '"google.colab" in sys.modules' in setup
    installs = [line for line in setup.splitlines() if "pip" in line and "install" in line]
    assert installs and not any("tensorflow" in line.lower() for line in installs), (
        "the Colab install must not touch Colab's TensorFlow")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_uses_seed_runtime_report_and_quick_mode(path):
    code = "\n".join(_code_cells(_load(path)))
    assert "config.set_seed(" in code and "config.describe_runtime()" in code
    assert "config.pick(" in code, "size every run with config.pick(full=..., quick=...)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ends_with_a_checks_cell(path):
    last = _code_cells(_load(path))[-1]
    assert last.lstrip().startswith("# Checks") and "assert" in last


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_turns_on_inline_figures(path):
    # gan_utils.plotting returns Figure objects; without the inline backend a notebook would
    # show "<Figure size ...>" as text instead of the picture.
    assert any(line.strip() == "%matplotlib inline" for cell in _code_cells(_load(path)) for line in cell.splitlines())
