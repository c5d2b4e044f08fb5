"""Build the series as a static HTML book with Jupyter Book 1 (Sphinx): ``make book``.

    python tools/build_book.py                    # full size: build/book/html (tens of minutes on a CPU)
    GAN_UTILS_QUICK=1 python tools/build_book.py  # quick mode: build/book-quick/html
    python tools/build_book.py --executed build/executed --out DIR   # from notebooks nbval already ran (CI)

The notebooks are executed by Jupyter Book's cache (jupyter-cache), one cache per mode under
``build/``: a rebuild re-executes only the notebooks whose code changed. Executed copies live
in the cache and the HTML, never in ``notebooks/``, which stays free of outputs. Set
``GAN_UTILS_MNIST`` to a Keras-format ``mnist.npz`` to execute on full MNIST. What the notebooks
write (checkpoints, figures, the judge classifier) goes to ``<out>/outputs``, not the project's
``outputs/``, so that a test run or JupyterLab running the same notebook at the same time cannot
overwrite it.

The sources are staged in ``<out>/src``: the notebooks, the README's images, a landing page
made from the README's opening, and the book's configuration. A few things change on the way,
so that the book needs nothing from the network to display: the Colab badge image of each
notebook is replaced by a local copy (the link is kept), and MathJax is served from the book
(``sphinx-mathjax-offline``) instead of a CDN. Where a page without a live kernel differs from
the notebook (notebook 1's sliders), a note in italics says so (BOOK_NOTES).

The full edition needs full MNIST: it sets ``GAN_UTILS_FULL_MNIST=1``, so that a machine that
cannot get it stops with an error instead of publishing figures of the 5,000-digit sample.

``--executed DIR`` builds from executed copies instead of executing: the notebooks that the
tests' nbval run wrote to DIR (``tests/nbval_record.py``), so that CI executes each notebook
once. A copy is refused when a cell failed or did not run, or when its notebook changed since.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.sync_repo_url import repo_url  # noqa: E402  (the one place the address lives)

TITLE = "GANs, one notebook at a time"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "../_static/colab-badge.svg"  # relative to src/notebooks/
# The README's sections that make the landing page, in this order, after its opening paragraphs.
LANDING_SECTIONS = ("The notebooks", "The two commands", "Colab", "Results", "Sources and further reading")
# Jupyter Book runs every notebook in one kernel each; a full-size notebook takes up to ~15 min
# on a slow day for a 2-core CPU, so the per-cell limit is generous.
TIMEOUT_SECONDS = {"full": 3_600, "quick": 900}


# Appended to the conf.py that `jupyter-book config sphinx` writes from _config.yml. Jupyter
# Book always loads Thebe (live code through Binder, which needs the network); it also put
# Thebe's settings on every page twice, a JavaScript error in the browser. The book is read,
# not run, so Thebe and the comments extension are left out.
CONF_TAIL = """
extensions = [name for name in extensions if name not in ("sphinx_thebe", "sphinx_comments")]
"""


# Notes the book adds after a cell, where a page without a live kernel differs from the notebook.
BOOK_NOTES = {
    ("01_density_estimation", "game-sliders"): (
        "*In this book the sliders above cannot move: they need a live Python kernel. Open the "
        "notebook in Colab (the badge at the top) or in JupyterLab to use them; the four panels "
        "before them show the same quantities at four settings.*"),
}


def book_copy(path: Path, executed: Path | None = None) -> str:
    """A notebook as the book shows it: the local Colab badge, and the notes of BOOK_NOTES.

    With ``executed``, the executed copy in that folder (checked by ``executed_copy``) instead.
    """
    text = executed_copy(path, executed) if executed else path.read_text(encoding="utf-8")
    notebook = json.loads(text.replace(COLAB_BADGE, LOCAL_BADGE))
    for (name, cell_id), note in BOOK_NOTES.items():
        if name != path.stem:
            continue
        index = next((i for i, cell in enumerate(notebook["cells"]) if cell.get("id") == cell_id), None)
        if index is None:
            raise SystemExit(f"{path.name} has no cell {cell_id!r}: update BOOK_NOTES in {__file__}.")
        notebook["cells"].insert(index + 1, {"cell_type": "markdown", "id": f"{cell_id}-book-note", "metadata": {},
                                             "source": [note]})
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def executed_copy(path: Path, folder: Path) -> str:
    """The text of ``path``'s executed copy in ``folder``, after checking that it is complete and current."""
    copy = folder / path.name
    if not copy.is_file():
        raise SystemExit(f"No executed copy of {path.name} in {folder}: run the notebooks under nbval with "
                         f"GAN_UTILS_EXECUTED_DIR={folder} first (make test does).")
    text = copy.read_text(encoding="utf-8")
    record = json.loads(text).get("metadata", {}).get("nbval_record", {})
    if record.get("failed", True):
        raise SystemExit(f"{copy}: a cell failed or did not run ({record or 'no nbval record'}): no book from it.")
    if record.get("source_sha256") != hashlib.sha256(path.read_bytes()).hexdigest():
        raise SystemExit(f"{copy} was executed from another version of {path.name}: run the notebooks again.")
    return text


