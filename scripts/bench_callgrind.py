"""Instructions the shell hooks cost per command: deterministic, unlike the timings.

    python scripts/bench_callgrind.py                  # bash, hooks and bare
    python scripts/bench_callgrind.py --shell zsh

Runs the shell alone (no relay, no recorder) under ``valgrind --tool=callgrind``, types
``echo i`` LOW and then HIGH times (waiting for the prompt each time, as bench_parts.py
does), and prints (Ir(HIGH) - Ir(LOW)) / (HIGH - LOW): the instructions per command with
start-up and exit taken out. ``hooks`` is the shell with cfsession's generated init file,
``bare`` the shell with the same rc files only. Needs valgrind (apt: valgrind).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench import hermetic_home  # noqa: E402
from bench_parts import hooked, once  # noqa: E402


def instructions(argv: list[str], env: dict[str, str], count: int, out: Path) -> int:
    once(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv], env, count)
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shell", default="bash")
    ap.add_argument("--low", type=int, default=100)
    ap.add_argument("--high", type=int, default=400)
    ap.add_argument("--only", choices=("hooks", "bare"))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cfcallgrind-"))
    home = hermetic_home(tmp)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CFSESSION_")}
    base.update(HOME=str(home), TERM="xterm", LC_ALL="C.UTF-8")
    base.pop("PROMPT_COMMAND", None)
    variants = {"bare": ([a.shell, "-i"], base), "hooks": hooked(a.shell, base)}
    for name, (argv, env) in variants.items():
        if a.only and name != a.only:
            continue
        lo = instructions(argv, env, a.low, tmp / f"{name}.lo")
        hi = instructions(argv, env, a.high, tmp / f"{name}.hi")
        print(f"{a.shell} {name:5s}: {(hi - lo) / (a.high - a.low) / 1000:8.1f} k instructions per command")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
