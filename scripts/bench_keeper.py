"""The bookkeeping child's CPU per command, without the noise of a live session.

    python scripts/bench_keeper.py capture --shell zsh --count 1000 FRAMES
    python scripts/bench_keeper.py replay FRAMES [--reps 9]

``capture`` records a real session (COUNT × ``echo i`` typed into the shell through a
PTY, as bench_parts.py does) and keeps every byte the recorder wrote to its bookkeeping
pipe in FRAMES (the pipe's tag in FRAMES.tag, the size of each of the recorder's writes
in FRAMES.sizes). ``replay`` feeds FRAMES to the bookkeeper's own loop
(``bookkeeper._serve``) with a fresh Session, JSONL sink, anchor and .cast writer in a
temp dir, REPS times, each read of the pipe returning one of the recorder's writes (as
when the child keeps up with an interactive session; ``--whole``: 1 MiB reads, as when
it falls behind), and prints the CPU per command (median and
min) and a hash of the three files it wrote. The files do not depend on the clock, so
two versions of the code must print the same hash: run ``replay`` with each version's
Python on the same FRAMES to compare them (docs/BENCH.md). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run by ``capture`` as the recorder: cfsession with the pipe's writes copied to a file.
_RECORDER = """
import os, runpy, sys
out = os.environ["CF_KEEPER_FRAMES"]
from cfsession.recorder import bookkeeper as b
init, write = b.Remote.__init__, b.Remote._write
def _init(self, *a, **k):
    init(self, *a, **k)
    with open(out + ".tag", "wb") as f:
        f.write(self._tag)
def _write(self, parts):
    data = b"".join(parts)
    with open(out, "ab") as f:
        f.write(data)
    with open(out + ".sizes", "ab") as f:
        f.write(b"%d " % len(data))
    return write(self, parts)
b.Remote.__init__, b.Remote._write = _init, _write
sys.argv = ["cfsession", *sys.argv[1:]]
runpy.run_module("cfsession", run_name="__main__")
"""


def capture(shell: str, count: int, frames: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_parts
    from bench import hermetic_home

    home = hermetic_home(Path(tempfile.mkdtemp(prefix="cfkeeper-")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFSESSION_")}
    env.update(HOME=str(home), TERM="xterm", LC_ALL="C.UTF-8", CFSESSION_HOME=str(home / "cf"),
               CF_KEEPER_FRAMES=str(frames))
    env.pop("PROMPT_COMMAND", None)
    frames.unlink(missing_ok=True)
    Path(str(frames) + ".sizes").unlink(missing_ok=True)
    argv = [sys.executable, "-c", _RECORDER, "record", "-q", "--shell", shell]
    ms, cpu, keeper = bench_parts.once(argv, env, count)
    print(f"captured {frames} ({frames.stat().st_size} bytes): {ms:.3f} ms/cmd, recorder {cpu:.3f}, "
          f"bookkeeper {keeper:.3f} ms CPU per command")


class _Writes:
    """``os`` for recorder/framing.py whose ``read`` hands out one recorder write a call."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._pos, self._i = data, sizes, 0, 0

    def read(self, fd: int, n: int) -> bytes:
        if self._i < len(self._sizes):
            n = min(n, self._sizes[self._i])
            self._sizes[self._i] -= n
            if not self._sizes[self._i]:
                self._i += 1
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def _replay_once(frames: Path, tag: bytes, d: Path, whole: bool = False) -> tuple[float, str, int]:
    from cfsession.anchor import AnchorWriter
    from cfsession.config import Config
    from cfsession.recorder import bookkeeper
    from cfsession.recorder.wiring import LazyRedactor, LazyStreamRedactor, Warner
    from cfsession.redact import load_redactor
    from cfsession.session import Session
    from cfsession.sinks.cast import CastWriter
    from cfsession.sinks.jsonl import JsonlSink

    sid = "00000000-0000-4000-8000-000000000000"
    warn = Warner()
    redactor = LazyRedactor(lambda: load_redactor(Config()))
    redactor.get()  # built before the clock starts, as it is by the first output live
    jsonl = JsonlSink(d / "s.jsonl", sid, on_warning=warn, anchor=AnchorWriter(d / "s.anchor", sid))
    cast = CastWriter(d / "s.cast", cols=80, rows=24, timestamp=1700000000, title="t",
                      env={"SHELL": "sh", "TERM": "xterm"}, on_warning=warn, redact=LazyStreamRedactor(redactor))
    session = Session(session_id=sid, start_epoch=1700000000.0, cast=cast, sinks=[jsonl], output_cap=64 * 1024,
                      redact=redactor.redact, on_warning=warn)
    session.cwd, session.cols = "/", 80
    from cfsession.recorder import framing

    sizes = Path(str(frames) + ".sizes")
    if not whole and sizes.exists():
        framing.os = _Writes(frames.read_bytes(), [int(x) for x in sizes.read_text().split()])  # type: ignore[assignment]
    rfd = os.open(frames, os.O_RDONLY)
    wfd = os.open(os.devnull, os.O_WRONLY)
    try:
        t = time.process_time()
        bookkeeper._serve(session, [jsonl], rfd, wfd, tag)
        dt = time.process_time() - t
    finally:
        framing.os = os  # type: ignore[assignment]
        os.close(rfd)
    h = hashlib.sha256()
    for name in ("s.jsonl", "s.cast", "s.anchor"):
        p = d / name
        h.update(p.read_bytes() if p.exists() else b"-")
    return dt, h.hexdigest()[:16], session.command_count


def replay(frames: Path, reps: int, whole: bool = False) -> None:
    try:  # the running Python's cfsession (compare versions by their venvs' Pythons) …
        import cfsession
    except ImportError:  # … or this checkout's
        sys.path.insert(0, str(ROOT))
        import cfsession
    print(f"cfsession from {Path(cfsession.__file__).parent}")
    tag = Path(str(frames) + ".tag").read_bytes()
    runs = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            runs.append(_replay_once(frames, tag, Path(d), whole))
    n = max(runs[0][2], 1)
    cpu = sorted(1000 * r[0] / n for r in runs)
    hashes = sorted({r[1] for r in runs})
    mode = "1 MiB reads" if whole or not Path(str(frames) + ".sizes").exists() else "one write a read"
    print(f"{frames} ({mode}): {runs[0][2]} commands; bookkeeper CPU per command {cpu[len(cpu) // 2]:.4f} ms median, "
          f"{cpu[0]:.4f} min ({reps} replays); files {' '.join(hashes)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--shell", default="zsh")
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("frames", type=Path)
    r = sub.add_parser("replay")
    r.add_argument("frames", type=Path)
    r.add_argument("--reps", type=int, default=9)
    r.add_argument("--whole", action="store_true", help="1 MiB reads, not one recorder write a read")
    a = ap.parse_args()
    if a.what == "capture":
        capture(a.shell, a.count, a.frames)
    else:
        replay(a.frames, a.reps, a.whole)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
