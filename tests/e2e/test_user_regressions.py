"""Defects found by using cfsession as a demanding user would; each test reproduces one
through a real shell on a real PTY."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests import pty_harness as h
from tests import shells_factory as sf
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_a_command_cut_off_by_a_hangup_has_no_status(kind: str, sig: signal.Signals, user_home: Path, cf_home: Path) -> None:
    """The terminal closes (SIGHUP) or the recorder is told to stop (SIGTERM) while a
    command runs: the shell goes down with it, and zsh's and fish's exit hooks report the
    *shell's* status (zsh 1, fish 0). That status is not the command's: a killed `sleep`
    must not be recorded as having succeeded (fish) or failed with 1 (zsh)."""
    sf.write_rc(kind, user_home)
    sh = sf.start(kind, require_shell(kind), user_home, cf_home)
    sh.run("echo one")
    sh.child.sendline("sleep 30")
    h.wait_foreground(sh.child.pid, "sleep")
    os.kill(sh.child.pid, sig)
    sh.child.expect(pexpect.EOF, timeout=20)
    sh.child.close()
    cmds = sf.commands(cf_home)
    assert [c["command"] for c in cmds] == ["echo one", "sleep 30"]
    cut = cmds[-1]
    assert (cut["exit_code"], cut["status_kind"]) == (None, "unknown"), cut
    assert "missing_end" in cut["anomalies"]
    end = sf.records(cf_home)[-1]
    assert end["event_type"] == "session_end"
    assert end["reason"] == ("hangup" if sig == signal.SIGHUP else "signal")
    assert end["failed_count"] == 0  # unknown is not a failure


@pytest.mark.parametrize("io", ["--pty", "--no-pty"])
def test_record_from_a_deleted_directory_runs_the_command(io: str, tmp_path: Path, cf_home: Path) -> None:
    """`cfsession record` started in a directory that was removed (a build tree wiped
    under a shell) ran nothing and died with a traceback; the bare command runs there."""
    gone = tmp_path / "gone"
    gone.mkdir()
    rec = " ".join(shlex.quote(a) for a in h.cfsession_argv("record", "-q", io, "--", "sh", "-c", "echo ran; exit 4"))
    proc = subprocess.run(
        ["sh", "-c", f"cd {shlex.quote(str(gone))} && rmdir {shlex.quote(str(gone))} && exec {rec}"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "CFSESSION_HOME": str(cf_home)},
    )
    assert proc.returncode == 4, proc.stderr
    assert "ran" in proc.stdout
    assert "Traceback" not in proc.stderr
    (path,) = h.sessions(cf_home)
    recs = h.load(path)
    assert recs[0]["cwd"] == str(gone)  # where the user was ($PWD), as a shell would say
    (cmd,) = [r for r in recs if r["event_type"] == "terminal_capture"]
    assert cmd["exit_code"] == 4
    assert "ran" in cmd["output"].splitlines()  # besides sh's own getcwd() complaint


AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_aws_cli_secret_key_is_redacted_everywhere(bash: str, user_home: Path, cf_home: Path) -> None:
    """`aws configure set aws_secret_access_key VALUE` is how the AWS CLI's own docs store
    the key; TRUST.md promises `aws_secret_access_key` values are redacted, but the
    space-separated form reached the command, the output and the .cast as typed."""
    line = f"printf '%s\\n' 'aws configure set aws_secret_access_key {AWS_SECRET}'"
    sf.typed("bash", bash, user_home, cf_home, line)
    (path,) = h.sessions(cf_home)
    for f in (path, path.with_suffix(".cast")):
        assert AWS_SECRET not in f.read_text(encoding="utf-8"), f.name
    (cmd,) = sf.commands(cf_home)
    assert "aws_secret_access_key [REDACTED:aws_secret_key]" in cmd["command"]
    assert cmd["output"] == "aws configure set aws_secret_access_key [REDACTED:aws_secret_key]\n"


def test_bash_command_that_empties_history_keeps_its_text(bash: str, user_home: Path, cf_home: Path) -> None:
    """bash's text comes from `history 1` at the next prompt; `history -c` and
    `HISTSIZE=0` empty the history they are read from, and were recorded as the command
    "" (neither the line nor null). The line as typed is on the screen: use it."""
    sf.typed("bash", bash, user_home, cf_home, "echo before", "history -c", "echo after", "HISTSIZE=0")
    cmds = sf.commands(cf_home)
    assert [c["command"] for c in cmds] == ["echo before", "history -c", "echo after", "HISTSIZE=0"]
    assert [c["exit_code"] for c in cmds] == [0, 0, 0, 0]


def test_prompt_redrawn_after_pause_is_not_part_of_the_exit(bash: str, user_home: Path, cf_home: Path) -> None:
    """Pause at the prompt, run something (not recorded), resume, redraw the prompt
    (Ctrl-L, a window resize) and `exit`: the prompt drawn while paused was unknown, so
    the redrawn prompt was taken for typed text and the session got a command
    "CFTESTPROMPT$ exit" (and one command too many)."""
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    rec = h.start(bash, user_home, cf_home, args=("--pause-key", "C-]"))
    rec.run("echo one")
    rec.child.send("\x1d")  # pause
    rec.run("echo typed-while-paused")
    rec.child.send("\x1d")  # resume, at the prompt drawn while paused
    rec.child.sendcontrol("l")  # readline clears the screen and draws the prompt again
    rec.expect_prompt()
    assert rec.finish() == 0
    cmds = h.commands(cf_home)
    assert [c["command"] for c in cmds] == ["echo one"]
    end = h.load(h.sessions(cf_home)[0])[-1]
    assert (end["command_count"], end.get("end_command")) == (1, "exit")


@pytest.mark.parametrize("closed", ["2>&-", ">&-", "<&-"])
def test_record_with_a_closed_standard_descriptor_runs_the_command(closed: str, tmp_path: Path, cf_home: Path) -> None:
    """A closed stdout or stderr (a daemon's, cron's, `2>&-`): Python leaves sys.stdout or
    sys.stderr None and the recorder died with a traceback before running anything. The
    bare command runs; so does the recorded one (what it writes there goes nowhere)."""
    mark = tmp_path / "ran"
    work = f"echo out; echo err >&2; : > {shlex.quote(str(mark))}; exit 3"
    rec = " ".join(shlex.quote(a) for a in h.cfsession_argv("record", "-q", "--", "sh", "-c", work))
    proc = subprocess.run(
        [require_shell("bash"), "-c", f"{rec} {closed}"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "CFSESSION_HOME": str(cf_home)},
    )
    assert "Traceback" not in proc.stderr
    assert mark.exists(), proc.stderr
    assert proc.returncode == 3, proc.stderr
    if closed != ">&-":
        assert proc.stdout == "out\n"
    (path,) = h.sessions(cf_home)
    (cmd,) = [r for r in h.load(path) if r["event_type"] == "terminal_capture"]
    assert cmd["exit_code"] == 3


@pytest.mark.parametrize("argv", [("list",), ("show", "last"), ("record", "-q", "--", "true")])
def test_a_store_path_that_is_a_file_or_a_shared_dir_is_left_as_it_is(argv: tuple[str, ...], tmp_path: Path) -> None:
    """CFSESSION_HOME pointing at an existing file (a typo, `CFSESSION_HOME=~/.bashrc`) or
    at a shared sticky directory (`/tmp`): the store's "tighten to 0700" check chmod-ed
    it — a file the user owns became 0700 (as root, `/etc/passwd`: no other user could
    log in any more), a sticky /tmp became root's alone. Neither is a store: leave them."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    a_file.chmod(0o644)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    for home, mode in ((a_file, 0o644), (shared, 0o1777)):
        proc = subprocess.run(
            h.cfsession_argv(*argv),
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "CFSESSION_HOME": str(home)},
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in proc.stderr
        assert os.stat(home).st_mode & 0o7777 == mode, (home, proc.stderr)
        if argv[0] != "record":  # the recorder runs the command without recording instead
            assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    if argv[0] == "list":  # and doctor says so, rather than "writable"
        for home in (a_file, shared):
            out = subprocess.run(h.cfsession_argv("doctor", "--json"), capture_output=True, text=True, timeout=60,
                                 env={**os.environ, "CFSESSION_HOME": str(home)}, stdin=subprocess.DEVNULL).stdout
            assert json.loads(out)["storage"]["writable"] is False, out


