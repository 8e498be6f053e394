#!/usr/bin/env python3
"""Peak RSS of reading a recording back: ``export`` in every streamed format and ``replay``.

    python scripts/bench_readback.py                 # a 1 GiB .cast (DESIGN.md: <= 50 MiB)
    python scripts/bench_readback.py --size 64M      # quicker
    python scripts/bench_readback.py --cfsession "env PYTHONPATH=/other/checkout python3 -m cfsession"

A session is written through the real JSONL and cast sinks: ``--commands`` commands
sharing ``--size`` bytes of output, each record holding the recorder's 64 KiB of plain
output. Each operation then runs as its own process under GNU time (``%M``, the peak RSS
of that process alone; without GNU time ``wait4``'s figure, which starts at this script's
size). Also run by ``scripts/bench.py --only export``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MIB = 1 << 20
TARGET_MIB = 50.0
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
FRAME = 32 * 1024  # bytes of output per .cast event


def make_recording(home: Path, size: int, commands: int) -> str:
    """A session with ``size`` bytes of output over ``commands`` commands; returns its id."""
    sys.path.insert(0, str(REPO))
    from cfsession.paths import cast_path, ensure_dir, jsonl_path, sessions_dir
    from cfsession.records import utc_ts
    from cfsession.sinks.cast import CastWriter
    from cfsession.sinks.jsonl import JsonlSink

    sid = str(uuid.uuid4())
    ensure_dir(sessions_dir(home))
    sink = JsonlSink(jsonl_path(sid, home), sid)
    cast = CastWriter(cast_path(sid, home), cols=200, rows=50, timestamp=int(time.time()),
                      title=f"cfsession {sid}", env={"SHELL": "/bin/bash", "TERM": "xterm"})
    t0 = time.time()
    sink.write({"event_type": "session_start", "ts": utc_ts(t0), "schema_version": 1,
                "session_type": "interactive", "name": "readback", "started_at": utc_ts(t0),
                "host": "bench", "user": "u", "pid": 99_999_999, "shell": "/bin/bash",
                "shell_kind": "bash", "cwd": "/tmp", "cols": 200, "rows": 50})
    line = b"".join(b"%07d the quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n" % i
                    for i in range(FRAME // 80 + 1))[:FRAME]
    per_cmd = max(size // commands, FRAME)
    t = 0.0
    for n in range(1, commands + 1):
        start = t
        cast.marker(f"$ cat part{n}", t)
        for _ in range(-(-per_cmd // FRAME)):
            t += 0.001
            cast.output(line, t)
        cast.flush(t)
        sha, nbytes = cast.digest
        plain = line.decode().replace("\r\n", "\n")
        sink.write({"event_type": "terminal_capture", "ts": utc_ts(t0 + t), "command_seq": n,
                    "command": f"cat part{n}", "command_source": "history", "cwd": "/tmp",
                    "exit_code": 0, "started_at": utc_ts(t0 + start), "ended_at": utc_ts(t0 + t),
                    "duration_ms": (t - start) * 1000, "output": (plain * 2)[:64 * 1024],
                    "output_length": per_cmd, "output_truncated": True, "cast_start": start,
                    "cast_end": t, "redactions": 0, "anomalies": [], "cast_sha256": sha,
                    "cast_bytes": nbytes})
    cast.close()
    sha, nbytes = cast.digest
    sink.write({"event_type": "session_end", "ts": utc_ts(t0 + t), "ended_at": utc_ts(t0 + t),
                "duration_ms": t * 1000, "command_count": commands, "failed_count": 0,
                "exit_code": 0, "reason": "exit", "cast_sha256": sha, "cast_bytes": nbytes})
    sink.close()
    return sid


def peak(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv`` (stdout to /dev/null); its peak RSS in MiB, wall seconds, exit code."""
    stats = None
    if GNU_TIME:
        fd, stats = tempfile.mkstemp(suffix=".time")
        os.close(fd)
        argv = [GNU_TIME, "-q", "-f", "%M", "-o", stats, "--", *argv]
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        # cwd: not a checkout, whose cfsession/ `python -m` would put first on sys.path
        proc = subprocess.Popen(argv, env=env, stdout=null, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, for ru_maxrss
    wall = time.perf_counter() - t
    mib = ru.ru_maxrss / 1024.0
    if stats:
        try:
            mib = int(Path(stats).read_text().split()[-1]) / 1024.0
        except (OSError, ValueError, IndexError):
            pass
        Path(stats).unlink(missing_ok=True)
    err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
    return {"peak_mib": round(mib, 1), "wall_s": round(wall, 2), "exit": proc.returncode,
            "stderr": err.strip()}


OPERATIONS = [
    ("export asciicast -o F", ["export", "{sid}", "--format", "asciicast", "-o", "{out}.cast"]),
    ("export asciicast-v3 -o F", ["export", "{sid}", "--format", "asciicast-v3", "-o", "{out}.v3"]),
    ("export text -o F", ["export", "{sid}", "--format", "text", "-o", "{out}.txt"]),
    ("export markdown -o F", ["export", "{sid}", "--format", "markdown", "-o", "{out}.md"]),
    ("export jsonl -o F", ["export", "{sid}", "--format", "jsonl", "-o", "{out}.jsonl"]),
    ("export asciicast > /dev/null", ["export", "{sid}", "--format", "asciicast"]),
    ("replay --no-wait > /dev/null", ["replay", "{sid}", "--no-wait"]),
    ("replay --no-wait --raw > /dev/null", ["replay", "{sid}", "--no-wait", "--raw"]),
]


def run(size: int = 1 << 30, commands: int = 200, cfsession: list[str] | None = None,
        keep: bool = False) -> dict[str, Any]:
    cf = cfsession or [sys.executable, "-m", "cfsession"]
    tmp = Path(tempfile.mkdtemp(prefix="cfreadback-"))
    try:
        home = tmp / "home"
        t = time.perf_counter()
        sid = make_recording(home, size, commands)
        cast_mib = (home / "sessions" / f"{sid}.cast").stat().st_size / MIB
        jsonl_mib = (home / "sessions" / f"{sid}.jsonl").stat().st_size / MIB
        print(f"# recording: .cast {cast_mib:.0f} MiB, .jsonl {jsonl_mib:.1f} MiB, "
              f"{commands} commands, written in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        env = dict(os.environ, CFSESSION_HOME=str(home))
        rows = {}
        for name, args in OPERATIONS:
            argv = [*cf, *(a.format(sid=sid, out=tmp / "out") for a in args)]
            rows[name] = peak(argv, env)
            for f in tmp.glob("out.*"):
                f.unlink()
            r = rows[name]
            ok = "ok" if r["peak_mib"] <= TARGET_MIB else "OVER"
            ok = ok if r["exit"] == 0 else f"exit {r['exit']}"
            print(f"{name:36s} {r['peak_mib']:8.1f} MiB  {r['wall_s']:7.1f} s  {ok}"
                  + (f"  ({r['stderr'][:80]})" if r["stderr"] else ""))
            sys.stdout.flush()
        return {"cast_mib": round(cast_mib, 1), "jsonl_mib": round(jsonl_mib, 1), "commands": commands,
                "target_mib": TARGET_MIB, "operations": rows}
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=_size, default=1 << 30, help="bytes of output in the .cast [1G]")
    p.add_argument("--commands", type=int, default=200)
    p.add_argument("--cfsession", help="command to run cfsession [python -m cfsession]")
    p.add_argument("--out", help="write the figures here as JSON")
    a = p.parse_args(argv)
    res = run(a.size, a.commands, shlex.split(a.cfsession) if a.cfsession else None)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))
    return 0 if all(r["peak_mib"] <= TARGET_MIB for r in res["operations"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
