"""tests/nbval_record.py: nbval's run leaves an executed copy of each notebook for the book.

Each check runs pytest with nbval in a subprocess on tiny notebooks in a temporary folder, with
its own ini file, so the project's options and conftest do not apply. About 10 s in all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}

SHOWS = [  # one notebook with every kind of output, and a skipped cell
    new_markdown_cell("# Shows"),
    new_code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt"),
    new_code_cell("print('before the figure')\nfig, ax = plt.subplots(figsize=(1, 1))\nax.plot([0, 1])\n"
                  "plt.show()\nprint('after the figure')"),
    new_code_cell("# NBVAL_SKIP\nprint('never printed')"),
    new_code_cell("import sys\nfor i in range(3):\n    sys.stdout.write('\\b' * 5 + f'\\r{i}/2'); sys.stdout.flush()\n"
                  "print()\n6 * 7"),
]
FAILS = [  # one whose second cell raises
    new_code_cell("print('first')"),
    new_code_cell("print('partial')\n1 / 0"),
    new_code_cell("print('after the error')"),
]


def write_notebook(path: Path, cells) -> None:
    nbformat.write(new_notebook(cells=cells, metadata=KERNELSPEC), path)


def run_pytest(folder: Path, *args: str, executed: Path | None = None) -> subprocess.CompletedProcess:
    (folder / "pytest.ini").write_text("[pytest]\n")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PYTEST_") and key != "GAN_UTILS_EXECUTED_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if executed is not None:
        env["GAN_UTILS_EXECUTED_DIR"] = str(executed)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(folder / "pytest.ini"), "--rootdir", str(folder),
         "-p", "no:cacheprovider", "-p", "tests.nbval_record", "--nbval-lax", "--nbval-current-env", "-q", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Both notebooks run as CI runs them (two workers, loadscope); the folder of executed copies."""
    folder = tmp_path_factory.mktemp("nbval_record")
    write_notebook(folder / "shows.ipynb", SHOWS)
    write_notebook(folder / "fails.ipynb", FAILS)
    executed = folder / "executed"
    completed = run_pytest(folder, "-n", "2", "--dist", "loadscope", "shows.ipynb", "fails.ipynb",
                           executed=executed)
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "1 failed, 5 passed, 1 skipped" in completed.stdout, completed.stdout[-3000:]
    return executed


def test_one_valid_copy_per_notebook_and_no_temporary_file_left(recorded):
    assert sorted(path.name for path in recorded.iterdir()) == ["fails.ipynb", "shows.ipynb"]
    for path in recorded.iterdir():
        nbformat.validate(nbformat.read(path, as_version=4))


def test_outputs_in_the_order_they_came_with_the_figure_and_counts(recorded):
    nb = nbformat.read(recorded / "shows.ipynb", as_version=4)
    assert nb.metadata["nbval_record"]["failed"] is False
    assert nb.metadata["nbval_record"]["skipped_cells"] == [2]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == "# Shows"
    imports, figure, skipped, result = code_cells(nb)
    assert (imports.execution_count, imports.outputs) == (1, [])
    assert figure.execution_count == 2
    assert [output.output_type for output in figure.outputs] == ["stream", "display_data", "stream"]
    assert figure.outputs[0].text == "before the figure\n" and figure.outputs[2].text == "after the figure\n"
    assert figure.outputs[1].data["image/png"].startswith("iVBOR")  # base64 PNG
    assert (skipped.execution_count, skipped.outputs) == (None, [])
    assert result.execution_count == 3
    progress, value = result.outputs
    assert progress.text == "2/2\n"  # backspaces and carriage returns applied, as JupyterLab shows it
    assert value.output_type == "execute_result" and value.data["text/plain"] == "42"
    assert value.execution_count == 3


def test_a_failing_notebook_is_written_and_marked_failed(recorded):
    nb = nbformat.read(recorded / "fails.ipynb", as_version=4)
    record = nb.metadata["nbval_record"]
    assert record["failed"] is True and record["failed_cells"] == [1] and record["not_run_cells"] == []
    first, raises, after = code_cells(nb)
    assert [output.output_type for output in raises.outputs] == ["stream", "error"]
    assert raises.outputs[1].ename == "ZeroDivisionError"
    assert after.execution_count == 3 and after.outputs[0].text == "after the error\n"


def test_a_partial_run_is_marked_failed_and_nothing_is_written_without_the_variable(tmp_path):
    write_notebook(tmp_path / "fails.ipynb", FAILS)
    completed = run_pytest(tmp_path, "fails.ipynb::Cell 0", executed=tmp_path / "executed")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    nb = nbformat.read(tmp_path / "executed" / "fails.ipynb", as_version=4)
    assert nb.metadata["nbval_record"]["failed"] is True
    assert nb.metadata["nbval_record"]["not_run_cells"] == [1, 2]
    assert [cell.execution_count for cell in code_cells(nb)] == [1, None, None]

    (tmp_path / "executed" / "fails.ipynb").unlink()
    completed = run_pytest(tmp_path, "fails.ipynb::Cell 0")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert not list((tmp_path / "executed").iterdir())
