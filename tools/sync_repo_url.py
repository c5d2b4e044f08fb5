"""Keep every notebook's Colab badge and install cell in step with the repository.

Two things live in one place each, and this script copies them into the notebooks:

- the repository address, ``[project.urls] Repository`` in pyproject.toml. A fork changes it
  there and runs ``python tools/sync_repo_url.py``;
- the package version the notebooks install in Colab: the commit in the setup cell's install
  line, the last commit that changed ``gan_utils/`` or ``pyproject.toml``. Pinning it means a notebook always installs
  the package it was written against, never whatever the default branch holds that day.

After a commit that changes the package, run this script and commit the notebooks it
updates. The notebook meta-test fails until the notebooks agree with both.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_PATHS = ("gan_utils", "pyproject.toml")
BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"]+")
# The setup cell's one install line: `%pip install -q git+<repository>@<commit>`.
INSTALL_RE = re.compile(r"git\+\S+@[0-9a-f]{7,40}")


def repo_url() -> str:
    """The repository address from pyproject.toml, without a trailing slash or ``.git``."""
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("pyproject.toml has no [project.urls] Repository = \"...\" line.")
    return match.group(1).rstrip("/").removesuffix(".git")


def package_commit() -> str:
    """The full hash of the last commit that changed the package (``gan_utils/`` or pyproject).

    Raises SystemExit when this is not a git checkout, or when the package has uncommitted
    changes (a pin must name a commit that holds exactly this package).
    """
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    log = git("log", "-1", "--format=%H", "--", *PACKAGE_PATHS)
    if log.returncode or not log.stdout.strip():
        raise SystemExit(f"cannot read the package's last commit from git: {log.stderr.strip()}")
    if git("diff", "--quiet", "HEAD", "--", *PACKAGE_PATHS).returncode:
        raise SystemExit("gan_utils/ or pyproject.toml has uncommitted changes: commit them first, "
                         "then run this script, so that the notebooks pin a commit that holds them.")
    return log.stdout.strip()


def colab_url(notebook: Path, branch: str = "main") -> str:
    """The "Open in Colab" address of a notebook in this repository."""
    owner_repo = repo_url().split("github.com/", 1)[-1]
    rel = notebook.resolve().relative_to(ROOT).as_posix()
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{rel}"


def install_target(ref: str) -> str:
    """What the setup cell installs in Colab: ``git+<repository>@<commit>``."""
    return f"git+{repo_url()}@{ref}"


def sync(notebook: Path, ref: str) -> bool:
    """Rewrite the badge and the install line's repository and commit of one notebook; True if changed."""
    nb = json.loads(notebook.read_text())
    changed = False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        new = BADGE_RE.sub(colab_url(notebook), source)
        new = INSTALL_RE.sub(install_target(ref), new)
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    if changed:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


if __name__ == "__main__":
    pin = package_commit()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        print(("updated " if sync(path, pin) else "ok      ") + path.name)
    print(f"notebooks install gan_utils at {pin}")
    sys.exit(0)
