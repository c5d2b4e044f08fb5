"""tools/handout.py: a student edition without solutions, an instructor edition with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "handout.py"
sys.path.insert(0, str(ROOT / "tools"))
import handout  # noqa: E402  (tools/ is not a package)

HIDDEN = {"cellView": "form", "jupyter": {"source_hidden": True}}


def printed(text: str) -> dict:
    return new_output("stream", name="stdout", text=text)


def source_notebook(tag_solutions: bool = True):
    """A small exercise notebook: its two solution cells (code and markdown) tagged if asked."""
    tags = {"tags": ["solution"]} if tag_solutions else {}
    cells = [
        new_markdown_cell("# 1. Demo\n\nIntro."),
        new_code_cell("x = 1\nprint(x)", outputs=[printed("1\n")], execution_count=1),
        new_markdown_cell("## Exercise\n\nCompute the answer."),
        new_code_cell("# your code here"),
        new_markdown_cell("### Solution"),
        new_code_cell("#@title Solution: the answer\nanswer = 6 * 7\nprint(answer)",
                      outputs=[printed("42\n")], execution_count=2, metadata={**HIDDEN, **tags}),
        new_markdown_cell("The answer is 42.", metadata=dict(tags)),
        new_code_cell("print(x + 1)", outputs=[printed("2\n")], execution_count=3),
    ]
    nb = new_notebook(cells=cells)
    nbformat.validate(nb)
    return nb


def write(nb, folder: Path, name: str = "01_demo.ipynb") -> Path:
    path = folder / name
    nbformat.write(nb, path)
    return path


def run(*args) -> subprocess.CompletedProcess:
    """The tool's command line, run as a user would."""
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """The source notebook and its two editions, written by the command line (once: the tests only read them)."""
    tmp_path = tmp_path_factory.mktemp("editions")
    source = source_notebook()
    out = tmp_path / "handouts"
    result = run("--out", out, write(source, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("01_demo.ipynb: 2 solution cells removed")
    student = nbformat.read(out / "student" / "01_demo.ipynb", as_version=4)
    instructor = nbformat.read(out / "instructor" / "01_demo.ipynb", as_version=4)
    return source, student, instructor


def test_the_student_edition_has_no_solution_cells_and_keeps_the_rest_in_order(editions):
    source, student, _ = editions
    assert not any("solution" in cell.metadata.get("tags", []) for cell in student.cells)
    assert "42" not in "".join(cell.source for cell in student.cells)
    kept = [cell.source for cell in source.cells if "solution" not in cell.metadata.get("tags", [])]
    assert [cell.source for cell in student.cells] == kept
    assert len(student.cells) == len(source.cells) - 2


def test_the_instructor_edition_keeps_every_cell_and_shows_the_solutions(editions):
    source, _, instructor = editions
    assert [cell.source for cell in instructor.cells] == [cell.source for cell in source.cells]
    solution = instructor.cells[5]
    assert solution.metadata.tags == ["solution"]
    assert "jupyter" not in solution.metadata and "cellView" not in solution.metadata


def test_both_editions_have_no_outputs_and_are_valid(editions):
    _, student, instructor = editions
    for nb in (student, instructor):
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def test_the_source_notebook_is_not_changed(tmp_path):
    path = write(source_notebook(), tmp_path)
    before = path.read_text()
    assert run("--out", tmp_path / "out", path).returncode == 0
    assert path.read_text() == before


def test_an_untagged_titled_solution_fails_and_names_the_cell(tmp_path):
    nb = source_notebook(tag_solutions=False)
    nb.cells[5].id = "the-answer"
    out = tmp_path / "out"
    result = run("--out", out, write(nb, tmp_path))
    assert result.returncode == 2
    assert "cell 5 (id the-answer)" in result.stderr and "#@title Solution: the answer" in result.stderr
    assert "Add Tag" in result.stderr  # the message says how to fix it
    assert not out.exists()  # nothing written


def test_an_untagged_cell_after_a_solution_heading_fails(tmp_path):
    nb = source_notebook()
    nb.cells.insert(5, new_code_cell("answer = 42  # no title, no tag"))
    assert handout.untagged_solutions(nb) == ["cell 5 (id {}): 'answer = 42  # no title, no tag'".format(nb.cells[5].id)]
    assert run("--out", tmp_path / "out", write(nb, tmp_path)).returncode == 2


def test_a_kept_cell_that_needs_a_solution_is_warned_about(tmp_path):
    nb = source_notebook()
    nb.cells.append(new_code_cell("assert answer == 42"))
    result = run("--out", tmp_path / "out", write(nb, tmp_path))
    assert result.returncode == 0
    assert "uses answer, defined only in solution cells" in result.stderr
