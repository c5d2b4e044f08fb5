"""Every notebook is committed clean and follows the series' skeleton."""

import json
import re
import subprocess
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
    assert '"google.colab" in sys.modules' in setup
    installs = [line for line in setup.splitlines() if "pip" in line and "install" in line]
    assert len(installs) == 1 and "tensorflow" not in installs[0].lower(), (
        "one install line, which must not touch Colab's TensorFlow")
    pattern = rf"%pip install -q git\+{re.escape(sync_repo_url.repo_url())}@[0-9a-f]{{40}}"
    assert re.fullmatch(pattern, installs[0].strip()), (
        f"the Colab install must pin a full commit of {sync_repo_url.repo_url()}: run `python tools/sync_repo_url.py`")


def _git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_install_pins_a_commit_holding_this_package(path):
    """The pinned commit's gan_utils/ and pyproject.toml are exactly those of HEAD: no drift."""
    setup = _code_cells(_load(path))[0]
    match = re.search(r"git\+\S+@([0-9a-f]{40})", setup)
    assert match, "the setup cell must install git+<repository>@<full commit hash>: run `python tools/sync_repo_url.py`"
    ref = match.group(1)
    if _git("rev-parse", "--is-inside-work-tree").returncode:
        pytest.skip("not a git checkout: the pin cannot be checked here")
    if _git("cat-file", "-e", f"{ref}^{{commit}}").returncode:
        if _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            pytest.skip("shallow clone: the pinned commit is not in its history")
        pytest.fail(f"{path.name} pins {ref}, which is not a commit of this repository: "
                    "run `python tools/sync_repo_url.py` and commit the notebooks")
    drift = _git("diff", "--stat", ref, "HEAD", "--", *sync_repo_url.PACKAGE_PATHS).stdout
    assert not drift.strip(), (
        f"{path.name} installs gan_utils at {ref[:10]}, but the package changed since:\n{drift}"
        "Run `python tools/sync_repo_url.py` after committing the package, and commit the notebooks.")


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


def _markdown(nb):
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


# Words from how the series was made, which a student cannot look up. "Seed" means a random seed.
MAKING_WORDS = re.compile(r"\bseeds? \d{3}\b|\bseeds \d{3} and \d{3}\b|\bthe lecture\b|\bour run\b|"
                          r"\ban earlier run\b|\bthis session\b|\bthe (?:issues?|series)'?s? targets?\b", re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_uses_no_words_from_how_the_series_was_made(path):
    nb = _load(path)
    text = _markdown(nb) + "\n" + "\n".join(_code_cells(nb))
    assert not re.search(r"\bseeds?\s+\d+", _markdown(nb), re.I), "name sources by author and title, not 'seed NNN'"
    hits = sorted({m.group(0) for m in MAKING_WORDS.finditer(text)})
    assert not hits, f"{path.name} uses {hits}: speak to the student"


def test_readme_uses_no_words_from_how_the_series_was_made():
    hits = sorted({m.group(0) for m in MAKING_WORDS.finditer((ROOT / "README.md").read_text())})
    assert not hits, f"README.md uses {hits}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_has_a_sources_section(path):
    headings = [line.strip() for line in _markdown(_load(path)).splitlines() if line.startswith("#")]
    assert "## Sources and further reading" in headings, f"{path.name} needs a '## Sources and further reading' section"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_cells_are_collapsed_in_jupyterlab_and_colab(path):
    for cell in _load(path)["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.lstrip().lower().startswith("#@title solution"):
            meta = cell.get("metadata", {})
            assert meta.get("jupyter", {}).get("source_hidden") is True, f"{path.name}: {source[:60]!r} is not collapsed in JupyterLab"
            assert meta.get("cellView") == "form", f"{path.name}: {source[:60]!r} is not a Colab form"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_are_marked_as_such(path):
    # A code cell that says it is a solution must be a collapsed '#@title Solution' cell.
    for cell in _load(path)["cells"]:
        first = "".join(cell["source"]).lstrip().splitlines()[:1]
        if cell["cell_type"] == "code" and first and re.match(r"#\s*solution\b", first[0], re.I):
            pytest.fail(f"{path.name}: start solution cells with '#@title Solution: ...' so they collapse")


# A page is one lesson: the core path (notebooks 1-4) and the start page are read in one class period,
# the depth notebooks (5 on) when a question comes up. (cells, words of markdown) at the most.
LIMITS = {0: (40, 1_000), 1: (40, 2_000), 2: (40, 2_000), 3: (40, 2_000), 4: (40, 2_000), 5: (50, 2_500),
          6: (60, 3_000), 7: (60, 3_000)}


def _number(path) -> int:
    return int(path.name[:2])


def test_the_core_path_and_the_depth_are_all_there():
    assert sorted(_number(path) for path in NOTEBOOKS) == sorted(LIMITS), [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stays_within_its_cell_and_word_limits(path):
    nb = _load(path)
    cells, words = len(nb["cells"]), len(_markdown(nb).split())
    max_cells, max_words = LIMITS[_number(path)]
    assert cells <= max_cells and words <= max_words, (
        f"{path.name}: {cells} cells and {words} words of markdown, limits {max_cells} and {max_words}: "
        "move what does not serve the lesson to a depth notebook")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_cells_carry_the_solution_tag(path):
    # `make handout` removes the cells tagged "solution" for the student edition.
    for index, cell in enumerate(_load(path)["cells"]):
        source = "".join(cell["source"]).lstrip()
        if cell["cell_type"] == "code" and source.lower().startswith("#@title solution"):
            assert "solution" in cell.get("metadata", {}).get("tags", []), f"{path.name} cell {index} is not tagged"


def test_the_handouts_build(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "handout.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    # A student edition must run: no kept cell may use a name that only a solution cell defines.
    assert "warning:" not in done.stderr, done.stderr
    for path in NOTEBOOKS:
        student = _load(tmp_path / "student" / path.name)
        assert not any("solution" in c.get("metadata", {}).get("tags", []) for c in student["cells"])
        assert len(_load(tmp_path / "instructor" / path.name)["cells"]) == len(_load(path)["cells"])


def test_every_notebook_starts_with_the_same_set_up_cell():
    """One set-up cell for all: the browser test runs it in JupyterLab once and holds for every notebook."""
    set_ups = {path.name: _code_cells(_load(path))[0] for path in NOTEBOOKS}
    first = set_ups[NOTEBOOKS[0].name]
    differ = sorted(name for name, source in set_ups.items() if source != first)
    assert not differ, f"{differ} start with another set-up cell than {NOTEBOOKS[0].name}: {first!r}"
