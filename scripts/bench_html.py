#!/usr/bin/env python3
"""Measure `export --format html` on a big session: writing time and peak RSS, page size, and
load time in Debian's chromium (page load, player ready, seek to the last command).

    scripts/bench_html.py ID [--home DIR] [--budget CHARS]

ID is looked up in $CFSESSION_HOME (or --home). The export runs in a child process so its
peak RSS (ru_maxrss) is its own; the browser part needs playwright (the test extra).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export(sid: str, out: Path, budget: int | None) -> tuple[float, float]:
    code = (
        "import sys; from cfsession import export_html as e\n"
        f"e.OUTPUT_BUDGET = {budget!r} or e.OUTPUT_BUDGET\n"
        "from cfsession._entry import main\n"
        "sys.argv = ['cfsession', 'export', sys.argv[1], '--format', 'html', '-o', sys.argv[2]]\n"
        "sys.exit(main())\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, sid, str(out)], check=True)
    wall = time.perf_counter() - t0
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, rss_mib


def browse(path: Path) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from playwright import sync_api

    from tests.web.browser import launch

    with launch(sync_api) as (page, seen):
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=600_000)
        loaded = time.perf_counter() - t0
        page.wait_for_function("() => window.cfsessionPlayer && cfsessionPlayer.getDuration() > 0",
                               timeout=600_000)
        ready = time.perf_counter() - t0
        t1 = time.perf_counter()
        page.locator("#commands li:last-child button").click()
        page.wait_for_function("(t) => Math.abs(cfsessionPlayer.getCurrentTime() - t) < 0.5",
                               arg=float(page.locator("#commands li:last-child").get_attribute("data-t") or 0),
                               timeout=600_000)
        seek = time.perf_counter() - t1
        if seen.problems:
            print("browser problems:", seen.problems[:3], file=sys.stderr)
        return {"load_s": loaded, "player_ready_s": ready, "seek_last_s": seek}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("id")
    ap.add_argument("--home")
    ap.add_argument("--budget", type=int)
    args = ap.parse_args()
    if args.home:
        os.environ["CFSESSION_HOME"] = args.home
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "page.html"
        wall, rss = export(args.id, out, args.budget)
        size = out.stat().st_size
        print(f"export: {wall:.2f} s, peak RSS {rss:.1f} MiB, page {size / 2**20:.1f} MiB")
        for k, v in browse(out).items():
            print(f"{k}: {v:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
