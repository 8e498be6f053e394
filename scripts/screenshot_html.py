#!/usr/bin/env python3
"""Regenerate docs/html-page.png: a real bash session recorded through `cfsession record`
on a PTY, exported with `--format html`, opened in Debian's chromium, one command clicked.

    scripts/screenshot_html.py [OUT.png]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "dev@build:~/shop$ "
COMMANDS = [
    "git log --oneline -3",
    "ls",
    "python3 -c 'import json,sys; print(json.dumps({\"ok\": True, \"items\": 3}))'",
    "grep -n TODO app.py",
    "ls /srv/releases/current",
    "printf '\\033[1;32m✓ 42 passed\\033[0m  \\033[33m1 skipped\\033[0m  in 1.8s\\n'",
    "df -h / | tail -1",
]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "html-page.png"
    with tempfile.TemporaryDirectory() as tmp:
        # A short, stable home so the page shows /tmp/dev/shop, not a random temp name.
        home, cf_home = Path("/tmp/dev"), Path(tmp) / "cf"
        shutil.rmtree(home, ignore_errors=True)
        proj = home / "shop"
        proj.mkdir(parents=True)
        (proj / "app.py").write_text("def total(cart):\n    # TODO: discounts\n    return sum(cart)\n")
        (proj / "README.md").write_text("shop\n")
        subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
        for msg in ("first cut of the cart", "totals", "checkout page"):
            subprocess.run(["git", "-c", "user.name=dev", "-c", "user.email=dev@example.invalid",
                            "commit", "-q", "--allow-empty", "-m", msg], cwd=proj, check=True)
        (home / ".bashrc").write_text(f"PS1='{PROMPT}'\ncd ~/shop\n")
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "xterm-256color",
               "LANG": "C.UTF-8", "CFSESSION_HOME": str(cf_home)}
        child = pexpect.spawn(sys.executable, ["-m", "cfsession", "record", "--shell", "/bin/bash"],
                              env=env, cwd=str(proj), encoding="utf-8", dimensions=(20, 90), timeout=30)
        child.expect_exact(PROMPT)
        for line in COMMANDS:
            child.sendline(line)
            child.expect_exact(PROMPT)
        child.sendline("exit")
        child.expect(pexpect.EOF)
        page = Path(tmp) / "page.html"
        subprocess.run([sys.executable, "-m", "cfsession", "export", "last", "--format", "html",
                        "-o", str(page)], env={**os.environ, **env}, check=True)
        sys.path.insert(0, str(ROOT))
        from playwright import sync_api

        from tests.web.browser import launch

        with launch(sync_api) as (tab, seen):
            tab.set_viewport_size({"width": 1300, "height": 640})
            tab.goto(page.as_uri(), wait_until="load")
            tab.wait_for_function("() => window.cfsessionPlayer && cfsessionPlayer.getDuration() > 0")
            # Played once (so the start overlay is gone), then paused at the `df` command.
            tab.evaluate("cfsessionPlayer.play().then(() => cfsessionPlayer.pause())")
            tab.locator("#commands li").nth(6).locator("button").click()
            tab.wait_for_function("() => document.getElementById('player').innerText.includes('passed')")
            tab.wait_for_function("() => document.querySelectorAll('#commands li')[6].classList.contains('current')")
            tab.screenshot(path=str(out))
            assert not seen.problems, seen.problems
        shutil.rmtree(home, ignore_errors=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
