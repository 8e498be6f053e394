"""The recorder loop's own CPU per command, with the shell's output cut as the shell cuts it.

    python scripts/bench_loop.py                  # bash's chunks, 20,000 commands, 5 runs
    python scripts/bench_loop.py --shape zsh
    python scripts/bench_loop.py --micro          # the segmenter and mode tracker alone
    PYTHONPATH=/other/tree python scripts/bench_loop.py   # another tree, same figures

The POSIX :class:`~cfsession.recorder.loop.Loop` pumps a child's output as it does in
``cfsession record``: ``select``, read, strip the markers, write to the terminal (here
/dev/null), track the modes, hand the pieces to the session (here one that only counts
them). The child is a process writing, per command, the chunks bash 5.2 (or zsh) writes
for ``echo i`` — read from the PTY of a real session, markers and all — over a
SOCK_SEQPACKET socket, so every read returns exactly one of those chunks: the number of
turns is the same from run to run and from tree to tree, and only the loop's work per
turn differs. Prints the loop process's CPU (``process_time``) per command; the median
of the runs is the figure, the spread says how far to trust it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from typing import Any

from cfsession.recorder.loop import Loop
from cfsession.segmenter import Mark, Segmenter, encode_mark

NONCE = "3b115695fc84675653dc118cbe1ec5ab"


def command_chunks(shape: str, i: int, seq: int) -> list[bytes]:
    """The chunks one ``echo i`` comes in (seqs from ``seq``, five per command)."""

    def mk(n: int, ev: str, **f: str) -> bytes:
        return encode_mark(6973, NONCE, seq + n, ev, **f)

    if shape == "bash":
        return [
            b"echo %d\r\n\x1b[?2004l\r" % i,
            mk(0, "C", src="ps0", cmdno=str(i)) + b"%d\r\n" % i,
            mk(1, "D", cmdno=str(i), st="0", ps="0", cmd=f"echo {i}", src="history")
            + mk(2, "P", cwd="/tmp")
            + mk(3, "A"),
            b"\x1b[?2004hCFBPROMPT> " + mk(4, "B"),
        ]
    sp = "\\x1b[1m\\x1b[7m#\\x1b[27m\\x1b[1m\\x1b[0m"
    return [
        b"e\x08echo %d\x1b[?1l\x1b>\x1b[?2004l\r\r\n" % i
        + mk(0, "C", cmd=f"echo {i}", src="preexec", cmdno=str(i), pid="4242")
        + b"%d\r\n\x1b[1m\x1b[7m#\x1b[27m\x1b[1m\x1b[0m" % i
        + b" " * 79
        + b"\r \r"
        + mk(1, "D", cmdno=str(i), st="0", ps="0", sp=sp)
        + mk(2, "P", cwd="/tmp")
        + mk(3, "A")
        + b"\r\x1b[0m\x1b[27m\x1b[24m\x1b[JCFBPROMPT> \x1b[K\x1b[?1h\x1b=\x1b[?2004h"
    ]


class PacketPty:
    """The shell's side: a child process writing the chunks, one packet each."""

    def __init__(self, shape: str, count: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:  # the "shell"
            ours.close()
            for i in range(count):
                for c in command_chunks(shape, i, 10 + 5 * i):
                    theirs.send(c)
            os._exit(0)
        theirs.close()
        ours.setblocking(False)
        self.sock = ours
        self.status: int | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, size: int = 65536) -> bytes:
        return self.sock.recv(size)

    def write(self, data: bytes) -> int:
        return len(data)

    def resize(self, cols: int, rows: int) -> None: ...

    def poll(self) -> int | None:
        return self.status

    def wait(self) -> int:
        if self.status is None:
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.status

    def terminate(self, force: bool = False) -> None: ...

    def close(self) -> None:
        self.sock.close()


class NullTerminal:
    """A terminal that takes the output (to /dev/null) and types nothing."""

    is_tty = False
    resize_by_signal = True

    def __init__(self) -> None:
        self.fd = os.open(os.devnull, os.O_WRONLY)

    def size(self) -> tuple[int, int]:
        return (80, 24)

    def start_input(self) -> int | None:
        return None

    def read_input(self, size: int = 65536) -> bytes:
        return b""

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def poll_resize(self) -> tuple[int, int] | None:
        return None

    def enter_raw(self) -> None: ...

    def restore(self) -> None: ...

    def close(self) -> None:
        os.close(self.fd)


class CountingSession:
    """Takes what the loop hands over and keeps count (the bookkeeping is not measured)."""

    active = True

    def __init__(self) -> None:
        self.bytes = 0
        self.marks = 0

    def data(self, data: bytes, t: float) -> None:
        self.bytes += len(data)

    def mark(self, m: Mark, t: float) -> None:
        self.marks += 1

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None  # resize, tick, end_batch…: nothing to do


def one(shape: str, count: int, deadline: float | None) -> float:
    pty = PacketPty(shape, count)
    term = NullTerminal()
    session = CountingSession()
    seg = Segmenter(NONCE, lazy=True)
    loop = Loop(pty, session, seg, term, t0=time.monotonic(), integration_deadline=deadline)  # type: ignore[arg-type]
    cpu = time.process_time()
    loop.run()
    cpu = time.process_time() - cpu
    pty.close()
    term.close()
    want = count * sum(c.count(b"\x1b]6973;") for c in command_chunks(shape, 0, 0))
    if session.marks != want:
        raise SystemExit(f"bench_loop: {session.marks} marks, not {want} — the loop lost some")
    return 1e6 * cpu / count


def micro(shape: str, count: int, runs: int) -> None:
    """µs per command of ``Segmenter.split`` and ``ModeTracker.feed`` on the raw chunks,
    no loop and no I/O (median of the runs, and the fastest)."""
    from cfsession.recorder.modes import ModeTracker

    data = [command_chunks(shape, i, 10 + 5 * i) for i in range(count)]
    split_us: list[float] = []
    modes_us: list[float] = []
    for _ in range(runs):
        seg = Segmenter(NONCE, lazy=True)
        t = time.perf_counter()
        for chunks in data:
            for c in chunks:
                seg.split(c)
        split_us.append(1e6 * (time.perf_counter() - t) / count)
        modes = ModeTracker()
        t = time.perf_counter()
        for chunks in data:
            for c in chunks:
                modes.feed(c)
        modes_us.append(1e6 * (time.perf_counter() - t) / count)
    print(
        f"{shape}: split {statistics.median(split_us):.2f} us (min {min(split_us):.2f}), "
        f"modes {statistics.median(modes_us):.2f} us (min {min(modes_us):.2f}) per command"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=("bash", "zsh"), default="bash")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--deadline",
        type=float,
        default=10.0,
        help="the integration deadline, s (record's default; 0: none, as once it has passed)",
    )
    ap.add_argument("--micro", action="store_true", help="split and the mode tracker alone")
    a = ap.parse_args()
    import cfsession

    if a.micro:
        micro(a.shape, a.count, a.runs)
        return 0

    runs = sorted(one(a.shape, a.count, a.deadline or None) for _ in range(a.runs))
    print(
        f"{a.shape}: loop CPU {statistics.median(runs):.1f} us per command "
        f"(runs {runs[0]:.1f}-{runs[-1]:.1f}; {cfsession.__file__.rsplit('/', 2)[0]})",
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
