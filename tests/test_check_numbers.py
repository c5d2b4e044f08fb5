"""tools/check_numbers.py: every number in a notebook's prose must be printed by one of its cells."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "check_numbers.py"
sys.path.insert(0, str(ROOT / "tools"))
from check_numbers import Finding, unprinted_numbers  # noqa: E402  (tools/ is not a package)


def notebook(markdown: str, *printed: str, metadata: dict | None = None, output_type: str = "stream"):
    """A notebook: one markdown cell, then one code cell per ``printed`` text, as that output."""
    cells = [new_markdown_cell(markdown)]
    for text in printed:
        if output_type == "stream":
            output = new_output("stream", name="stdout", text=text)
        else:
            output = new_output(output_type, data={"text/plain": text}, metadata={},
                                **({"execution_count": 1} if output_type == "execute_result" else {}))
        cells.append(new_code_cell("print(...)", outputs=[output], execution_count=1))
    nb = new_notebook(cells=cells, metadata=metadata or {})
    nbformat.validate(nb)
    return nb


def unprinted(markdown: str, *printed: str, **kwargs) -> list[str]:
    """The number texts check_numbers reports for ``markdown`` with these outputs."""
    return [finding.number for finding in unprinted_numbers(notebook(markdown, *printed, **kwargs))]


def test_a_printed_number_passes():
    assert unprinted("D's loss settles near 0.69.", "epoch 20  d_loss 0.6931  g_loss 0.7012") == []


def test_an_unprinted_number_is_reported_with_its_cell_and_sentence():
    nb = notebook("Some text.\n\nFID came down to about 24 with neither change.", "FID 13.2")
    assert unprinted_numbers(nb) == [Finding(0, "24", "FID came down to about 24 with neither change.")]


def test_every_output_kind_is_searched_and_only_markdown_is_checked():
    assert unprinted("It scored 0.42.", "0.42", output_type="execute_result") == []
    assert unprinted("It scored 0.42.", "0.42", output_type="display_data") == []
    html = new_output("display_data", data={"text/html": "<table><tr><td>98.4&#37;</td></tr></table>",
                                            "text/plain": "<table>"}, metadata={})
    nb = new_notebook(cells=[new_markdown_cell("Accuracy 98.4%."), new_code_cell("t", outputs=[html])])
    assert unprinted_numbers(nb) == []
    # A number in a code cell's source is not printed by it, and is not prose either.
    nb = new_notebook(cells=[new_markdown_cell("We use 37 bins."), new_code_cell("bins = 37")])
    assert [f.number for f in unprinted_numbers(nb)] == ["37"]


@pytest.mark.parametrize("prose, output, passes", [
    ("0.69", "0.6931", True),  # rounds to 0.69 at the prose's two decimals
    ("0.70", "0.6931", False),  # rounds to 0.69, not 0.70
    ("0.7", "0.6931", True),
    ("0.693", "0.69", False),  # the prose is more precise than the output
    ("12", "11.6", True),
    ("12", "11.4", False),
    ("99%", "99.3%", True),
    ("99.3%", "99.3%", True),
    ("99.4%", "99.3%", False),
    ("4.2x", "speed-up 4.21", True),
    ("−0.69", "-0.6931", True),  # unicode minus in the prose
    ("−0.69", "0.6931", False),
    ("2e-4", "lr 0.0002", True),
    ("2e-4", "lr 3e-04", False),
    ("⅓", "0.333", True),
    ("⅓", "0.3", False),
    ("3/4", "0.75", True),
    ("10k", "9,800 steps", True),
])
def test_rounding_at_the_precision_of_the_prose(prose, output, passes):
    assert unprinted(f"The value is {prose} here.", output) == ([] if passes else [prose])


@pytest.mark.parametrize("prose, output", [
    ("1,200", "1200"), ("1,200", "1,200"), ("1 200", "1200"), ("1200", "1,200"), ("1,200", "[   1 200]"),
    ("1\u2009200", "1200"), ("12,345.5", "12345.51"), ("1,200,000", "1200000.0"),
])
def test_thousands_separators(prose, output):
    assert unprinted(f"It took {prose} steps.", output) == []


def test_thousands_separators_do_not_hide_a_different_number():
    assert unprinted("It took 1,200 steps.", "1,300") == ["1,200"]
    assert unprinted("It took 1 200 steps.", "1 300") == ["1 200"]


@pytest.mark.parametrize("prose, output, passes", [
    ("99.3%", "0.993", True), ("99.3%", "0.9931", True), ("99.3%", "0.995", False),
    ("50%", "0.5", True), ("0.993", "99.3%", True),
])
def test_a_percent_matches_a_fraction(prose, output, passes):
    assert unprinted(f"The share is {prose}.", output) == ([] if passes else [prose])


@pytest.mark.parametrize("markdown", [
    "Inline math $\\log 4 = 1.386$ stays out.",
    "Display math\n$$\nV = -\\log 37\n$$\nstays out.",
    "Math across a line break $a = 37 +\nb$ too.",
    "Inline code `lr = 37` is not prose.",
    "Fenced code:\n\n```python\nsteps = 37\n```\n",
    "A [link](https://example.org/page/37) target.",
    "A bare URL https://example.org/37 too.",
    "<img src='fig37.png' width='370'>",
    "## 37. A numbered section\n\nText.",
    "# Failure 37: a heading label",
    "Goodfellow et al. (2014) and a date, 2026-11-27.",
    "Figure 37, section 5.1.1, Algorithm 37, notebook 37, chapter 17, cell 12, equation (37), Table 37.",
    "See notebooks 3-5, step 37, part 37 and questions 4, 5 and 6.",
    "In Keras 3 and TensorFlow 2.19.",
    "1. First item\n2. Second item\n37. Last item",
    "One of 2 players, or 1 in 0 cases, where D = 1/2.",
    "The judge calls it a 7, or an 8, and the label \"9\".",
])
def test_ignored_numbers(markdown):
    assert unprinted(markdown, "nothing numeric here") == []


def test_ignored_places_do_not_hide_a_number_beside_them():
    markdown = "With $k = 3$, `lr = 37` and Figure 4, training took 37 epochs; see section 5.1.1 (2014)."
    assert unprinted(markdown, "nothing") == ["37"]
    assert unprinted("## 37. Heading\n\nText with 38 in it.", "nothing") == ["38"]
    assert unprinted("Two, 2.0, 2x and 2% are claims.", "nothing") == ["2.0", "2x", "2%"]


def test_the_metadata_allowlist_and_the_global_one():
    assert unprinted("Images of 64 by 48 pixels.", "nothing") == ["64", "48"]
    assert unprinted("Images of 64 by 48 pixels.", "nothing", metadata={"number_check": {"allow": ["64"]}}) == ["48"]
    # MNIST: 28×28 = 784 pixels, 10 digits, 60,000 and 10,000 images, pixel values up to 255.
    assert unprinted("MNIST: 28×28 = 784 pixels, 10 digits, 60,000 training and 10,000 test images, "
                     "values 0 to 255.", "nothing") == []
    assert unprinted("About 10% are sevens.", "nothing") == ["10%"]  # 10 is allowed, 10% is a claim


def test_a_notebook_read_as_plain_json_works_too():
    nb = json.loads(nbformat.writes(notebook("Loss 0.69, FID 24.\nNext line.", "loss 0.6931\n")))
    assert isinstance(nb["cells"][0]["source"], list)  # as stored on disk: a list of lines
    assert [f.number for f in unprinted_numbers(nb)] == ["24"]


def run(*args) -> subprocess.CompletedProcess:
    """The tool's command line, run as a user would."""
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_cli_exit_codes(tmp_path):
    clean, dirty = tmp_path / "clean.ipynb", tmp_path / "dirty.ipynb"
    nbformat.write(notebook("Loss 0.69.", "0.6931"), clean)
    nbformat.write(notebook("Loss 0.69 and FID 24.", "0.6931"), dirty)

    result = run(clean)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("unprinted numbers: 0 in 1 notebooks")

    result = run(clean, dirty)
    assert result.returncode == 1
    assert "cell 0: 24" in result.stdout and "FID 24" in result.stdout
    assert result.stdout.strip().endswith("unprinted numbers: 1 in 2 notebooks")

    assert run(dirty, "--report-only").returncode == 0
    assert run(tmp_path / "missing.ipynb").returncode == 2


def test_cli_searches_folders_and_skips_checkpoints(tmp_path):
    nbformat.write(notebook("Loss 0.69.", "0.6931"), tmp_path / "a.ipynb")
    (tmp_path / "sub" / ".ipynb_checkpoints").mkdir(parents=True)
    nbformat.write(notebook("FID 24.", "nothing"), tmp_path / "sub" / ".ipynb_checkpoints" / "b-checkpoint.ipynb")
    result = run(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "unprinted numbers: 0 in 1 notebooks" in result.stdout
    nbformat.write(notebook("FID 24.", "nothing"), tmp_path / "sub" / "c.ipynb")
    result = run(tmp_path)
    assert result.returncode == 1 and "unprinted numbers: 1 in 2 notebooks" in result.stdout
