"""What the browser tests and the screenshot tool share: Debian's Chromium and a quiet local server.

    with serve(Path("build/book/html")) as base:      # "http://127.0.0.1:<port>"
        with launch_chromium() as browser:           # a Playwright Browser
            browser.new_page().goto(f"{base}/index.html")
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from pathlib import Path

# Debian's package (apt-get install chromium); Playwright's own browser download fails offline.
CHROMIUM = Path(os.environ.get("GAN_UTILS_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium tries Google's hosts many times a second,
# which a closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MISSING_CHROMIUM = (f"no Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install chromium), "
                    "or set GAN_UTILS_CHROMIUM to a Chromium binary")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without printing a line per request."""

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on a free local port while the block runs; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def launch_chromium():
    """Headless Debian Chromium through Playwright while the block runs; yields the Browser.

    Raises FileNotFoundError naming the fix when the binary is missing."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(MISSING_CHROMIUM)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