@pytest.mark.parametrize("pty", [True, False])
def test_api_record_from_a_deleted_directory(pty: bool, tmp_path: Path, cf_home: Path) -> None:
    """`api.record()` in a process whose directory was removed raised FileNotFoundError
    (os.getcwd) before recording anything; subprocess.run works there."""
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        "import os\nfrom cfsession import api\n"
        f"os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})\n"
        "with api.record('here') as rec:\n"
        f"    r = rec.run(['sh', '-c', 'echo ran; exit 4'], pty={pty})\n"
        "print('exit', r.exit_code, r.cwd)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CFSESSION_HOME": str(cf_home), "PWD": str(gone)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"exit 4 {gone}"
    (cmd,) = [r for r in h.load(h.sessions(cf_home)[0]) if r["event_type"] == "terminal_capture"]
    assert cmd["exit_code"] == 4 and "ran" in cmd["output"]


@pytest.mark.parametrize("io", ["--pty", "--no-pty"])
def test_a_secret_in_the_session_name_is_redacted(io: str, tmp_path: Path, cf_home: Path) -> None:
    """`--name` went into session_start and the .cast title as typed: a token pasted into
    it was kept in clear (the command line, output and .cast are redacted)."""
    name = "deploy ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    proc = subprocess.run(h.cfsession_argv("record", "-q", io, "--name", name, "--", "true"), capture_output=True,
                          text=True, timeout=30, env={**os.environ, "CFSESSION_HOME": str(cf_home)})
    assert proc.returncode == 0, proc.stderr
    (path,) = h.sessions(cf_home)
    start = h.load(path)[0]
    assert start["name"] == "deploy [REDACTED:github_token]"
    cast = path.with_suffix(".cast").read_text().splitlines()[0]
    assert "ghp_" not in cast and "[REDACTED:github_token]" in json.loads(cast)["title"]
