"""The bookkeeping child (recorder/bookkeeper.py) through real processes: the same records
as the in-process session, a shell that outlives a dead bookkeeper, no process left over."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pexpect
import psutil
import pytest

from cfsession.verify import INCOMPLETE, INTACT, verify_session
from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

# What differs between two recordings of the same work whatever records them.
VOLATILE = {"ts", "session_id", "correlation_id", "hash", "prev_hash", "started_at", "ended_at",
            "duration_ms", "cast_start", "cast_end", "cast_sha256", "cast_bytes", "pid", "cwd"}


def _bash_home(user_home: Path) -> Path:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    return user_home


def _stable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def _bookkeeper(recorder_pid: int, deadline_s: float = 10.0) -> psutil.Process:
    """The recorder's child that is not the shell: a copy of the recorder itself."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        kids = [p for p in psutil.Process(recorder_pid).children() if p.name().startswith("python")]
        if kids:
            return kids[0]
        time.sleep(0.02)
    raise AssertionError("no bookkeeping child")


@pytest.mark.parametrize("work", [
    "printf 'a\\nb\\n'; exit 4",
    "head -c 3000000 /dev/zero | tr '\\0' x; echo",  # past the pipe's size: the loop waits
])
def test_same_records_in_and_out_of_process(tmp_path: Path, work: str) -> None:
    got = {}
    for mode in ("process", "inline"):
        cf_home = tmp_path / mode
        env = h.base_env(tmp_path, cf_home, CFSESSION_BOOKKEEPING=mode)
        proc = subprocess.run(h.cfsession_argv("record", "--", "sh", "-c", work), env=env,
                              capture_output=True, timeout=120)
        assert proc.returncode == (4 if "exit 4" in work else 0), proc.stderr
        assert b" 1 command, " in proc.stderr  # the exit line's figures came back from the child
        (path,) = h.sessions(cf_home)
        assert verify_session(path).status == INTACT
        cast = path.with_suffix(".cast").read_bytes()
        got[mode] = (_stable(h.load(path)), cast.split(b"\n", 1)[1].count(b"x"), len(cast) > 0)
    assert got["process"] == got["inline"]


def test_a_dead_bookkeeper_leaves_the_shell_working(tmp_path: Path, cf_home: Path) -> None:
    home = _bash_home(tmp_path)
    rec = h.start(require_shell("bash"), home, cf_home)
    seen = io.StringIO()
    rec.child.logfile_read = seen
    rec.run("echo one")
    keeper = _bookkeeper(rec.child.pid)
    end = time.monotonic() + 10
    while not any(r.get("command") == "echo one" for r in h.load(h.sessions(cf_home)[0])):
        assert time.monotonic() < end, "the first record never came"
        time.sleep(0.02)  # the bookkeeper writes it just after the prompt shows
    keeper.kill()
    end = time.monotonic() + 10
    while keeper.is_running() and keeper.status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < end, "the bookkeeper outlived SIGKILL"
        time.sleep(0.02)
    out = rec.run("echo still-here")
    assert "still-here" in out
    rec.child.sendline("exit 3")
    rec.child.expect(pexpect.EOF, timeout=20)
    rec.child.close()
    assert rec.child.exitstatus == 3  # the shell's own status, as without the bookkeeper
    text = seen.getvalue()
    assert text.count("the recording stopped") == 1  # one warning, however many writes failed
    assert "the recording stopped" in text and "the recording did not report its end" in text
    path = h.sessions(cf_home)[0]
    recs = h.load(path)  # every line that was written parses
    assert recs[0]["event_type"] == "session_start"
    assert [r["command"] for r in recs if r["event_type"] == "terminal_capture"] == ["echo one"]
    assert verify_session(path).status == INCOMPLETE


def test_no_process_is_left_and_signals_reach_only_the_recorder(tmp_path: Path, cf_home: Path) -> None:
    home = _bash_home(tmp_path)
    rec = h.start(require_shell("bash"), home, cf_home)
    keeper = _bookkeeper(rec.child.pid)
    # A signal to the whole process group (a terminal's hang-up, `kill -- -PGID`): the
    # bookkeeper ignores it and still writes the session's end the recorder asks for.
    os.killpg(os.getpgid(rec.child.pid), signal.SIGTERM)
    rec.child.expect(pexpect.EOF, timeout=20)
    rec.child.close()
    assert not keeper.is_running() or keeper.status() == psutil.STATUS_ZOMBIE
    recs = h.load(h.sessions(cf_home)[0])
    assert recs[-1]["event_type"] == "session_end" and recs[-1]["reason"] == "signal"
    assert verify_session(h.sessions(cf_home)[0]).status == INTACT
