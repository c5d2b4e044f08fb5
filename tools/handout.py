"""Write a student edition (no solutions) and an instructor edition of each notebook.

A solution cell carries the cell tag ``solution`` (``cell.metadata.tags``; in JupyterLab: the
gear icon, "Cell Tags", "Add Tag"). From each source notebook this writes::

    <out>/student/<name>.ipynb      every cell tagged solution removed, outputs cleared
    <out>/instructor/<name>.ipynb   every cell kept, outputs cleared, solution cells shown

"Shown" means ``metadata.jupyter.source_hidden`` (JupyterLab's collapsed input) and
``metadata.cellView`` (Colab's form view, which hides the code under a ``#@title``) are
removed from the solution cells; the tag stays. Run it from the repository::

    python tools/handout.py                         # every notebooks/NN_*.ipynb to build/handouts
    python tools/handout.py --out /tmp/h notebooks/02_vanilla_gan_digit2.ipynb

It prints one line per notebook with how many solution cells the student edition lost. Before
writing anything it checks that visibly marked solutions are tagged: a code cell whose first line
starts with ``#@title Solution``, and the first code cell after a markdown heading
``### Solution`` (any level), must carry the tag. If one does not, it names the cells and exits
with code 2, since the student edition would otherwise hand out the answers. It also warns
(without failing) about kept cells that use names only solution cells define, and untagged
markdown cells amid a run of solution cells.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
TAG = "solution"
TITLE_RE = re.compile(r"#\s*@title\s+Solution", re.IGNORECASE)
HEADING_RE = re.compile(r"^ {0,3}#{1,6}\s+Solutions?\b", re.IGNORECASE | re.MULTILINE)


def is_solution(cell) -> bool:
    """Whether ``cell`` carries the ``solution`` tag."""
    return TAG in cell.get("metadata", {}).get("tags", [])


def _describe(index: int, cell) -> str:
    """'cell 12 (id abc): first line' for messages."""
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    cell_id = f" (id {cell['id']})" if cell.get("id") else ""
    return f"cell {index}{cell_id}: {first[:70]!r}"


def untagged_solutions(nb) -> list[str]:
    """Descriptions of the cells that are marked as solutions but not tagged ``solution``.

    Marked means: a code cell whose first line starts with ``#@title Solution``, or the first
    code cell after a markdown cell with a ``Solution`` heading.
    """
    problems = []
    after_heading = False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and re.search(r"^ {0,3}#", cell.source, re.MULTILINE):
            after_heading = HEADING_RE.search(cell.source) is not None  # another heading ends it
        elif cell.cell_type == "code":
            lines = cell.source.lstrip().splitlines()
            titled = bool(lines) and TITLE_RE.match(lines[0]) is not None
            if (titled or after_heading) and not is_solution(cell):
                problems.append(_describe(index, cell))
            after_heading = False
    return problems


def stranded_cells(nb) -> list[str]:
    """Warnings for cells the student edition keeps that depend on, or explain, a removed solution.

    Two kinds: a kept code cell that reads a name assigned only in solution cells (it would
    raise NameError in the student edition), and an untagged markdown cell between two solution
    cells with no other code cell between them (it usually discusses the solution).
    """
    def names(source: str, kind) -> set[str]:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics and the like: skip the cell
            return set()
        found = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, kind)}
        if kind is ast.Store:
            found |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            found |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
            found |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                      if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        return found

    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    kept_defined = set().union(*(names(c.source, ast.Store) for _, c in code if not is_solution(c)))
    solution_only = set().union(*(names(c.source, ast.Store) for _, c in code if is_solution(c))) - kept_defined
    warnings = []
    for index, cell in code:
        missing = sorted(names(cell.source, ast.Load) & solution_only) if not is_solution(cell) else []
        if missing:
            warnings.append(f"{_describe(index, cell)} uses {', '.join(missing)}, defined only in solution "
                            "cells: tag it 'solution' too, or make it work without them")
    tagged = [i for i, c in enumerate(nb.cells) if is_solution(c)]
    for first, last in zip(tagged, tagged[1:]):
        between = range(first + 1, last)
        if any(nb.cells[index].cell_type == "code" for index in between):
            continue  # two separate solutions, with the lesson in between
        for index in between:
            if nb.cells[index].cell_type == "markdown":
                warnings.append(f"{_describe(index, nb.cells[index])} sits between solution cells and stays "
                                "in the student edition: tag it 'solution' if it discusses the answer")
    return warnings


def _clear_outputs(nb):
    """``nb`` with every code cell's outputs and execution count cleared (in place)."""
    nb, _ = ClearOutputPreprocessor().preprocess(nb, {})
    return nb


def student_edition(nb):
    """A copy of ``nb`` without the cells tagged ``solution``, outputs cleared."""
    student = copy.deepcopy(nb)
    student, _ = TagRemovePreprocessor(remove_cell_tags={TAG}).preprocess(student, {})
    return _clear_outputs(student)


def instructor_edition(nb):
    """A copy of ``nb`` with every cell, outputs cleared, solution cells' code shown."""
    instructor = _clear_outputs(copy.deepcopy(nb))
    for cell in instructor.cells:
        if not is_solution(cell):
            continue
        jupyter = cell.metadata.get("jupyter", {})
        jupyter.pop("source_hidden", None)
        if "jupyter" in cell.metadata and not jupyter:
            del cell.metadata["jupyter"]
        cell.metadata.pop("cellView", None)
    return instructor


def write_handouts(path: Path, out: Path) -> int:
    """Write both editions of the notebook at ``path`` under ``out``; return the cells removed."""
    nb = nbformat.read(path, as_version=4)
    student, instructor = student_edition(nb), instructor_edition(nb)
    for edition, notebook in (("student", student), ("instructor", instructor)):
        target = out / edition / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(notebook)
        nbformat.write(notebook, target)
    return len(nb.cells) - len(student.cells)


def main(argv: list[str] | None = None) -> int:
    """Check every notebook, then write its two editions; exit 2 if a solution is untagged."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK",
                        help="source notebooks (default: every notebooks/[0-9][0-9]_*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "handouts",
                        help="output folder; editions go to OUT/student and OUT/instructor")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"error: no notebooks given and none found in {ROOT / 'notebooks'}.", file=sys.stderr)
        return 2
    problems = []
    for path in paths:
        if not path.is_file():
            print(f"error: {path} does not exist.", file=sys.stderr)
            return 2
        problems += [f"  {path}: {p}" for p in untagged_solutions(nbformat.read(path, as_version=4))]
    if problems:
        print("error: these cells are marked as solutions but not tagged 'solution', so the student\n"
              "edition would keep them:\n" + "\n".join(problems) + "\n"
              "Fix: add the tag 'solution' to each (JupyterLab: gear icon > Cell Tags > Add Tag; or add\n"
              '"tags": ["solution"] to the cell\'s "metadata" in the .ipynb). Nothing was written.',
              file=sys.stderr)
        return 2
    for path in paths:
        for warning in stranded_cells(nbformat.read(path, as_version=4)):
            print(f"warning: {path}: {warning}", file=sys.stderr)
        removed = write_handouts(path, args.out)
        print(f"{path.name}: {removed} solution cell{'s' if removed != 1 else ''} removed "
              f"-> {args.out / 'student' / path.name}, {args.out / 'instructor' / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
