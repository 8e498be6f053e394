"""What holding the prompt's echo region costs the bookkeeping, per command (echo_hold.py).

    python scripts/bench_echo.py [COUNT]

Feeds the Session what a bash prompt cycle produces (markers; prompt; the typed line one
key per read; output), COUNT commands, with a real CastWriter and redactor into a temp
dir: once as recorded (hold on), once with the hold switched off, and once with a token
typed with a wrap and a typo (the redraw path). Prints microseconds per command. This
is the bookkeeping's CPU (the child's, or the loop's in inline mode), not latency:
the terminal gets the bytes before any of it runs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cfsession.echo_hold import EchoHold  # noqa: E402
from cfsession.redact import Redactor  # noqa: E402
from cfsession.segmenter import Mark  # noqa: E402
from cfsession.session import Session  # noqa: E402
from cfsession.sinks.cast import CastWriter  # noqa: E402
from tests.fakes import ListSink  # noqa: E402

TOKEN = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"


class NoHold(EchoHold):
    def start(self) -> None:  # the hold switched off: output goes straight to the .cast
        self.active = False


def run(count: int, mode: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cast = CastWriter(Path(tmp) / "c.cast", cols=80, rows=24, timestamp=0, title="", env={},
                          redact=None)
        s = Session(session_id="s", start_epoch=0.0, cast=cast, sinks=[ListSink()], redact=Redactor().redact)
        if mode == "off":
            s._hold = NoHold()
        s.mark(Mark("H", 1, {"shell": "bash"}), 0.0)
        t = 0.0
        seq = 2
        line = f"true {TOKEN}" if mode == "secret" else "echo 12345"
        t0 = time.perf_counter()
        for _ in range(count):
            s.mark(Mark("A", seq, {}), t)
            s.data(b"\x1b[?2004hCFTP> ", t)
            for k, ch in enumerate(line):
                s.data(ch.encode() + (b" \r" if mode == "secret" and k == 60 else b""), t)
            if mode == "secret":
                s.data(b"Q\b\x1b[K", t)
            s.data(b"\r\n\x1b[?2004l\r", t)
            s.mark(Mark("C", seq + 1, {"cmd": line, "src": "history"}), t)
            s.data(b"12345\r\n", t)
            s.mark(Mark("D", seq + 2, {"st": "0"}), t)
            s.mark(Mark("P", seq + 3, {"cwd": "/tmp"}), t)
            seq += 4
            t += 0.01
        s.finish(t, 0, "exit")
        return (time.perf_counter() - t0) / count * 1e6


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    run(200, "on")  # compile the redactor once before timing
    for mode in ("off", "on", "off", "on", "secret"):
        print(f"{mode:7s} {run(n, mode):8.1f} us/command")
