"""``record -- cat FILE`` on pipes vs on a PTY vs util-linux ``script``, same run, rounds interleaved.

Prints the median wall time and CPU time (user + sys of the recorder, its bookkeeping
child and the command) of each. CPU time is the steadier figure on a busy machine.

    python scripts/bench_pipes.py [--mib 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=100, help="size of the text file cat prints")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cfs-bench-pipes-")
    try:
        data = os.path.join(tmp, "big.txt")
        with open(data, "wb") as f:
            chunk = base64.encodebytes(os.urandom(3 << 18))  # 1 MiB of lines, printable
            for _ in range(args.mib):
                f.write(chunk)
        store = os.path.join(tmp, "store")
        env = {**os.environ, "CFSESSION_HOME": store}
        env.pop("CFSESSION_ID", None)
        cfs = [sys.executable, "-m", "cfsession", "record", "-q"]
        runs = {
            "cat": ["cat", data],
            "pipes": [*cfs, "--no-pty", "--", "cat", data],
            "pty": [*cfs, "--pty", "--", "cat", data],
            "script": ["script", "-qc", f"cat {data}", "/dev/null"],
        }
        if shutil.which("script") is None:
            del runs["script"]
        wall: dict[str, list[float]] = {k: [] for k in runs}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for name, argv in runs.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
                wall[name].append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                shutil.rmtree(store, ignore_errors=True)
        for name in runs:
            print(f"{name:7s} wall {statistics.median(wall[name]):6.2f} s   cpu {statistics.median(cpu[name]):6.2f} s")
        if "pipes" in runs and "pty" in runs:
            print(f"pipes / pty cpu: {statistics.median(cpu['pipes']) / statistics.median(cpu['pty']):.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
