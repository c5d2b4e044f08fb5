"""The published edition: `tools/build_book.py` builds the series as HTML, checked here.

`make test` runs the notebooks once, under nbval, which leaves their executed copies in
build/executed; it then builds the book from those copies (nothing is executed twice) and runs
this module on it (GAN_UTILS_BOOK_DIR). Run alone, the module builds the book itself: from the
copies in GAN_UTILS_BOOK_FROM, or else executing every notebook in quick mode (a few minutes).
The HTML checks read the files; the tests marked ``browser`` open the pages in headless
Chromium through Playwright (tests/test_jupyterlab.py opens what ``make lab`` serves). They need Debian's
``chromium`` at /usr/bin/chromium (``.ci/run`` installs it) and are skipped, saying so, without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import book_browser  # noqa: E402  (tools/: Chromium and the quiet local server, shared with book_screenshots.py)

NOTEBOOKS = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The built book's folder: ``html/`` (the pages) and ``cache/`` (the executed notebooks).

    GAN_UTILS_BOOK_DIR names an already built one (``build/book-ci`` after ``make test``,
    ``build/book-quick`` after ``GAN_UTILS_QUICK=1 make book``, or ``build/book``) to check it
    without building again; GAN_UTILS_BOOK_FROM a folder of executed copies to build it from.
    """
    if os.environ.get("GAN_UTILS_BOOK_DIR"):
        return Path(os.environ["GAN_UTILS_BOOK_DIR"]).resolve()
    out = tmp_path_factory.mktemp("book")
    executed = ["--executed", os.environ["GAN_UTILS_BOOK_FROM"]] if os.environ.get("GAN_UTILS_BOOK_FROM") else []
    completed = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), "--out", str(out), *executed],
                               cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    return out


