"""What `make lab` serves, opened in headless Chromium through Playwright: JupyterLab lists the
series and opens each notebook. It needs no book, so `make test` runs it beside the notebooks.

Like the book's browser tests it needs Debian's ``chromium`` at /usr/bin/chromium (``.ci/run``
installs it) and is skipped, saying so, without it (the ``browser`` fixture is in conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.browser
def test_jupyterlab_lists_the_series_and_opens_each_notebook_with_a_clean_first_screen(browser, tmp_path):
    """What `make lab` serves: the file browser lists the notebooks, each notebook opens with its
    code, and the set-up cell, run in the browser, prints no TensorFlow start-up noise and nothing
    in red. Every notebook starts with the same set-up cell (test_notebooks_meta checks it), so it
    runs in the first notebook only: each run starts TensorFlow in a new kernel, about 15 s.

    JupyterLab saves what it opens, so it serves a copy of notebooks/ (inside the repository, so
    that gan_utils finds the project's outputs folder as it does under `make lab`)."""
    port, token = _free_port(), "book-test"
    served = ROOT / "build" / f"lab-test-{os.getpid()}"
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(ROOT / "notebooks", served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    lab = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", str(served), "--no-browser",
                            f"--port={port}", f"--IdentityProvider.token={token}", "--allow-root",
                            "--ServerApp.open_browser=False", f"--ServerApp.root_dir={served}"],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/lab?token={token}")
        listing = page.locator(".jp-DirListing-content")
        for name in NOTEBOOKS:
            listing.get_by_text(f"{name}.ipynb", exact=True).wait_for(timeout=60_000)
        for index, name in enumerate(NOTEBOOKS):  # each notebook opens; the first runs the set-up cell
            listing.get_by_text(f"{name}.ipynb", exact=True).dblclick()
            page.locator(".lm-TabBar-tab.lm-mod-current", has_text=f"{name}.ipynb").first.wait_for(timeout=60_000)
            notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
            notebook.locator(".jp-CodeCell").first.wait_for(timeout=60_000)
            assert "gan_utils" in notebook.locator(".jp-CodeCell").first.inner_text(), f"{name}: no set-up cell shown"
            if index:
                continue
            # Run the cell only once this notebook's kernel is up: a request sent while it starts is lost
            page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=300_000)
            first_code = notebook.locator(".jp-CodeCell").first
            first_code.click()
            page.keyboard.press("Shift+Enter")
            # The cell is done when its prompt shows a number instead of [*]
            try:
                first_code.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[\d+\]")).wait_for(timeout=300_000)
            except Exception:
                page.screenshot(path=str(tmp_path / f"{name}.png"))
                raise AssertionError(f"{name}: its set-up cell did not finish; screenshot {tmp_path / name}.png")
            output = first_code.locator(".jp-OutputArea").inner_text()
            for noise in ("absl::InitializeLog", "cuda drivers", "cuInit", "oneDNN custom operations"):
                assert noise not in output, f"{name}: the first screen shows TensorFlow's start-up noise: {output[:500]}"
            stderr = first_code.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count()
            assert stderr == 0, f"{name}: the set-up cell wrote to standard error (a red block): {output[:500]}"
        page.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        shutil.rmtree(served, ignore_errors=True)
