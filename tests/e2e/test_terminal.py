"""The outer terminal: resize forwarded at once, settings restored on every exit path,
and `record -- CMD` without any terminal."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty


def wait_for(pred, timeout: float = 10.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_record_command_without_a_terminal(cf_home: Path) -> None:
    proc = subprocess.run(
        h.cfsession_argv("record", "-q", "--", "sh", "-c", "read x; echo got:$x; exit 3"),
        input=b"hello\n",
        capture_output=True,
        timeout=30,
        env={**os.environ, "CFSESSION_HOME": str(cf_home)},
    )
    assert proc.returncode == 3
    assert b"got:hello" in proc.stdout
    (c,) = h.commands(cf_home)
    assert c["command"] == "sh -c 'read x; echo got:$x; exit 3'"
    assert c["exit_code"] == 3 and "got:hello" in c["output"]


def test_record_command_not_found(cf_home: Path) -> None:
    proc = subprocess.run(
        h.cfsession_argv("record", "--", "no-such-program-cfs"),
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "CFSESSION_HOME": str(cf_home)},
    )
    assert proc.returncode == 127  # as a shell says it
    assert proc.stderr == "cfsession: no-such-program-cfs: command not found — check the name or PATH\n"


def test_sigint_to_command_recorder_reaches_the_command(cf_home: Path) -> None:
    proc = subprocess.Popen(
        h.cfsession_argv("record", "-q", "--", "sh", "-c", "echo ready; sleep 30"),
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CFSESSION_HOME": str(cf_home)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    import psutil

    # Ctrl-C before `sleep` exists would hit only sh (a real terminal has the same race).
    wait_for(
        lambda: any(c.name() == "sleep" for c in psutil.Process(proc.pid).children(recursive=True)),
        what="sleep running",
    )
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    (c,) = h.commands(cf_home)
    assert c["exit_code"] == 130 and c["status_kind"] == "likely_signal"


class Tmux:
    """A real outer terminal: a tmux server on a private socket."""

    def __init__(self, tmp: Path) -> None:
        self.sock = str(tmp / "tmux.sock")

    def __call__(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True, timeout=10)
        return out.stdout

    def pane(self) -> str:
        return self("capture-pane", "-p", "-t", "t")

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux(tmp_path: Path):  # type: ignore[no-untyped-def]
    require_shell("tmux")
    t = Tmux(tmp_path)
    yield t
    t.kill()


def start_in_tmux(tmux: Tmux, home: Path, cf_home: Path, inner: str) -> None:
    env = h.base_env(home, cf_home)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", f"env -i {exports} {inner}")


def test_resize_and_terminal_restore(tmux: Tmux, user_home: Path, cf_home: Path, tmp_path: Path) -> None:
    bash = require_shell("bash")
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    before = tmp_path / "before"
    after = tmp_path / "after"
    rec = " ".join(shlex.quote(a) for a in h.cfsession_argv("record", "--shell", bash))
    # An outer shell in tmux: save stty, record, save stty again.
    inner = f"sh -c {shlex.quote(f'stty -g > {before}; {rec}; stty -g > {after}; sleep 60')}"
    start_in_tmux(tmux, user_home, cf_home, inner)
    wait_for(lambda: h.PROMPT.strip() in tmux.pane(), what="first prompt")
    tmux("send-keys", "-t", "t", "tput cols; tput lines", "Enter")
    wait_for(lambda: "100\n30" in tmux.pane(), what="initial size")
    tmux("resize-window", "-t", "t", "-x", "77", "-y", "21")
    tmux("send-keys", "-t", "t", "clear; tput cols; tput lines", "Enter")
    wait_for(lambda: "77\n21" in tmux.pane(), what="new size inside the recording")
    tmux("send-keys", "-t", "t", "exit", "Enter")
    wait_for(lambda: after.exists() and after.read_text().strip(), what="recorder exit")
    assert after.read_text() == before.read_text()  # outer tty settings restored exactly
    (jsonl,) = h.sessions(cf_home)
    lines = h.load(jsonl)
    resizes = [r for r in lines if r["event_type"] == "resize"]
    assert resizes and (resizes[-1]["cols"], resizes[-1]["rows"]) == (77, 21)
    cast = [json.loads(x) for x in jsonl.with_suffix(".cast").read_text().splitlines()[1:]]
    assert [e[2] for e in cast if e[1] == "r"][-1] == "77x21"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_to_recorder_closes_session_and_restores(sig: int, tmux: Tmux, user_home: Path, cf_home: Path, tmp_path: Path) -> None:
    bash = require_shell("bash")
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    before, after, pidf = tmp_path / "before", tmp_path / "after", tmp_path / "pid"
    rec = " ".join(shlex.quote(a) for a in h.cfsession_argv("record", "--shell", bash))
    script = f"stty -g > {before}; {rec} & echo $! > {pidf}; wait; stty -g > {after}; sleep 60"
    # `&` in a non-interactive sh would detach stdin; run the recorder in the foreground
    # through an interactive-like wrapper instead: exec keeps the tty.
    script = f"stty -g > {before}; sh -c 'echo $$ > {pidf}; exec {rec}'; stty -g > {after}; sleep 60"
    start_in_tmux(tmux, user_home, cf_home, f"sh -c {shlex.quote(script)}")
    wait_for(lambda: h.PROMPT.strip() in tmux.pane(), what="first prompt")
    tmux("send-keys", "-t", "t", "echo started", "Enter")
    wait_for(lambda: "started\n" in tmux.pane(), what="command ran")
    os.kill(int(pidf.read_text()), sig)
    wait_for(lambda: after.exists() and after.read_text().strip(), what="recorder exit")
    assert after.read_text() == before.read_text()
    (jsonl,) = h.sessions(cf_home)
    end = h.load(jsonl)[-1]
    assert end["event_type"] == "session_end"
    assert end["reason"] == ("hangup" if sig == signal.SIGHUP else "signal")
    assert [c["command"] for c in h.commands(cf_home)] == ["echo started"]
    _ = sys, pexpect


@pytest.mark.parametrize("io", ["--pty", "--no-pty"])
def test_session_ends_with_the_shell_not_with_a_disowned_job(cf_home: Path, io: str) -> None:
    # The background job keeps the PTY (or the pipes) open for 30 s; the recording must end
    # with its shell (waitpid), not wait for EOF (SHELL_INTEGRATION.md §4.4). It ignores
    # the hang-up the PTY's end sends, as a nohup'd job would. On pipes it keeps writing to
    # the caller after that, as it would without the recorder (test_record_pipes.py).
    import psutil

    work = "(trap '' HUP; exec sleep 30) & echo $!; echo done"
    proc = subprocess.Popen(
        h.cfsession_argv("record", "-q", io, "--", "sh", "-c", work),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "CFSESSION_HOME": str(cf_home)},
    )
    assert proc.stdout is not None
    job = int(proc.stdout.readline())
    try:
        assert proc.wait(timeout=20) == 0
        assert psutil.pid_exists(job), "the recorder waited for the job instead of the shell"
        (c,) = h.commands(cf_home)
        assert c["exit_code"] == 0 and "done" in c["output"]
    finally:
        if psutil.pid_exists(job):
            os.kill(job, signal.SIGKILL)
        proc.stdout.close()
