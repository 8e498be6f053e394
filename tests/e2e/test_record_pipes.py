"""``record -- CMD`` as a pipe or CI wrapper: real pipes, real shells, the real CLI.

Without a terminal on stdin or stdout the command runs on pipes: it sees no terminal,
its stdin is the caller's, stdout and stderr stay apart (and are recorded apart), and
the records, hash chain and .cast are those of the PTY path.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from cfsession.verify import INTACT, verify_session
from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

CFS = " ".join(shlex.quote(a) for a in h.cfsession_argv())


def _sh(cmdline: str, cf_home: Path, cwd: Path | None = None, timeout: float = 60,
        **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmdline`` in a real shell (its pipes and redirections are the shell's)."""
    full = {**os.environ, "CFSESSION_HOME": str(cf_home), **env}
    full.pop("CFSESSION_ID", None)
    return subprocess.run([require_shell("bash"), "-c", cmdline], capture_output=True, env=full,
                          cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


def _only(cf_home: Path) -> list[dict]:  # type: ignore[type-arg]
    (path,) = h.sessions(cf_home)
    assert verify_session(path).status == INTACT
    return h.load(path)


def test_sort_reads_the_pipe_and_prints_only_its_result(cf_home: Path) -> None:
    proc = _sh(f"seq 1 5 | {CFS} record -q -- sort -r", cf_home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"5\n4\n3\n2\n1\n"  # no echo of the input, no CRLF
    recs = _only(cf_home)
    assert recs[0]["io"] == "pipes"
    (cap,) = [r for r in recs if r["event_type"] == "terminal_capture"]
    assert cap["output"] == "5\n4\n3\n2\n1\n" and cap["stderr"] == ""


def test_git_log_starts_no_pager(cf_home: Path, tmp_path: Path) -> None:
    git = require_shell("git")
    repo = tmp_path / "repo"
    genv = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
            "GIT_COMMITTER_EMAIL": "a@b"}
    subprocess.run([git, "init", "-q", str(repo)], check=True, env=genv)
    for i in range(5):
        (repo / "f").write_text(str(i))
        subprocess.run([git, "-C", str(repo), "add", "f"], check=True, env=genv)
        subprocess.run([git, "-C", str(repo), "commit", "-qm", f"c{i}"], check=True, env=genv)
    # On a terminal git would start `less` and wait for a key: on pipes it must not.
    proc = _sh(f"{CFS} record -q -- git log --oneline </dev/null | head -3", cf_home, cwd=repo,
               timeout=30, PAGER="less", GIT_PAGER="less", TERM="xterm")
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 3 and lines[0].endswith(" c4"), proc.stdout
    assert b"\r" not in proc.stdout


def test_stdout_and_stderr_stay_apart_and_are_both_recorded(cf_home: Path) -> None:
    work = "echo out1; echo err1 >&2; echo out2; exit 3"
    proc = _sh(f"{CFS} record -q -- sh -c {shlex.quote(work)} 2>/dev/null", cf_home)
    assert proc.returncode == 3
    assert proc.stdout == b"out1\nout2\n" and proc.stderr == b""  # 2>/dev/null still hides stderr
    proc = _sh(f"{CFS} record -q -- sh -c {shlex.quote(work)} >/dev/null", cf_home)
    assert proc.stdout == b"" and proc.stderr == b"err1\n"
    path = h.sessions(cf_home)[0]
    cap = next(r for r in h.load(path) if r["event_type"] == "terminal_capture")
    assert cap["stderr"] == "err1\n" and cap["stderr_length"] == 5
    assert sorted(cap["output"].splitlines()) == ["err1", "out1", "out2"]  # both, as they came
    assert cap["exit_code"] == 3 and cap["command"] == f"sh -c {shlex.quote(work)}"
    cast = path.with_suffix(".cast").read_text()
    assert "err1" in cast and "out2" in cast  # the screen had both


def test_stdout_and_stderr_sent_to_one_place_keep_their_order(cf_home: Path, tmp_path: Path) -> None:
    # `2>&1` (a CI log, `| tee`): two pipes cannot keep the order of writes across them,
    # so every stdout line came out before every stderr line (or after), on the caller's
    # side and in the record. Sent to one place, they go through one pipe, as they would
    # without the recorder.
    work = "for i in 1 2 3 4 5 6 7 8 9 10; do echo o$i; echo e$i >&2; done; exit 3"
    want = "".join(f"o{i}\ne{i}\n" for i in range(1, 11))
    proc = _sh(f"{CFS} record -q -- sh -c {shlex.quote(work)} 2>&1", cf_home)
    assert proc.returncode == 3
    assert proc.stdout.decode() == want
    log = tmp_path / "log"
    proc = _sh(f"{CFS} record -q -- sh -c {shlex.quote(work)} >{log} 2>&1", cf_home)
    assert proc.returncode == 3 and log.read_text() == want
    for path in h.sessions(cf_home):
        cap = next(r for r in h.load(path) if r["event_type"] == "terminal_capture")
        assert cap["output"] == want and cap["exit_code"] == 3
        assert "stderr" not in cap  # one stream, as on a terminal
        assert verify_session(path).status == INTACT


def test_messages_keep_argv0_and_shell_exit_codes(cf_home: Path, tmp_path: Path) -> None:
    proc = _sh(f"{CFS} record -q -- ls /no-such-dir-cfs", cf_home)
    assert proc.returncode == 2
    assert proc.stderr.startswith(b"ls: "), proc.stderr  # not /usr/bin/ls:
    proc = _sh(f"{CFS} record -q -- no-such-program-cfs", cf_home)
    assert proc.returncode == 127
    assert proc.stderr == "cfsession: no-such-program-cfs: command not found — check the name or PATH\n".encode()
    plain = tmp_path / "not-executable"
    plain.write_text("echo hi\n")
    proc = _sh(f"{CFS} record -q -- {plain}", cf_home)
    assert proc.returncode == 126 and b"cannot run" in proc.stderr
    proc = _sh(f"{CFS} record -q -- {tmp_path}", cf_home)
    assert proc.returncode == 126 and b"is a directory" in proc.stderr


def test_reader_leaving_ends_the_command(cf_home: Path) -> None:
    """`| head -1`: the command gets SIGPIPE as in a plain pipeline, instead of running on."""
    proc = _sh(f"{CFS} record -q -- yes | head -1", cf_home, timeout=30)
    assert proc.stdout == b"y\n"
    end = _only(cf_home)[-1]
    assert end["event_type"] == "session_end" and end["exit_code"] == 141  # 128 + SIGPIPE


def test_same_records_and_chain_as_the_pty_path(cf_home: Path, tmp_path: Path) -> None:
    work = "printf 'a\\nb\\n'; exit 4"
    shapes = {}
    for io in ("--pty", "--no-pty"):
        home = tmp_path / io
        proc = _sh(f"{CFS} record -q {io} -- sh -c {shlex.quote(work)}", home)
        assert proc.returncode == 4
        recs = _only(home)
        assert [r["event_type"] for r in recs] == ["session_start", "terminal_capture", "session_end"]
        assert [r["seq"] for r in recs] == [1, 2, 3]
        cap = recs[1]
        shapes[io] = set(cap) - {"stderr", "stderr_length"}
        assert cap["output"] == "a\nb\n" and cap["exit_code"] == 4
        assert recs[-1]["cast_sha256"] and recs[-1]["failed_count"] == 1
        assert recs[0]["io"] == io.lstrip("-").replace("no-pty", "pipes")
    assert shapes["--pty"] == shapes["--no-pty"]


def test_pty_flag_gives_a_terminal_on_pipes(cf_home: Path) -> None:
    proc = _sh(f"{CFS} record -q --pty -- sh -c 'test -t 1 && echo tty'", cf_home)
    assert proc.stdout == b"tty\r\n"  # a terminal: CRLF, as `script` gives


def test_on_a_terminal_the_default_is_a_pty_and_no_pty_is_pipes(cf_home: Path, user_home: Path) -> None:
    env = h.base_env(user_home, cf_home)
    probe = "test -t 1 && echo IS-A-TTY || echo NOT-A-TTY"
    for flags, want in (((), "IS-A-TTY"), (("--no-pty",), "NOT-A-TTY")):
        child = pexpect.spawn(sys.executable, ["-m", "cfsession", "record", "-q", *flags, "--", "sh", "-c", probe],
                              env=env, encoding="utf-8", timeout=30)
        child.expect(pexpect.EOF)
        child.close()
        assert want in str(child.before) and child.exitstatus == 0
    last = [json.loads(line) for line in h.sessions(cf_home)[-1].read_text().splitlines()]
    assert last[0]["io"] == "pipes"


def test_a_background_job_writes_on_after_the_command_ends(cf_home: Path, tmp_path: Path) -> None:
    """`record -- sh -c 'job &'` on pipes, as without the recorder: the recording (and the
    recorder) end when the command does, and the job it left keeps the caller's stdout and
    stderr: it writes to them later, without SIGPIPE. What it writes then is not recorded:
    the session ended with the command."""
    go, status = tmp_path / "go", tmp_path / "status"
    job = (f"(while [ ! -e {go} ]; do sleep 0.02; done; echo late; echo late-err >&2; echo $? > {status}) &"
           " echo early")
    env = {**os.environ, "CFSESSION_HOME": str(cf_home)}
    env.pop("CFSESSION_ID", None)
    proc = subprocess.Popen([*h.cfsession_argv(), "record", "-q", "--", "sh", "-c", job], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The job writes nothing until `go` exists, and `go` is made only once the recorder
        # has exited: it did not wait for the job.
        assert proc.wait(timeout=30) == 0
        go.touch()
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()  # to EOF: until the job has ended
    finally:
        go.touch()
        proc.kill()
    assert out == b"early\nlate\n"
    assert err == b"late-err\n"
    assert status.read_text() == "0\n"  # its writes succeeded: no SIGPIPE
    recs = _only(cf_home)
    assert [r["event_type"] for r in recs] == ["session_start", "terminal_capture", "session_end"]
    assert recs[1]["output"] == "early\n" and recs[-1]["exit_code"] == 0


def test_a_background_job_whose_reader_left_gets_sigpipe(cf_home: Path, tmp_path: Path) -> None:
    """`record -- sh -c 'job &' | head -1`: once the reader is gone, the job's writes fail as
    in a plain pipeline (SIGPIPE), instead of blocking forever on a pipe nobody reads."""
    go, status = tmp_path / "go", tmp_path / "status"
    job = f"(while [ ! -e {go} ]; do sleep 0.02; done; yes; echo $? > {status}) & echo early"
    env = {**os.environ, "CFSESSION_HOME": str(cf_home)}
    env.pop("CFSESSION_ID", None)
    line = f"{CFS} record -q -- sh -c {shlex.quote(job)} | head -1"
    # stderr to /dev/null: the job keeps the caller's stderr, as it would without us
    proc = subprocess.Popen([require_shell("bash"), "-c", line], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.communicate(timeout=30)[0] == b"early\n"
        go.touch()
        h.wait_for(status.exists, 20, "the job's `yes` never ended")
    finally:
        go.touch()
        proc.kill()
    h.wait_for(lambda: status.read_text() != "", 5, "the job's status")
    assert status.read_text() == "141\n"  # 128 + SIGPIPE
