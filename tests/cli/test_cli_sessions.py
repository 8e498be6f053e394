"""The read-side commands as a person uses them: tables, errors, warnings, and safe output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cfsession.cli import app, run
from cfsession.paths import cast_path, jsonl_path, sessions_dir
from tests.sessions_factory import T0, Cmd, append_lines, make_session

EVIL_CMD = "echo \x1b]52;c;cm0gLXJmIH4=\x07[bold red]x[/]\x1b]0;title\x07"
EVIL_OUT = "pre\x1b]52;c;Zm9v\x07\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\\x9b31mpost\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sessions(cf_home: Path) -> dict[str, str]:
    ok = make_session(cf_home, [Cmd("ls -la", "total 0\n"), Cmd("cat nope", "cat: nope: No such file\n", exit_code=1)],
                      name="daily", started=T0)
    evil = make_session(cf_home, [Cmd(EVIL_CMD, EVIL_OUT, raw=EVIL_OUT)], name="evil\x1b]2;x\x07name",
                        started=T0 + 60)
    rec = make_session(cf_home, [Cmd("sleep 1")], complete=False, pid=os.getpid(),
                       started=__import__("time").time())
    return {"ok": ok, "evil": evil, "rec": rec}


def test_list_table_newest_first_with_status(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "list")
    assert code == 0 and err == ""
    rows = [line for line in out.splitlines() if line.strip()[:8] in {s[:8] for s in sessions.values()}]
    assert [r.split()[0] for r in rows] == [sessions["rec"][:8], sessions["evil"][:8], sessions["ok"][:8]]
    assert "recording" in rows[0] and "complete" in rows[2]
    assert "\x1b" not in out and "\x07" not in out


def test_list_limit_and_failed(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "list", "--json", "--limit", "1")
    assert [s["session_id"] for s in json.loads(out)] == [sessions["rec"]]
    _, out, _ = _run(capsys, "list", "--json", "--failed")
    assert [s["session_id"] for s in json.loads(out)] == [sessions["ok"]]
    _, out, _ = _run(capsys, "list", "--since", "2000-01-01", "--limit", "2")
    assert "2 of 3" not in out  # the "more" footer only shows for an unfiltered list


def test_damaged_files_warn_one_line_each_and_the_rest_lists(
    sessions: dict[str, str], cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append_lines(jsonl_path(sessions["ok"], cf_home), b"{broken\n")
    (sessions_dir(cf_home) / "foreign.jsonl").write_text("not json at all\n")
    (sessions_dir(cf_home) / "empty.jsonl").write_text("")
    code, out, err = _run(capsys, "list", "--json")
    assert code == 0 and len(json.loads(out)) == 3
    lines = err.splitlines()
    assert len(lines) == 3 and all(line.startswith("cfsession: warning: ") for line in lines)
    assert any(f"{jsonl_path(sessions['ok'], cf_home)}:5: corrupt line" in line for line in lines)
    assert any("foreign.jsonl:1: not a cfsession session file" in line for line in lines)


def test_show_table_output_and_errors(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "show", sessions["ok"][:6])
    assert code == 0 and sessions["ok"] in out and "daily" in out
    assert "ls -la" in out and "cat nope" in out and "total 0" not in out
    code, out, _ = _run(capsys, "show", sessions["ok"], "--output")
    assert "total 0" in out and "cat: nope: No such file" in out
    code, _, err = _run(capsys, "show", "ffff")
    assert code == 1 and err == "cfsession: session ffff not found — run `cfsession list` to see the ids\n"
    code, _, err = _run(capsys, "show", "xy")
    assert code == 2 and err.startswith("cfsession: 'xy' is not a session id — ")


def test_recorded_escapes_never_reach_the_viewer(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    evil = sessions["evil"]
    for argv in (["list"], ["show", evil], ["show", evil, "--output"], ["search", "post"],
                 ["search", "echo"], ["export", evil, "-f", "text"], ["export", evil, "-f", "markdown"],
                 ["replay", evil, "--no-wait"], ["stats"], ["list", "--json"], ["show", evil, "--json"],
                 ["search", "post", "--json"]):
        code, out, err = _run(capsys, *argv)
        assert code == 0, argv
        for bad in ("\x1b", "\x07", "\x9b"):
            assert bad not in out and bad not in err, (argv, bad)
    _, out, _ = _run(capsys, "show", evil)
    assert "[bold red]x[/]" in out  # rich markup in a command is shown, not interpreted
    _, out, _ = _run(capsys, "show", evil, "--json")
    assert json.loads(out)["commands"][0]["output"] == EVIL_OUT  # JSON keeps the data, escaped


def test_search_table_and_filters(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "search", "nope")
    assert code == 0 and sessions["ok"][:8] in out and "cat nope" in out
    _, out, _ = _run(capsys, "search", "total", "--failed", "--json")
    assert json.loads(out) == []
    _, out, _ = _run(capsys, "search", "nope", "--session", "last", "--json")
    assert json.loads(out) == []
    _, out, _ = _run(capsys, "search", "zzzunknown")
    assert "No matches." in out
    _, out, _ = _run(capsys, "search", "nope", "--cwd", "/home/u", "--json")
    assert [h["seq"] for h in json.loads(out)] == [2]
    assert set(json.loads(out)[0]) == {"session_id", "seq", "command", "exit_code", "started_at", "snippet", "actor"}


def test_replay_no_wait_plain_raw_and_one_command(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    ok = sessions["ok"]
    code, out, _ = _run(capsys, "replay", ok, "--no-wait")
    assert code == 0 and "ls -la\ntotal 0\n" in out and "\x1b" not in out
    _, out, _ = _run(capsys, "replay", ok, "--no-wait", "--raw")
    assert "\x1b[1m$\x1b[0m" in out and out.endswith("\x1b[0m\x1b[?25h")
    _, out, _ = _run(capsys, "replay", ok, "--no-wait", "--command", "2")
    assert "cat: nope" in out and "total 0" not in out
    code, _, err = _run(capsys, "replay", ok, "--command", "9", "--no-wait")
    assert code == 1 and "has no command 9" in err


def test_replay_with_timing_when_stdout_is_not_a_tty(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = make_session(cf_home, [Cmd("echo a", "a\n", gap=0.01, duration=0.01)])
    code, out, _ = _run(capsys, "replay", sid, "--speed", "50", "--idle-limit", "0.01")
    assert code == 0 and "echo a\na\n" in out


def test_export_to_file_is_private_and_plays_in_asciinema(
    sessions: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.cast"
    code, out, _ = _run(capsys, "export", sessions["ok"], "--format", "asciicast", "-o", str(target))
    assert code == 0 and out == ""
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    done = subprocess.run([shutil.which("asciinema") or "asciinema", "cat", str(target)],
                          capture_output=True, timeout=60)
    assert done.returncode == 0 and b"cat: nope: No such file" in done.stdout
    code, _, err = _run(capsys, "export", sessions["ok"], "-f", "gif")
    assert code == 2 and "unknown format 'gif'" in err


def test_export_survives_a_damaged_cast(sessions: dict[str, str], cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    append_lines(cast_path(sessions["ok"], cf_home), b"junk\n")
    code, out, err = _run(capsys, "export", sessions["ok"], "-f", "asciicast-v3")
    assert code == 0 and json.loads(out.splitlines()[0])["version"] == 3
    assert "corrupt line (not JSON), skipped" in err


def test_stats_table_with_bars(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "stats")
    assert code == 0 and "Commands 4" in out and "failed 1 (25.0%)" in out
    assert "█" in out and "cat" in out


def test_reindex(sessions: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "reindex")
    assert code == 0 and "indexed 3 sessions" in err


def test_empty_store_list(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list")
    assert code == 0 and "No sessions yet" in out
    assert not (cf_home / "sessions").exists()  # reading never creates sessions/


def test_every_read_command_has_help() -> None:
    names = {"list", "show", "replay", "search", "export", "stats", "reindex"}
    commands = {c.name: c for c in app.registered_commands if c.name in names}
    assert set(commands) == names
    for c in commands.values():
        assert c.callback is not None and (c.callback.__doc__ or "").strip()


@pytest.mark.pty
def test_replay_keys_on_a_real_terminal(cf_home: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    import sys

    sid = make_session(cf_home, [Cmd("echo first", "first-out\n"),
                                 Cmd("echo second", "second-out\n", gap=30.0)])
    env = dict(os.environ, CFSESSION_HOME=str(cf_home), TERM="xterm")
    child = pexpect.spawn(sys.executable, ["-m", "cfsession", "replay", sid[:8]], env=env,
                          timeout=20, dimensions=(24, 80))
    child.expect("first-out")
    child.send("n")  # skips the 30 s idle gap: the timeout would fire otherwise
    child.expect("second-out")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert child.before.endswith(b"\x1b[0m\x1b[?25h")  # terminal put back in order


def test_show_keeps_each_fact_on_its_line(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A directory (or a name) with a newline in it split the header: the next fact looked
    # like a line of its own. As in the list and search tables, the newline shows as ↵.
    sid = make_session(cf_home, [Cmd("ls", "x\n", cwd="/tmp/a\nb")], name="two\nlines", cwd="/tmp/a\nb")
    code, out, _ = _run(capsys, "show", sid)
    assert code == 0
    assert "  cwd         /tmp/a↵b\n" in out and "  name        two↵lines\n" in out
    code, out, _ = _run(capsys, "show", sid, "--output")
    assert "/tmp/a↵b" in out and "/tmp/a\nb" not in out
