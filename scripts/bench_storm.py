#!/usr/bin/env python3
"""A flood of secret-shaped output under a resize storm (~50 SIGWINCH/s), both bookkeeping
modes: whether the session comes out whole, and what the storm costs (not a timed test).

    python scripts/bench_storm.py [LINES]     # default 300000 lines, ~28 MB through the PTY

Uses the driver in tests/storm.py (pexpect: the test extra).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _check(cf_home: Path, lines: int) -> dict[str, Any]:
    from cfsession.verify import verify_session
    from tests import pty_harness as h
    from tests import storm

    (path,) = h.sessions(cf_home)
    recs = h.load(path)
    flood = [r for r in recs if r["event_type"] == "terminal_capture" and "flood.py" in (r["command"] or "")]
    return {
        "session_end": recs[-1]["event_type"] == "session_end",
        "output_length_ok": bool(flood) and flood[0]["output_length"] == storm.flood_bytes(lines),
        "resize_records": sum(r["event_type"] == "resize" for r in recs),
        "warnings": [r.get("code") for r in recs if r["event_type"] == "warning"],
        "verify": verify_session(path).status,
    }


def run(lines: int = 300_000) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tests import storm

    out: dict[str, Any] = {"lines": lines, "pty_bytes": storm.flood_bytes(lines)}
    for mode in ("process", "inline"):
        for resize in (True, False):
            with tempfile.TemporaryDirectory(prefix="cfstorm-") as tmp:
                home, cf_home = Path(tmp) / "home", Path(tmp) / "cf"
                home.mkdir()
                every = storm.RESIZE_EVERY_S
                if not resize:
                    storm.RESIZE_EVERY_S = 1e9  # one resize at the start, then none
                try:
                    got = storm.run(home, cf_home, lines, mode)
                finally:
                    storm.RESIZE_EVERY_S = every
                got.update(_check(cf_home, lines))
                got["mib_per_s"] = round(out["pty_bytes"] / (1 << 20) / got["elapsed_s"], 1)
                out[f"{mode}{'_storm' if resize else '_calm'}"] = got
    return out


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000), indent=1))
