"""The store deleted while a session records (``rm -r ~/.cfsession`` in another window).

Only what was written before the deletion may be lost: the recorder makes the directory
and the session's files anew, the new JSONL starts with ``session_start`` and a ``gap``
record that says how much was lost, and the exit line names a file that exists. When the
store cannot be made again, the exit line must not claim a save.
"""

from __future__ import annotations

import io
import re
import shutil
import time
from pathlib import Path

import pexpect
import pytest

from cfsession.verify import INTACT, verify_session
from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


def _wait_for_command(cf_home: Path, text: str) -> None:
    end = time.monotonic() + 15
    while True:
        paths = h.sessions(cf_home)
        if paths and any(r.get("command") == text for r in h.load(paths[0])):
            return
        assert time.monotonic() < end, f"the record of {text!r} never came"
        time.sleep(0.02)  # the bookkeeper writes it just after the prompt shows


def _record(tmp_path: Path, mode: str, damage: str) -> tuple[str, Path]:
    home, cf_home = tmp_path / "home", tmp_path / "cf"
    home.mkdir()
    (home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    env = h.base_env(home, cf_home, CFSESSION_BOOKKEEPING=mode)
    rec = h.start(require_shell("bash"), home, cf_home, env=env)
    seen = io.StringIO()
    rec.child.logfile_read = seen
    rec.run("echo before-1")
    _wait_for_command(cf_home, "echo before-1")
    shutil.rmtree(cf_home)
    if damage == "blocked":
        cf_home.write_text("not a directory")  # the store cannot be made again
    rec.run("echo after-1")
    rec.run("echo after-2")
    rec.child.sendline("exit")
    rec.child.expect(pexpect.EOF, timeout=20)
    rec.child.close()
    assert rec.child.exitstatus == 0
    return seen.getvalue(), cf_home


@pytest.mark.parametrize("mode", ["process", "inline"])
def test_the_rest_of_the_session_is_kept_after_the_store_is_deleted(tmp_path: Path, mode: str) -> None:
    out, cf_home = _record(tmp_path, mode, "deleted")
    assert "will not be kept" not in out
    # `exit` ends the session and is not a command; the end line gives the whole final hash.
    m = re.search(r"3 commands, 0 failed — (\S+\.jsonl) \(final hash ([0-9a-f]{64})\); (\d+) earlier records were lost", out)
    assert m, out[-2000:]
    path = Path(m.group(1))
    assert path.is_file()  # the exit line names a file that exists
    recs = h.load(path)
    assert recs[-1]["hash"] == m.group(2)
    assert [r["event_type"] for r in recs[:2]] == ["session_start", "gap"]
    gap = recs[1]
    assert gap["state"] == "lost" and gap["lost_records"] >= 2 and len(gap["lost_last_hash"]) == 64
    assert int(m.group(3)) == gap["lost_records"]
    cmds = [r["command"] for r in recs if r["event_type"] == "terminal_capture"]
    assert cmds == ["echo after-1", "echo after-2"]  # only what came before the deletion is gone
    assert recs[-1]["end_command"] == "exit"
    assert recs[-1]["event_type"] == "session_end"
    assert any(r["event_type"] == "warning" and r["code"] == "store_deleted" for r in recs)
    assert path.parent.stat().st_mode & 0o777 == 0o700 and path.stat().st_mode & 0o777 == 0o600
    cast = path.with_suffix(".cast").read_text()
    assert "was lost: its file was deleted" in cast and "after-2" in cast and "before-1" not in cast
    assert verify_session(path).status == INTACT


def test_no_save_is_claimed_when_the_store_cannot_be_made_again(tmp_path: Path) -> None:
    out, cf_home = _record(tmp_path, "process", "blocked")
    assert "(not saved)" in out
    assert "final hash" not in out and ".jsonl" not in out.rsplit("session ", 1)[-1]
    assert cf_home.read_text() == "not a directory"  # nothing was written over it