def quick_mode() -> bool:
    """GAN_UTILS_QUICK as gan_utils reads it (an invalid value stops with gan_utils' error)."""
    from gan_utils import config

    return config.quick_mode()


def notebooks() -> list[Path]:
    """The series' notebooks in order (their names start with the two-digit number)."""
    found = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise SystemExit(f"No notebooks found in {ROOT / 'notebooks'}.")
    return found


def readme_sections(text: str) -> tuple[str, dict[str, str]]:
    """The README's opening (title and first paragraphs) and its ``## `` sections by title."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    opening, sections = parts[0], {}
    for title, body in zip(parts[1::2], parts[2::2]):
        sections[title.strip()] = body
    return opening, sections


def landing_page(readme: str, url: str, branch: str = "main") -> str:
    """The book's first page: the README's opening and chosen sections, links made to work.

    Links to the notebooks and to ``docs/images`` stay relative (they are in the book); any
    other relative link (``benchmarks/README.md``, ``LICENSE``) points to the repository.
    """
    opening, sections = readme_sections(readme)
    missing = [name for name in LANDING_SECTIONS if name not in sections]
    if missing:
        raise SystemExit(f"README.md has no section(s) {missing}: update LANDING_SECTIONS in {__file__}.")
    body = opening.rstrip() + "\n\n" + "".join(f"## {name}{sections[name]}" for name in LANDING_SECTIONS)

    def fix(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:|^#", target) or target.startswith(("notebooks/", "docs/images/")):
            return match.group(0)
        return f"[{text}]({url}/blob/{branch}/{target})"

    return re.sub(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)", fix, body)


def book_config(url: str, cache: Path, mode: str, execute: bool = True) -> str:
    """Jupyter Book's ``_config.yml`` for one mode; ``execute=False`` takes the notebooks' outputs as they are."""
    return f"""\
title: "{TITLE}"
author: The GAN notebook series
copyright: "2026"
only_build_toc_files: true
exclude_patterns: ["_build", "**.ipynb_checkpoints"]
execute:
  execute_notebooks: {"cache" if execute else "off"}
  cache: "{cache}"
  timeout: {TIMEOUT_SECONDS[mode]}
  allow_errors: false
  run_in_temp: false
repository:
  url: {url}
  branch: main
  path_to_book: ""
launch_buttons:
  colab_url: https://colab.research.google.com
  notebook_interface: jupyterlab
html:
  use_repository_button: true
  use_issues_button: false
  use_edit_page_button: false
  home_page_in_navbar: true
