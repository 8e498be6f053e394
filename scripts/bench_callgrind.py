"""Instructions the shell hooks cost per command: deterministic, unlike the timings.

    python scripts/bench_callgrind.py                  # bash, hooks and bare
    python scripts/bench_callgrind.py --shell zsh
    python scripts/bench_callgrind.py --recorder          # cfsession's own two processes

Runs the shell alone (no relay, no recorder) under ``valgrind --tool=callgrind``, types
``echo i`` LOW and then HIGH times (waiting for the prompt each time, as bench_parts.py
does), and prints (Ir(HIGH) - Ir(LOW)) / (HIGH - LOW): the instructions per command with
start-up and exit taken out. ``hooks`` is the shell with cfsession's generated init file,
``bare`` the shell with the same rc files only. ``--recorder`` runs ``cfsession record``
under callgrind instead (the shell it starts runs natively) and prints the same figure
for the recorder and for its bookkeeping child (a fork: callgrind follows it): the
Python side's cost, repeatable to ~2 % (timings move by 10 %). Needs valgrind (apt:
valgrind).
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


def total(out: Path) -> int:
    """The instruction count a callgrind output file ends with."""
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def instructions(argv: list[str], env: dict[str, str], count: int, out: Path) -> int:
    once(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv], env, count)
    return total(out)


def recorder_instructions(shell: str, env: dict[str, str], count: int, outdir: Path) -> list[int]:
    """Instructions of the recorder and of its bookkeeping child (in pid order)."""
    outdir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "cfsession", "record", "-q", "--shell", shell]
    once(["valgrind", "--tool=callgrind", f"--callgrind-out-file={outdir}/%p.out", *argv], env, count)
    return [total(out) for out in sorted(outdir.glob("*.out"), key=lambda p: int(p.stem))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shell", default="bash")
    ap.add_argument("--low", type=int, default=100)
    ap.add_argument("--high", type=int, default=400)
    ap.add_argument("--only", choices=("hooks", "bare"))
    ap.add_argument("--recorder", action="store_true", help="cfsession's recorder and bookkeeping child")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cfcallgrind-"))
    home = hermetic_home(tmp)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CFSESSION_")}
    base.update(HOME=str(home), TERM="xterm", LC_ALL="C.UTF-8")
    base.pop("PROMPT_COMMAND", None)
    if a.recorder:
        base["CFSESSION_HOME"] = str(home / "cf")
        lo = recorder_instructions(a.shell, base, a.low, tmp / "lo")
        hi = recorder_instructions(a.shell, base, a.high, tmp / "hi")
        for name, low, high in zip(("recorder", "bookkeeper"), lo, hi, strict=False):
            print(f"{a.shell} {name}: {(high - low) / (a.high - a.low) / 1000:8.1f} k instructions per command")
        return 0
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
