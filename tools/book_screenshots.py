"""Screenshots of the built book in headless Chromium, for docs/images/ and the README.

    make book                           # the full edition first
    python tools/book_screenshots.py    # writes docs/images/book_*.png

Uses Debian's Chromium (/usr/bin/chromium, or GAN_UTILS_CHROMIUM) through Playwright, with no
browser download. The pages are served from ``build/book/html`` on a local port.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from book_browser import CHROMIUM, MISSING_CHROMIUM, launch_chromium, serve

ROOT = Path(__file__).resolve().parents[1]
# docs/images/<file>: (page, the heading to scroll to, or None for the top of the page)
SHOTS = {
    "book_landing.png": ("index.html", None),
    "book_notebook1.png": ("notebooks/01_density_estimation.html", "The trained D against the optimal D"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html", type=Path, default=ROOT / "build" / "book" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        raise SystemExit(f"No book in {args.html}: run `make book` first.")
    if not CHROMIUM.exists():
        raise SystemExit(MISSING_CHROMIUM)
    with serve(args.html) as base, launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        for file, (path, heading) in SHOTS.items():
            page.goto(f"{base}/{path}", wait_until="networkidle")
            page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
            if heading:
                page.get_by_role("heading", name=heading).first.scroll_into_view_if_needed()
                page.evaluate("() => window.scrollBy(0, -20)")
            page.screenshot(path=str(args.out / file))
            print(f"{args.out / file}: {path}" + (f", at '{heading}'" if heading else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
