"""Debian's chromium driven by Playwright: never a downloaded browser, never the network.

``launch`` gives a fresh profile per call (we may run as root: --no-sandbox) with every
background service off, and collects console messages, page errors and dialogs so a test
can assert there were none.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass
class Seen:
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    errors: list[str] = field(default_factory=list)  # uncaught exceptions
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt messages
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    @property
    def problems(self) -> list[str]:
        return [f"console.{t}: {x}" for t, x in self.console if t in ("error", "warning")] + self.errors


@contextmanager
def launch(sync_api: Any) -> Iterator[tuple[Any, Seen]]:
    """A new page in a fresh chromium profile, and what it reported."""
    profile = tempfile.mkdtemp(prefix="cfs-chromium-")
    try:
        with sync_api.sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                viewport={"width": 1400, "height": 900},
            )
            try:
                page = ctx.new_page()
                seen = Seen()
                page.on("console", lambda m: seen.console.append((m.type, m.text)))
                page.on("pageerror", lambda e: seen.errors.append(str(e)))
                page.on("request", lambda r: seen.requests.append(r.url))

                def dialog(d: Any) -> None:
                    seen.dialogs.append(d.message)
                    d.dismiss()

                page.on("dialog", dialog)
                yield page, seen
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