sphinx:
  extra_extensions: [sphinx-mathjax-offline]
  config:
    html_show_copyright: false
    html_favicon: _static/favicon.svg
    # A fixed light theme: the figures have white backgrounds, and an empty stored mode
    # otherwise makes the theme log an error on a reader's first visit.
    html_context: {{default_mode: light}}
    # The sliders of notebook 1 need a live kernel; the book shows the static panels beside
    # them and loads no widget JavaScript from a CDN.
    nb_ipywidgets_js: {{}}
    suppress_warnings: ["mystnb.unknown_mime_type"]
"""


def table_of_contents(names: list[str]) -> str:
    """Jupyter Book's ``_toc.yml``: the landing page, then the notebooks in order."""
    chapters = "".join(f"  - file: notebooks/{name}\n" for name in names)
    return f"format: jb-book\nroot: intro\nchapters:\n{chapters}"


def write_if_changed(path: Path, content: str | bytes) -> None:
    """Write only when the content differs, so that Sphinx re-reads only what changed."""
    data = content.encode() if isinstance(content, str) else content
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def stage(src: Path, cache: Path, mode: str, executed: Path | None = None) -> list[str]:
    """Copy the book's sources into ``src``; returns the notebooks' names in order."""
    url = repo_url()
    books = notebooks()
    names = [path.stem for path in books]
    for path in books:
        write_if_changed(src / "notebooks" / path.name, book_copy(path, executed))
    for image in sorted((ROOT / "docs" / "images").glob("*.png")):
        write_if_changed(src / "docs" / "images" / image.name, image.read_bytes())
    for asset in ("colab-badge.svg", "favicon.svg"):
        write_if_changed(src / "_static" / asset, (ROOT / "book" / asset).read_bytes())
    write_if_changed(src / "intro.md", landing_page((ROOT / "README.md").read_text(encoding="utf-8"), url))
    write_if_changed(src / "_config.yml", book_config(url, cache, mode, execute=executed is None))
    write_if_changed(src / "_toc.yml", table_of_contents(names))
    return names


def main(argv: list[str] | None = None) -> int:
    mode = "quick" if quick_mode() else "full"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / ("book-quick" if mode == "quick" else "book"),
                        help="build folder: sources in OUT/src, cache in OUT/cache, HTML in OUT/html")
    parser.add_argument("--executed", type=Path, help="build from the executed copies in this folder, executing nothing")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    src, cache, html = out / "src", out / "cache", out / "html"
    names = stage(src, cache, mode, args.executed.resolve() if args.executed else None)
    data = os.environ.get("GAN_UTILS_MNIST") or "none: Keras's download, else the offline sample"
    print(f"Building the book ({mode} mode, {len(names)} notebooks, GAN_UTILS_MNIST={data}) in {out}", flush=True)
    start = time.perf_counter()
    built = out / "_build" / "html"
    completed = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "config", "sphinx", str(src)],
                               cwd=ROOT, stdout=subprocess.DEVNULL)
    if completed.returncode == 0:
        with open(src / "conf.py", "a", encoding="utf-8") as conf:
            conf.write(CONF_TAIL)
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-d", str(out / "_build" / ".doctrees"),
                   str(src), str(built)]
        # The notebooks' outputs (checkpoints, figures, the judge) go to the build's own folder:
        # a notebook run elsewhere at the same time (the tests, JupyterLab) must not share them.
        env = {**os.environ, "GAN_UTILS_OUTPUT": os.environ.get("GAN_UTILS_OUTPUT") or str(out / "outputs")}
        if mode == "full" and not args.executed and env.get("GAN_UTILS_MNIST", "").lower() != "sample":
            env["GAN_UTILS_FULL_MNIST"] = "1"  # the full edition shows full MNIST's figures, or fails
        completed = subprocess.run(command, cwd=ROOT, env=env)
    if completed.returncode != 0 or not (built / "index.html").exists():
        print(f"The book build failed (exit code {completed.returncode}); the log above says where.", file=sys.stderr)
        return completed.returncode or 1
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(built, html)
    print(f"Built in {time.perf_counter() - start:.0f} s: open {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
