"""A disk that fills up during a session: the replay (.cast) gives way to the record.

The JSONL is the record (commands, statuses, session_end); the .cast is the replay, and
under a flood of output it is by far the larger. Before, the .cast took the last free
byte and the JSONL lost every later command and its session_end. Now the .cast stops
while CAST_RESERVE is still free, says so, and stays whole; the record goes on.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfsession.sinks.cast import CAST_RESERVE
from cfsession.verify import INTACT, verify_session
from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A store on a real file system of CAST_RESERVE + 1 MiB (a tmpfs: needs root)."""
    store = tmp_path / "cf"
    store.mkdir(mode=0o700)
    size = (CAST_RESERVE >> 20) + 1
    if os.geteuid() != 0 or subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}m,mode=0700", "tmpfs", str(store)], capture_output=True
    ).returncode:
        pytest.skip("needs root to mount a small file system")
    try:
        yield store
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


def test_the_record_keeps_the_room_when_the_disk_fills(user_home: Path, small_disk: Path) -> None:
    bash = require_shell("bash")
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(bash, user_home, small_disk)
    rec.child.searchwindowsize = 4096  # the prompt is at the end: do not rescan 10 MB per read
    rec.run("head -c 10000000 /dev/zero | tr '\\0' x | fold -w 100")  # 10 MB on screen, more than the disk holds: the .cast's
    for i in range(5):
        rec.run(f"echo after{i}")
    assert rec.finish() == 0
    jsonl = h.sessions(small_disk)[0]
    lines = h.load(jsonl)
    assert [r.get("command") for r in lines if r["event_type"] == "terminal_capture"][-5:] == [
        f"echo after{i}" for i in range(5)
    ]
    assert lines[-1]["event_type"] == "session_end"
    assert any(r.get("code") == "cast_stopped_disk_full" for r in lines if r["event_type"] == "warning")
    cast = jsonl.with_suffix(".cast")
    assert 0 < cast.stat().st_size < 10_000_000
    assert verify_session(jsonl).status == INTACT  # the .cast stopped whole, as its digest says
