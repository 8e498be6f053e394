"""The recording API runs real commands and writes what an interactive session writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cfsession import api
from cfsession.errors import UsageError
from cfsession.etw import CAPTURE_ENV
from cfsession.etw.decode import read_capture
from tests import pty_harness as h
from tests.e2e.test_etw_capture_e2e import check_session

SECRET = "AKIAIOSFODNN7EXAMPLE"


def cli(cf_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CFSESSION_HOME": str(cf_home)}
    return subprocess.run([sys.executable, "-m", "cfsession", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.mark.parametrize("pty", [True, False], ids=["pty", "pipes"])
def test_runs_are_recorded_like_a_session(cf_home: Path, tmp_path: Path, pty: bool) -> None:
    work = tmp_path / "work dir"
    work.mkdir()
    with api.record("build", actor="agent:ci", home=cf_home) as rec:
        ok = rec.run("echo hello; echo err >&2", pty=pty)
        bad = rec.run(["sh", "-c", "exit 3"], cwd=work, pty=pty)
        leak = rec.run(["echo", f"key={SECRET}"], pty=pty)
        envd = rec.run("echo $ONLY_HERE", env={"ONLY_HERE": "yes", "PATH": os.environ["PATH"]}, pty=pty)
        missing = rec.run(["no-such-command-cfs"], pty=pty)
    assert (ok.seq, ok.exit_code, ok.status_kind) == (1, 0, "exited")
    assert ok.output.splitlines() == ["hello", "err"]
    assert ok.duration_ms >= 0 and ok.started_at.endswith("Z") and ok.cwd == os.getcwd()
    assert (bad.seq, bad.exit_code, bad.cwd, bad.ok) == (2, 3, str(work), False)
    assert SECRET not in leak.output and "[REDACTED:aws_access_key]" in leak.output
    assert leak.redactions == 2 and SECRET not in (leak.command or "")  # argv and output
    assert envd.output == "yes\n"
    assert missing.exit_code == 127 and "cannot start no-such-command-cfs" in missing.output
    assert {r.actor for r in (ok, bad, leak)} == {"agent:ci"}

    lines = h.load(rec.path)
    start, *events, end = lines
    assert (start["event_type"], start["session_type"], start["actor"], start["name"]) == (
        "session_start", "api", "agent:ci", "build")
    caps = [e for e in events if e["event_type"] == "terminal_capture"]
    assert [c["command_seq"] for c in caps] == [1, 2, 3, 4, 5]
    assert [c["command"] for c in caps[:2]] == ["echo hello; echo err >&2", "sh -c 'exit 3'"]
    assert all(c["actor"] == "agent:ci" and c["command_source"] == "api" for c in caps)
    assert SECRET not in rec.path.read_text() and SECRET not in rec.path.with_suffix(".cast").read_text()
    assert (end["event_type"], end["command_count"], end["failed_count"]) == ("session_end", 5, 2)

    verified = cli(cf_home, "verify", rec.session_id)
    assert verified.returncode == 0 and "intact" in verified.stdout
    # The read side treats it like any other session.
    listed = json.loads(cli(cf_home, "list", "--json", "--actor", "agent:ci").stdout)
    assert [s["session_id"] for s in listed] == [rec.session_id]
    assert json.loads(cli(cf_home, "list", "--json", "--actor", "human").stdout) == []
    shown = json.loads(cli(cf_home, "show", rec.session_id, "--json").stdout)
    assert [c["exit_code"] for c in shown["commands"]] == [0, 3, 0, 0, 127]
    found = json.loads(cli(cf_home, "search", "hello", "--json", "--actor", "agent").stdout)
    assert [(x["seq"], x["actor"]) for x in found] == [(1, "agent:ci")]
    text = cli(cf_home, "export", rec.session_id, "--format", "text")
    assert text.returncode == 0 and "$ echo hello; echo err >&2" in text.stdout
    replay = cli(cf_home, "replay", rec.session_id, "--no-wait")
    assert replay.returncode == 0 and "hello" in replay.stdout


@pytest.mark.parametrize("pty", [True, False], ids=["pty", "pipes"])
def test_timeout_kills_the_process_group(cf_home: Path, tmp_path: Path, pty: bool) -> None:
    pidfile = tmp_path / "bg.pid"
    with api.record(home=cf_home) as rec:
        r = rec.run(f"sleep 60 & echo $! > '{pidfile}'; echo started; wait", timeout=1.0, pty=pty)
        after = rec.run("echo still-recording", pty=pty)
    assert r.timed_out and r.exit_code == 137 and r.status_kind == "likely_signal"
    assert "started" in r.output
    assert not _alive(int(pidfile.read_text())), "the background sleep outlived the timeout"
    cap = [x for x in h.load(rec.path) if x["event_type"] == "terminal_capture"]
    assert cap[0]["anomalies"] == ["timeout"] and cap[0]["exit_code"] == 137
    assert after.exit_code == 0 and after.output == "still-recording\n"
    assert cli(cf_home, "verify", rec.session_id).returncode == 0


def test_one_terminal_capture_event_per_run(cf_home: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    capture = tmp_path / "etw.jsonl"
    monkeypatch.setenv(CAPTURE_ENV, str(capture))
    with api.record("etw", actor="agent:etw", home=cf_home) as rec:
        for i in range(3):
            rec.run(f"echo run-{i}")
        rec.run(["false"], pty=False)
    events = read_capture(capture)
    check_session(rec.path, events)
    names = [e.event_name for e in events if e.activity_id == rec.session_id]
    assert names.count("TerminalCapture") == 4


def test_actor_defaults_and_bad_arguments(cf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CFSESSION_ACTOR", "CLAUDECODE", "GEMINI_CLI", "CODEX_SANDBOX",
                "CODEX_SANDBOX_NETWORK_DISABLED"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLAUDECODE", "1")
    with api.record(home=cf_home) as rec:
        assert rec.actor == "agent:claude-code"
        child = rec.run(["sh", "-c", 'echo "$CFSESSION_ACTOR $CFSESSION_ID"'], pty=False)
        with pytest.raises(UsageError):
            rec.run("   ")
        with pytest.raises(UsageError):
            rec.run("true", timeout=0)
    assert child.output == f"agent:claude-code {rec.session_id}\n"  # a nested recorder inherits both
    monkeypatch.setenv("CFSESSION_ACTOR", "agent:nightly")
    with api.record(home=cf_home) as rec2:
        pass
    assert rec2.actor == "agent:nightly"
    with pytest.raises(UsageError):
        rec2.run("true")  # closed
    with pytest.raises(UsageError):
        api.record(actor="  ", home=cf_home)


def test_an_exception_in_the_block_still_closes_the_session(cf_home: Path) -> None:
    with pytest.raises(RuntimeError), api.record(home=cf_home) as rec:
        rec.run("echo before")
        raise RuntimeError("boom")
    end: dict[str, Any] = h.load(rec.path)[-1]
    assert (end["event_type"], end["reason"]) == ("session_end", "error")
    assert cli(cf_home, "verify", rec.session_id).returncode == 0
