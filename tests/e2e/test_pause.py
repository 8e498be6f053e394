"""Pausing capture: the stream still passes through, nothing is recorded, a gap says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


@pytest.fixture
def bash_home(user_home: Path) -> Path:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    return user_home


def _gaps(cf_home: Path) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in h.load(h.sessions(cf_home)[0]) if r["event_type"] == "gap"]


def test_pause_and_resume_commands(bash_home: Path, cf_home: Path) -> None:
    bash = require_shell("bash")
    rec = h.start(bash, bash_home, cf_home)
    rec.run("echo before")
    seen = rec.run(f"{h.cfsession_argv('pause')[0]} -m cfsession pause")
    assert "recording paused" in seen
    seen = rec.run("echo secret-while-paused")
    assert "secret-while-paused" in seen  # the user still sees everything
    rec.run(f"{h.cfsession_argv('resume')[0]} -m cfsession resume")
    rec.run("echo after")
    assert rec.finish() == 0
    cmds = [c["command"] for c in h.commands(cf_home)]
    assert cmds[0] == "echo before" and cmds[1].endswith("cfsession pause")
    assert cmds[2:] == ["echo after"]
    gaps = _gaps(cf_home)
    assert [g["state"] for g in gaps] == ["paused", "resumed"]
    assert gaps[1]["skipped_commands"] == 2 and gaps[1]["paused_ms"] > 0
    (jsonl,) = h.sessions(cf_home)
    for path in (jsonl, jsonl.with_suffix(".cast")):
        assert "secret-while-paused" not in path.read_text()
    assert "[cfsession: recording paused]" in jsonl.with_suffix(".cast").read_text()
    from cfsession.verify import verify_session

    assert verify_session(jsonl).ok


def test_pause_key(bash_home: Path, cf_home: Path) -> None:
    bash = require_shell("bash")
    rec = h.start(bash, bash_home, cf_home, args=("--pause-key", "C-]"))
    rec.run("echo one")
    rec.child.send("\x1d")  # pause: the key itself never reaches the shell
    seen = rec.run("echo typed-while-paused")
    assert "typed-while-paused" in seen
    rec.child.send("\x1d")  # resume
    rec.run("echo two")
    assert rec.finish() == 0
    assert [c["command"] for c in h.commands(cf_home)] == ["echo one", "echo two"]
    assert [g["state"] for g in _gaps(cf_home)] == ["paused", "resumed"]
    (jsonl,) = h.sessions(cf_home)
    assert "typed-while-paused" not in jsonl.with_suffix(".cast").read_text()
