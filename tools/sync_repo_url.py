"""Keep every notebook's Colab badge and install cell in step with pyproject.toml.

The repository address lives in one place: ``[project.urls] Repository`` in pyproject.toml.
A fork changes it there and runs ``python tools/sync_repo_url.py``; the notebook meta-test
fails until the notebooks agree with it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]+")
REPO_LINE_RE = re.compile(r'^REPO_URL = "[^"]*"', re.M)


def repo_url() -> str:
    """The repository address from pyproject.toml, without a trailing slash or ``.git``."""
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("pyproject.toml has no [project.urls] Repository = \"...\" line.")
    return match.group(1).rstrip("/").removesuffix(".git")


def colab_url(notebook: Path, branch: str = "main") -> str:
    """The "Open in Colab" address of a notebook in this repository."""
    owner_repo = repo_url().split("github.com/", 1)[-1]
    rel = notebook.resolve().relative_to(ROOT).as_posix()
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{rel}"


def sync(notebook: Path) -> bool:
    """Rewrite the badge and ``REPO_URL = ...`` line of one notebook; True if it changed."""
    nb = json.loads(notebook.read_text())
    changed = False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        new = BADGE_RE.sub(colab_url(notebook), source)
        new = REPO_LINE_RE.sub(f'REPO_URL = "{repo_url()}"', new)
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    if changed:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


if __name__ == "__main__":
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        print(("updated " if sync(path) else "ok      ") + path.name)
    sys.exit(0)