class Page(HTMLParser):
    """The parts of a built page the checks need: images, links, scripts and text."""

    def __init__(self, path: Path):
        super().__init__()
        self.images, self.links, self.scripts, self.stylesheets, self.classes = [], {}, [], [], []
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.feed(self.text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.classes.extend((attrs.get("class") or "").split())
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "a" and attrs.get("href"):
            for name in (attrs.get("class") or "").split():
                self.links.setdefault(name, []).append(attrs["href"])
            self.links.setdefault("*", []).append(attrs["href"])
        elif tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "link" and attrs.get("rel") == "stylesheet":
            self.stylesheets.append(attrs.get("href", ""))


def page(book: Path, name: str) -> Page:
    path = book / "html" / ("intro.html" if name == "intro" else f"notebooks/{name}.html")
    assert path.exists(), f"no page for {name}: {path}"
    return Page(path)


def executed(book: Path, name: str) -> dict:
    """The executed notebook: the executed copy the book was built from, or the newest record of
    Jupyter Book's execution cache when the book executed it."""
    staged = json.loads((book / "src" / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    if "nbval_record" in staged.get("metadata", {}):
        return staged
    from jupyter_cache import get_cache

    cache = get_cache(str(book / "cache"))
    records = [r for r in cache.list_cache_records() if Path(r.uri).name == f"{name}.ipynb"]
    assert records, f"{name} is not in the execution cache"
    newest = max(records, key=lambda record: record.created)
    return cache.get_cache_bundle(newest.pk).nb


def test_the_book_refuses_an_executed_copy_that_failed_or_is_stale(tmp_path):
    import build_book

    source = ROOT / "notebooks" / f"{NOTEBOOKS[0]}.ipynb"
    notebook = json.loads(source.read_text(encoding="utf-8"))
    good = {"failed": False, "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    for record, message in [({**good, "failed": True}, "a cell failed"), ({**good, "source_sha256": "0" * 64},
                                                                          "another version"), (good, None)]:
        notebook["metadata"]["nbval_record"] = record
        (tmp_path / source.name).write_text(json.dumps(notebook), encoding="utf-8")
        if message is None:
            assert build_book.executed_copy(source, tmp_path)
        else:
            with pytest.raises(SystemExit, match=message):
                build_book.executed_copy(source, tmp_path)


def test_every_notebook_has_its_page(book):
    assert NOTEBOOKS, "no notebooks found"
    for name in ["intro", *NOTEBOOKS]:
        assert page(book, name).images or name == "intro", name


def test_every_picture_the_notebook_made_is_on_its_page(book):
    for name in NOTEBOOKS:
        notebook = executed(book, name)
        pictures = sum(1 for cell in notebook["cells"] for output in cell.get("outputs", [])
                       if "image/png" in output.get("data", {}))
        html = page(book, name)
        on_page = [src for src in html.images if "_images/" in src]
        assert len(on_page) >= pictures > 0 or (pictures == 0 and name.startswith("00")), (name, pictures, on_page)
        for src in html.images:
            assert not src.startswith(("http:", "https:", "//")), f"{name} loads an image from the network: {src}"
            assert (html.path.parent / src).resolve().exists(), f"{name}: missing image {src}"


def test_no_cell_output_is_an_error(book):
    for name in NOTEBOOKS:
        notebook = executed(book, name)
        errors = [output for cell in notebook["cells"] for output in cell.get("outputs", [])
                  if output.get("output_type") == "error"]
        assert not errors, (name, errors[:1])
        html = page(book, name)
        assert "Traceback (most recent call last)" not in html.text, name
        assert "traceback" not in {c.lower() for c in html.classes}, name


def test_pages_link_in_order(book):
    order = ["intro", *NOTEBOOKS]
    for before, after in zip(order, order[1:]):
        next_links = page(book, before).links.get("right-next", [])
        assert next_links and Path(next_links[0]).stem == after, (before, next_links)
        previous = page(book, after).links.get("left-prev", [])
        assert previous and Path(previous[0]).stem == before, (after, previous)


def test_each_notebook_page_opens_in_colab_and_has_math(book):
    for name in NOTEBOOKS:
        html = page(book, name)
        colab = [href for href in html.links["*"] if href.startswith("https://colab.research.google.com/github/")]
        assert any(href.endswith(f"/notebooks/{name}.ipynb") for href in colab), (name, colab)
        assert any("mathjax/tex-chtml.js" in src and not src.startswith("http") for src in html.scripts), name
    assert (book / "html" / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert page(book, "01_density_estimation").text.count("math notranslate") > 10


def test_the_sliders_page_says_they_need_a_live_kernel(book):
    html = page(book, "01_density_estimation")
    assert "widget-view+json" in html.text, "notebook 1's sliders are no longer in its page"
    assert "sliders above cannot move" in html.text


def test_the_book_loads_nothing_from_the_network(book):
    """Every script, stylesheet and image comes from the book itself, so it reads offline too."""
    for name in ["intro", *NOTEBOOKS]:
        html = page(book, name)
        for src in html.scripts + html.stylesheets + html.images:
            assert not re.match(r"^(https?:)?//", src), f"{name} loads {src}"


def test_the_landing_page_comes_from_the_readme_and_search_works(book):
    html = page(book, "intro")
    readme_title = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    assert readme_title in html.text
    for name in NOTEBOOKS:
        assert any(Path(href).stem == name for href in html.links["*"]), f"the landing page does not link {name}"
    assert (book / "html" / "search.html").exists()
    index = (book / "html" / "searchindex.js").read_text(encoding="utf-8")
    for word in ("discrimin", "mnist", "collaps"):
        assert word in index.lower(), word


# ---------------------------------------------------------------------------------------------
# In a real browser


@pytest.fixture(scope="module")
def served_book(book):
    with book_browser.serve(book / "html") as base:
        yield base


def open_page(browser, url: str):
    """A new page at ``url`` and the console errors and failed requests it records."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.goto(url, wait_until="networkidle")
    return page, problems


@pytest.mark.browser
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_pages_render_figures_and_math_in_chromium(browser, served_book, name):
    page, problems = open_page(browser, f"{served_book}/notebooks/{name}.html")
    page.wait_for_function("() => !window.MathJax || !window.MathJax.startup || window.MathJax.startup.promise")
    page.evaluate("() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null")
    images = page.evaluate("() => Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert not broken, f"{name}: images that did not load: {broken}"
    if name != NOTEBOOKS[0]:
        assert page.locator("mjx-container").count() > 0, f"{name}: no math rendered by MathJax"
    assert not problems, f"{name}: {problems}"
    page.close()
