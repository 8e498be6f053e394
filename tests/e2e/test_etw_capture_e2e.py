"""A real recording with the ETW capture seam on: one TerminalCapture per JSONL command.

Runs on any OS: ``CFSESSION_ETW_CAPTURE`` makes the recorder append every event it would
hand to ``EventWriteTransfer``; the events are decoded and compared with the JSONL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cfsession.etw import CAPTURE_ENV, PROVIDER_GUID
from cfsession.etw.decode import DecodedEvent, read_capture
from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


def etw_text(value: str | None, units: int) -> str:
    """What the sink promises for a string field: NULs dropped, capped, pairs kept whole."""
    data = (value or "").replace("\x00", "").encode("utf-16-le", "surrogatepass")[: 2 * units]
    if len(data) >= 2 and 0xD800 <= int.from_bytes(data[-2:], "little") <= 0xDBFF:
        data = data[:-2]
    return data.decode("utf-16-le")


def expected_capture(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "Command": etw_text(c["command"], 8192),
        "Output": etw_text(c["output"], 1000),
        "DurationMs": min(int(c["duration_ms"] + 0.5), 2**32 - 1),
        "SessionId": c["session_id"],
        "ExitCode": -1 if c["exit_code"] is None else c["exit_code"],
        "Cwd": etw_text(c["cwd"], 4096),
    }


def decoded_capture(e: DecodedEvent) -> dict[str, Any]:
    values = e.values()
    values["SessionId"] = str(values["SessionId"])
    return values


def check_session(jsonl: Path, events: list[DecodedEvent], parent: str | None = None) -> None:
    """The events of one session match its JSONL file, field by field."""
    lines = h.load(jsonl)
    sid = lines[0]["session_id"]
    mine = [e for e in events if e.activity_id == sid]
    assert lines[0]["etw"] == "enabled (capture)"
    assert [e.event_name for e in mine] == (
        ["SessionStart"]
        + ["TerminalCapture"] * sum(r["event_type"] == "terminal_capture" for r in lines)
        + ["SessionEnd"]
    )
    for e in mine:
        assert e.provider_guid == PROVIDER_GUID
        assert e.provider_name == "ContextForge.LoggingInfrastructure"
        assert (e.descriptor["level"], e.descriptor["channel"]) == (4, 11)
    start, *caps, end = mine
    assert start.related_activity_id == parent
    assert all(e.related_activity_id is None for e in caps + [end])
    head = lines[0]
    assert start.values()["SessionType"] == head["session_type"]
    assert start.values()["CorrelationId"] == head["correlation_id"]
    # JSONL keeps microseconds, FILETIME 100 ns: the first 26 characters agree.
    assert start.to_json()["fields"]["StartTime"][:26] == head["started_at"][:26]
    want = [expected_capture(r) for r in lines if r["event_type"] == "terminal_capture"]
    assert [decoded_capture(e) for e in caps] == want
    tail = lines[-1]
    assert tail["event_type"] == "session_end"
    assert end.to_json()["fields"] == {
        "SessionId": sid,
        "CommandCount": tail["command_count"],
        "DurationMs": int(tail["duration_ms"] + 0.5),
    }


def test_one_command_session(tmp_path: Path, cf_home: Path) -> None:
    cap = tmp_path / "etw.jsonl"
    env = h.base_env(tmp_path, cf_home, **{CAPTURE_ENV: str(cap)})
    proc = subprocess.run(
        h.cfsession_argv("record", "--", "sh", "-c", "echo hi; exit 3"),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr
    (jsonl,) = h.sessions(cf_home)
    events = read_capture(cap)
    check_session(jsonl, events)
    tc = [e for e in events if e.event_name == "TerminalCapture"]
    assert [(e.values()["Command"], e.values()["Output"], e.values()["ExitCode"]) for e in tc] == [
        ("sh -c 'echo hi; exit 3'", "hi\n", 3)
    ]


def test_no_etw_writes_nothing(tmp_path: Path, cf_home: Path) -> None:
    cap = tmp_path / "etw.jsonl"
    env = h.base_env(tmp_path, cf_home, **{CAPTURE_ENV: str(cap)})
    proc = subprocess.run(
        h.cfsession_argv("record", "--no-etw", "--", "sh", "-c", "echo hi"),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (jsonl,) = h.sessions(cf_home)
    assert h.load(jsonl)[0]["etw"] == "disabled"
    assert not cap.exists()


def test_interactive_bash_session_and_a_nested_one(
    user_home: Path, cf_home: Path, tmp_path: Path
) -> None:
    bash = require_shell("bash")
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    cap = tmp_path / "etw.jsonl"
    rec = h.start(
        bash, user_home, cf_home, env=h.base_env(user_home, cf_home, **{CAPTURE_ENV: str(cap)})
    )
    py = sys.executable
    rec.run("echo hi")
    rec.run("false")
    rec.run("echo 'héllo ✓ 日本 😀'")
    rec.run(f"{py} -c \"print('y' * 999 + '😀' + 'z' * 3000)\"")  # Output cap falls inside the pair
    rec.run(f"{py} -c \"import sys; sys.stdout.write('a' + chr(0) + 'b')\"; echo")
    rec.run("cd /")
    rec.run(f"{py} -m cfsession record -- sh -c 'echo inner'")
    assert rec.finish("exit 2") == 2

    jsonls = h.sessions(cf_home)
    assert len(jsonls) == 2
    outer, inner = sorted(jsonls, key=lambda p: h.load(p)[0]["parent_session_id"] is not None)
    events = read_capture(cap)
    outer_id = h.load(outer)[0]["session_id"]
    check_session(outer, events)
    check_session(inner, events, parent=outer_id)
    assert len(events) == sum(
        1 + sum(r["event_type"] == "terminal_capture" for r in h.load(p)) + 1 for p in jsonls
    )
    long_output = next(
        e.values()["Output"]
        for e in events
        if e.event_name == "TerminalCapture" and e.values()["Output"].startswith("yyy")
    )
    assert long_output == "y" * 999  # 1000 units would split 😀: the pair is dropped whole
