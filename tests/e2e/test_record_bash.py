"""bash recorded through a real PTY: the records match what was typed and what happened."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from tests import pty_harness as h

pytestmark = pytest.mark.pty


@pytest.fixture
def bash_home(user_home: Path) -> Path:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\necho BASHRC-RAN >&2\n")
    return user_home


def test_ordinary_session(bash: str, bash_home: Path, cf_home: Path) -> None:
    rec = h.start(bash, bash_home, cf_home)
    seen = rec.child.before + rec.child.after
    (bash_home / "d ir").mkdir()
    rec.run("echo hi")
    rec.run("false")
    rec.run("sh -c 'exit 3'")
    rec.run("nosuchcmd_cfs")
    rec.run("cd 'd ir'")
    rec.run("for i in 1 2; do\necho n$i\ndone")
    rec.run("echo héllo wörld")
    rec.run("false | true")
    # Fake foreign integrations and a forged marker of ours: output only, no records.
    rec.run(r"printf '\033]133;D;0\007\033]633;E;ls\007\033]6973;0123456789abcdef0123456789abcdef;9;D;st=0\007done\n'")
    rec.child.sendline("")  # empty Enter: no record
    rec.expect_prompt()
    rec.child.send("abc")
    rec.child.expect("abc")  # readline has the text: Ctrl-C now cancels the line
    rec.child.sendcontrol("c")  # Ctrl-C at the prompt: no record
    rec.expect_prompt()
    rec.child.sendline("echo st''arted; sleep 30")
    rec.child.expect("started")  # the command runs: its output is the proof
    h.wait_foreground(rec.child.pid, "sleep")
    rec.child.sendcontrol("c")  # Ctrl-C during a command: 130
    out = rec.expect_prompt()
    seen += out
    assert rec.finish("exit 5") == 5

    cmds = h.commands(cf_home)
    got = [(c["command"], c["exit_code"]) for c in cmds]
    assert got == [
        ("echo hi", 0),
        ("false", 1),
        ("sh -c 'exit 3'", 3),
        ("nosuchcmd_cfs", 127),
        ("cd 'd ir'", 0),
        ("for i in 1 2; do echo n$i; done", 0),  # bash history joins lines (cmdhist)
        ("echo héllo wörld", 0),
        ("false | true", 0),
        (r"printf '\033]133;D;0\007\033]633;E;ls\007\033]6973;0123456789abcdef0123456789abcdef;9;D;st=0\007done\n'", 0),
        ("echo st''arted; sleep 30", 130),
    ]
    by = {c["command"]: c for c in cmds}
    assert by["echo hi"]["output"] == "hi\n"
    assert by["echo héllo wörld"]["output"] == "héllo wörld\n"
    assert by["for i in 1 2; do echo n$i; done"]["output"] == "n1\nn2\n"
    assert by["false | true"]["pipestatus"] == [1, 0]
    assert by["echo st''arted; sleep 30"]["status_kind"] == "likely_signal"
    cd = by["cd 'd ir'"]
    assert cd["cwd"] == str(bash_home) and cd["cwd_end"] == str(bash_home / "d ir")
    assert by["echo héllo wörld"]["cwd"] == str(bash_home / "d ir")
    forged = cmds[8]
    assert forged["output"].endswith("done\n")
    assert "spoof_attempt" in forged["anomalies"]
    for c in cmds:
        assert c["duration_ms"] >= 0
        assert c["started_at"] <= c["ended_at"]


def test_no_marker_bytes_reach_terminal_or_files(bash: str, bash_home: Path, cf_home: Path) -> None:
    rec = h.start(bash, bash_home, cf_home)
    seen = rec.child.before
    seen += rec.run("echo one")
    seen += rec.run("echo two")
    rec.finish()
    assert "\x1b]6973;" not in seen
    (jsonl,) = h.sessions(cf_home)
    cast = jsonl.with_suffix(".cast")
    assert "6973;" not in jsonl.read_text() and "\\u001b]6973" not in cast.read_text()
    # The private nonce never reaches the files or the terminal either.
    assert not re.search(r"[0-9a-f]{32};\d+;[DPACH]", seen)


def test_prompt_redrawn_by_readline_leaves_no_marker(bash: str, bash_home: Path, cf_home: Path) -> None:
    """Ctrl-L and a resize make readline draw the prompt again as it was, its B marker
    included (same seq): that copy is neither shown, nor recorded, nor a spoof."""
    rec = h.start(bash, bash_home, cf_home)
    seen = rec.run("echo one")
    rec.child.send("\x0c")  # clear-screen: the whole prompt again
    seen += rec.expect_prompt()
    rec.child.setwinsize(40, 100)  # SIGWINCH at the prompt: readline redraws its line
    seen += rec.run("echo two")
    rec.child.send("\x0c")
    seen += rec.expect_prompt()
    rec.finish()
    assert "\x1b]6973;" not in seen
    (jsonl,) = h.sessions(cf_home)
    cast = jsonl.with_suffix(".cast")
    assert "6973;" not in jsonl.read_text() and "6973;" not in cast.read_text()
    cmds = h.commands(cf_home)
    assert [c["command"] for c in cmds] == ["echo one", "echo two"]
    assert [c["output"] for c in cmds] == ["one\n", "two\n"]
    assert all("spoof_attempt" not in c["anomalies"] for c in cmds)


def test_files_private_and_summary(bash: str, bash_home: Path, cf_home: Path) -> None:
    rec = h.start(bash, bash_home, cf_home)
    rec.run("true")
    assert rec.finish() == 0
    (jsonl,) = h.sessions(cf_home)
    for p in (jsonl, jsonl.with_suffix(".cast")):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE((cf_home / "sessions").stat().st_mode) == 0o700
    lines = h.load(jsonl)
    assert lines[0]["event_type"] == "session_start" and lines[-1]["event_type"] == "session_end"
    assert lines[0]["integration"] == "active" and lines[0]["shell_kind"] == "bash"
    assert [r["seq"] for r in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["command_count"] == 1  # `true`; the `exit` is the session's end
    assert lines[-1]["end_command"] == "exit"


def test_user_rc_ran_once_and_prompt_command_kept(bash: str, user_home: Path, cf_home: Path) -> None:
    (user_home / ".bashrc").write_text(
        f"PS1='{h.PROMPT}'\necho RC-TOKEN-1\nPROMPT_COMMAND='echo \"[st=$?]\"'\n"
    )
    rec = h.start(bash, user_home, cf_home)
    assert rec.child.before.count("RC-TOKEN-1") == 1
    out = rec.run("sh -c 'exit 4'")
    assert "[st=4]" in out  # the user's prompt command still sees the real status
    rec.finish()
    cmds = h.commands(cf_home)
    assert [(c["command"], c["exit_code"], c["output"]) for c in cmds][0] == ("sh -c 'exit 4'", 4, "")


def test_hidden_and_duplicate_commands(bash: str, user_home: Path, cf_home: Path) -> None:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\nHISTCONTROL=ignoreboth\n")
    rec = h.start(bash, user_home, cf_home)
    rec.run("echo same")
    rec.run("echo same")  # ignoredups: not added to history, still recorded as typed
    rec.run(" echo topsecret")  # ignorespace: hidden
    rec.run("set +o history")
    rec.run("echo unlogged")
    rec.finish()
    got = [(c["command"], c["command_source"]) for c in h.commands(cf_home)]
    assert got == [  # the `exit` that ended the shell is not a command
        ("echo same", "history"),
        ("echo same", "history"),
        (None, "hidden"),
        ("set +o history", "history"),
        (None, "hidden"),
    ]


def test_set_x_does_not_leak_nonce(bash: str, bash_home: Path, cf_home: Path) -> None:
    rec = h.start(bash, bash_home, cf_home)
    seen = rec.run("set -x")
    seen += rec.run("echo traced")
    seen += rec.run("set +x")
    rec.finish()
    assert not re.search(r"[0-9a-f]{32}", seen)
    (jsonl,) = h.sessions(cf_home)
    assert not re.search(r"[0-9a-f]{32};", jsonl.with_suffix(".cast").read_text())
    assert [c["command"] for c in h.commands(cf_home)][:3] == ["set -x", "echo traced", "set +x"]


def test_ctrl_d_ends_session_with_shell_status(bash: str, bash_home: Path, cf_home: Path) -> None:
    rec = h.start(bash, bash_home, cf_home)
    rec.run("false")
    rec.child.sendeof()
    rec.child.expect(h.pexpect.EOF)
    rec.child.close()
    assert rec.child.exitstatus == 1  # bash exits with the last status
    assert [c["command"] for c in h.commands(cf_home)] == ["false"]
