"""A flood of secret-shaped output while the window is resized ~50 times a second.

Used by tests/e2e/test_resize_storm.py and scripts/bench.py. The recorder runs bash on a
real PTY (pexpect); the window is resized through that PTY (TIOCSWINSZ on the master),
so the kernel sends the recorder real SIGWINCHs while it relays and records. The flood is
numbered line by line so a test can tell missing, doubled or foreign bytes apart.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pexpect

from tests import pty_harness as h

LINE = "L{:07d} user=alice password=hunter2-{:d} token=tk_{:d}_abcdefgh api_key=AKIA{:016d} ok\n"
END = "END-OF-" + "FLOOD"
GEN = (
    "import sys\n"
    "n = int(sys.argv[1])\n"
    "w = sys.stdout.write\n"
    f"fmt = {LINE!r}\n"
    "for i in range(n):\n"
    "    w(fmt.format(i, i, i, i))\n"
    "w('END-' + 'OF-FLOOD\\n')\n"
)
RESIZE_EVERY_S = 0.02  # 50 a second, as dragging a window's edge
LINE_RE = re.compile(r"L(\d{7}) user=alice ")


def flood_bytes(lines: int) -> int:
    """What the PTY hands on for the flood: each '\\n' becomes '\\r\\n'."""
    body = sum(len(LINE.format(i, i, i, i)) + 1 for i in range(lines))
    return body + len(END) + 2


def run(home: Path, cf_home: Path, lines: int, mode: str, timeout: float = 240.0) -> dict[str, float]:
    """Record one flood under a resize storm; the session ends with ``exit``."""
    (home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    gen = home / "flood.py"
    gen.write_text(GEN)
    env = h.base_env(home, cf_home, CFSESSION_BOOKKEEPING=mode)
    argv = h.cfsession_argv("record", "--shell", "bash")
    child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(home), timeout=30, dimensions=(30, 120))
    try:
        child.expect(h.PROMPT_RE.encode())
        python = __import__("sys").executable
        child.sendline(f"{python} flood.py {lines}")
        t0 = time.monotonic()
        deadline = t0 + timeout
        tail = b""
        resizes = 0
        next_resize = t0
        sizes = ((30, 120), (40, 100), (24, 80), (50, 160))
        seen_end = False
        while True:
            now = time.monotonic()
            assert now < deadline, "the flood never finished"
            if now >= next_resize and not seen_end:
                child.setwinsize(*sizes[resizes % len(sizes)])
                resizes += 1
                next_resize = now + RESIZE_EVERY_S
            try:
                chunk = child.read_nonblocking(1 << 20, timeout=RESIZE_EVERY_S)
            except pexpect.TIMEOUT:
                continue
            tail = (tail + chunk)[-4096:]
            if not seen_end and END.encode() in tail:
                seen_end = True
                tail = tail[tail.index(END.encode()) :]
            if seen_end and h.PROMPT.encode() in tail:
                break
        elapsed = time.monotonic() - t0
        child.setwinsize(30, 120)
        child.sendline("exit")
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close(force=True)
    return {"elapsed_s": elapsed, "resizes": resizes, "exit": child.exitstatus if child.exitstatus is not None else -1}
