"""Trust through real processes: permissions, signals, SIGKILL, a full disk, concurrent
recorders, and secrets that must not reach the disk (issue 6)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import psutil
import pytest

from cfsession.verify import INCOMPLETE, INTACT, verify_session
from tests import pty_harness as h
from tests.conftest import require_shell

pytestmark = pytest.mark.pty

TOKEN = "ghp_" + "aB3" * 12  # a GitHub-shaped fake, assembled so no scanner flags this file


def _record(
    cf_home: Path, *argv: str, umask: int | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``cfsession record -- ARGV`` without a terminal (stdin /dev/null, pipes)."""

    def pre() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        h.cfsession_argv("record", "--", *argv),
        env=dict(os.environ, CFSESSION_HOME=str(cf_home)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=pre,
        cwd=str(cf_home.parent),
    )


def _only_session(cf_home: Path) -> Path:
    (path,) = h.sessions(cf_home)
    return path


@pytest.fixture
def bash_home(user_home: Path) -> Path:
    (user_home / ".bashrc").write_text(f"PS1='{h.PROMPT}'\n")
    return user_home


# -- permissions ---------------------------------------------------------------------------
def test_store_is_private_whatever_the_umask(cf_home: Path) -> None:
    done = _record(cf_home, "sh", "-c", "echo hi", umask=0)
    assert done.returncode == 0, done.stderr
    subprocess.run(
        h.cfsession_argv("list"), env=dict(os.environ, CFSESSION_HOME=str(cf_home)),
        capture_output=True, check=True, timeout=60, preexec_fn=lambda: os.umask(0),
    )  # fmt: skip
    modes = {
        p.relative_to(cf_home).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in [cf_home, *cf_home.rglob("*")]
    }
    dirs = {k: v for k, v in modes.items() if (cf_home / k).is_dir()}
    files = {k: v for k, v in modes.items() if (cf_home / k).is_file()}
    assert {"sessions"} <= set(dirs) and len(files) >= 2
    assert set(dirs.values()) == {0o700}, dirs
    assert set(files.values()) == {0o600}, files


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the store to another user")
def test_store_owned_by_another_user_is_refused_clearly(cf_home: Path) -> None:
    cf_home.mkdir()
    nobody = 65534
    os.chown(cf_home, nobody, -1)
    done = _record(cf_home, "sh", "-c", "echo hi; exit 4")
    # The command still runs and keeps its exit code; the error says whose store it is.
    assert done.returncode == 4 and done.stdout.startswith("hi")
    assert f"{cf_home} belongs to uid {nobody}, not to you" in done.stderr
    assert "CFSESSION_HOME" in done.stderr
    assert list(cf_home.iterdir()) == []  # nothing was written into someone else's store
    listed = subprocess.run(
        h.cfsession_argv("list"), env=dict(os.environ, CFSESSION_HOME=str(cf_home)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 1
    assert listed.stderr.startswith(f"cfsession: {cf_home} belongs to uid {nobody}")


# -- signals ---------------------------------------------------------------------------------
def _start_sleeper(cf_home: Path, io: str = "--pty") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        h.cfsession_argv("record", io, "--", "sh", "-c", "echo ready; sleep 30"),
        env=dict(os.environ, CFSESSION_HOME=str(cf_home)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"  # the command runs: the pty is set up
    if io == "--pty":
        # A ^C that reaches sh before it has started sleep is deferred by sh until sleep ends
        # (as in a real terminal), so signal only once sleep is the foreground job.
        h.wait_foreground(proc.pid, "sleep")
    else:  # on pipes there is no foreground job: sleep only has to exist
        h.wait_for(lambda: any(p.name() == "sleep" for p in _descendants(proc.pid)), what="sleep running")
    return proc


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _reap(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Wait (with a deadline) for processes we started; kill by pid the ones that stay."""
    _, alive = psutil.wait_procs(procs, timeout=5)
    for p in alive:
        p.kill()
    return alive


@pytest.mark.parametrize(
    ("sig", "reasons"),
    [
        (signal.SIGTERM, {"signal"}),
        (signal.SIGHUP, {"hangup"}),
        # Without a terminal the recorder forwards ^C to the command, which then exits.
        (signal.SIGINT, {"signal", "exit"}),
    ],
)
@pytest.mark.parametrize("io", ["--pty", "--no-pty"])
def test_signal_to_a_command_recorder_closes_the_session(
    cf_home: Path, sig: signal.Signals, reasons: set[str], io: str
) -> None:
    proc = _start_sleeper(cf_home, io)
    kids = _descendants(proc.pid)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode > 128, err  # the command was ended by a signal: 128 + n
    assert not _reap(kids), "the recorded command outlived its recorder"
    recs = h.load(_only_session(cf_home))
    end = recs[-1]
    assert end["event_type"] == "session_end" and end["reason"] in reasons
    if end["reason"] == "exit":  # ^C forwarded: the command's own status
        assert end["exit_code"] == proc.returncode == 130
    else:  # the recorder was ended by `sig`, and says so as a shell would
        assert proc.returncode == 128 + sig and end["exit_code"] > 128
    assert verify_session(_only_session(cf_home)).status == INTACT


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_to_an_interactive_recorder_closes_the_session(
    bash_home: Path, cf_home: Path, sig: signal.Signals
) -> None:
    rec = h.start(require_shell("bash"), bash_home, cf_home)
    rec.run("echo one")
    rec.child.sendline("sleep 30")
    h.wait_foreground(rec.child.pid, "sleep")
    kids = _descendants(rec.child.pid)
    os.kill(rec.child.pid, sig)
    rec.child.expect(pexpect.EOF, timeout=20)
    rec.child.close()
    assert not _reap(kids)
    assert rec.child.exitstatus is not None and rec.child.exitstatus > 128
    recs = h.load(_only_session(cf_home))
    assert [r.get("command") for r in recs if r["event_type"] == "terminal_capture"] == [
        "echo one",
        "sleep 30",
    ]
    end = recs[-1]
    assert end["event_type"] == "session_end"
    assert end["reason"] == ("hangup" if sig == signal.SIGHUP else "signal")
    assert verify_session(_only_session(cf_home)).status == INTACT


def test_sigkill_leaves_a_readable_incomplete_intact_session(
    bash_home: Path, cf_home: Path
) -> None:
    rec = h.start(require_shell("bash"), bash_home, cf_home)
    rec.run("echo one")
    rec.run("printf 'two\\n'; false")
    rec.child.sendline("sleep 30")
    h.wait_foreground(rec.child.pid, "sleep")
    kids = _descendants(rec.child.pid)
    os.kill(rec.child.pid, signal.SIGKILL)
    rec.child.expect(pexpect.EOF, timeout=20)
    rec.child.close()
    assert rec.child.signalstatus == signal.SIGKILL
    assert not _reap(kids), "the shell survived its recorder"
    path = _only_session(cf_home)
    recs = h.load(path)  # every line parses: nothing half-written
    assert [r["event_type"] for r in recs] == [
        "session_start",
        "terminal_capture",
        "terminal_capture",
    ]
    assert [r["exit_code"] for r in recs[1:]] == [0, 1]
    res = verify_session(path)
    assert (res.status, res.ok, res.cast_checks) == (INCOMPLETE, True, 2)
    listed = subprocess.run(
        h.cfsession_argv("list", "--json"), env=dict(os.environ, CFSESSION_HOME=str(cf_home)),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert [s["status"] for s in json.loads(listed.stdout)] == ["incomplete"]


# -- a full disk -----------------------------------------------------------------------------
@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs (root only); skipped where mounting is not allowed."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def test_read_only_store_keeps_output_and_exit_code(tiny_fs: Path) -> None:
    cf_home = tiny_fs / "cf"
    assert _record(cf_home, "sh", "-c", "echo first").returncode == 0
    (earlier,) = h.sessions(cf_home)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True, timeout=30)
    done = _record(cf_home, "sh", "-c", "echo hi; exit 5")
    assert (done.returncode, done.stdout.strip()) == (5, "hi")
    warnings = [x for x in done.stderr.splitlines() if "warning" in x]
    assert len(warnings) == 1 and "Read-only file system" in warnings[0]
    assert h.sessions(cf_home) == [earlier]
    assert verify_session(earlier).status == INTACT


def _fill_disk(tiny: Path) -> tuple[Path, str, subprocess.CompletedProcess[str]]:
    cf_home = tiny / "cf"
    before = _record(cf_home, "sh", "-c", "echo small")  # a session recorded while there is room
    assert before.returncode == 0
    (earlier,) = h.sessions(cf_home)
    done = _record(cf_home, "sh", "-c", "seq 1 100000; exit 7")
    return earlier, before.stdout, done


def test_full_disk_keeps_output_exit_code_and_earlier_sessions(tiny_fs: Path) -> None:
    earlier, _, done = _fill_disk(tiny_fs)
    assert done.returncode == 7
    assert done.stdout.replace("\r\n", "\n") == "".join(f"{i}\n" for i in range(1, 100001))
    assert "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
    assert verify_session(earlier).status == INTACT  # what was written before is untouched


def test_full_disk_warns_once(tiny_fs: Path) -> None:
    # One line for the failed writes, however many there were; before it, at most one
    # saying that the .cast gave way to keep the room for the record (test_disk_full.py).
    _, _, done = _fill_disk(tiny_fs)
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert sum("No space left on device" in line for line in warnings) == 1, done.stderr
    assert len(warnings) <= 2 and all("No space" in w or "the replay (.cast) stops" in w for w in warnings), done.stderr


def test_full_disk_session_still_verifies(tiny_fs: Path) -> None:
    earlier, _, _ = _fill_disk(tiny_fs)
    (full,) = [p for p in h.sessions(tiny_fs / "cf") if p != earlier]
    assert verify_session(full).ok, verify_session(full).reason


def test_a_batch_cut_short_by_a_full_disk_keeps_its_whole_lines(tiny_fs: Path) -> None:
    """The bookkeeping child writes a batch of lines in one write: a full disk cuts that
    write short, and the file keeps exactly the batch's whole lines, chained."""
    from cfsession.sinks.jsonl import JsonlSink

    path = tiny_fs / "s.jsonl"
    warned: list[str] = []
    sink = JsonlSink(path, "s", on_warning=lambda code, msg: warned.append(code))
    sink.hold = True
    sink.write({"event_type": "session_start", "ts": "2026-01-01T00:00:00.000000Z"})
    sink.flush()
    fd = os.open(tiny_fs / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:  # fill the disk, then free 12 KiB of it
        while os.write(fd, b"\0" * 4096) == 4096:
            pass
    except OSError:
        pass
    os.ftruncate(fd, max(0, os.fstat(fd).st_size - 3 * 4096))
    os.close(fd)
    for i in range(20):  # ~30 KB: more than the disk has left
        sink.write({"event_type": "terminal_capture", "ts": "2026-01-01T00:00:01.000000Z", "output": f"{i}" * 1500})
    sink.flush()
    assert sink.failed == os.strerror(28) and warned == ["store_write_failed"]
    raw = path.read_bytes()
    assert raw.endswith(b"\n")  # never half a line
    lines = [json.loads(x) for x in raw.splitlines()]
    assert 2 <= len(lines) < 21, len(lines)  # some of the batch made it, not all
    assert [r["seq"] for r in lines] == list(range(1, len(lines) + 1))
    assert [r["prev_hash"] for r in lines[1:]] == [r["hash"] for r in lines[:-1]]
    assert (sink.seq, sink.last_hash) == (len(lines), lines[-1]["hash"])  # what the exit line reports


# -- concurrency ---------------------------------------------------------------------------------
def test_concurrent_recorders_lose_no_lines(bash_home: Path, cf_home: Path) -> None:
    bash = require_shell("bash")
    recs = [h.start(bash, bash_home, cf_home) for _ in range(4)]
    listed = subprocess.run(
        h.cfsession_argv("list", "--json"), env=dict(os.environ, CFSESSION_HOME=str(cf_home)),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert [s["status"] for s in json.loads(listed.stdout)] == ["recording"] * 4
    for i in range(8):  # interleaved: every recorder runs a command before the next round
        for n, rec in enumerate(recs):
            out = rec.run(f"seq 1 {200 + n}; echo r{n}c{i}")
            assert f"r{n}c{i}" in out
    for rec in recs:
        assert rec.finish() == 0
    paths = h.sessions(cf_home)
    assert len(paths) == 4
    seen = set()
    for path in paths:
        recs_ = h.load(path)
        caps = [r for r in recs_ if r["event_type"] == "terminal_capture"]
        assert len(caps) == 8 and recs_[-1]["event_type"] == "session_end"
        assert recs_[-1]["end_command"] == "exit"  # the session's end, not a command
        (n,) = {int(c["command"].split()[2].rstrip(";")) - 200 for c in caps}
        for i, c in enumerate(caps):
            assert c["output"].splitlines() == [*map(str, range(1, 201 + n)), f"r{n}c{i}"]
        seen.add(n)
        assert verify_session(path).status == INTACT
    assert seen == {0, 1, 2, 3}


# -- secrets -----------------------------------------------------------------------------------
def test_secret_in_output_never_reaches_the_disk(cf_home: Path) -> None:
    cf_home.parent.joinpath("secret.txt").write_text(f"token {TOKEN}\npassword=hunter2\n")
    done = _record(cf_home, "cat", "secret.txt")
    assert done.returncode == 0
    assert TOKEN in done.stdout  # the terminal still shows it: only the recording is redacted
    for path in cf_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and b"hunter2" not in data, path
    (cap,) = [r for r in h.load(_only_session(cf_home)) if r["event_type"] == "terminal_capture"]
    assert cap["redactions"] == 2
    assert "[REDACTED:github_token]" in cap["output"]


def test_secret_in_argv_never_reaches_the_disk(cf_home: Path) -> None:
    done = _record(cf_home, "sh", "-c", f"echo {TOKEN}")
    assert done.returncode == 0 and TOKEN in done.stdout
    for path in cf_home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_secret_typed_key_by_key_stays_out_of_the_cast(bash_home: Path, cf_home: Path) -> None:
    """The echo of a command typed slowly arrives one character per read."""
    rec = h.start(require_shell("bash"), bash_home, cf_home)
    line = f"echo {TOKEN} >/dev/null"
    for ch in line:
        rec.child.send(ch)
        rec.child.expect_exact(ch, timeout=10)  # its echo came back before the next key
        time.sleep(0.02)  # > the cast writer's 10 ms coalescing window: separate events
    rec.child.send("\r")
    rec.expect_prompt()
    assert rec.finish() == 0
    path = _only_session(cf_home)
    assert TOKEN.encode() not in path.read_bytes()
    events = [json.loads(x) for x in path.with_suffix(".cast").read_text().splitlines()[1:]]
    replayed = "".join(e[2] for e in events if e[1] == "o")
    assert TOKEN not in replayed


def test_the_recorder_anchors_what_it_wrote(cf_home: Path) -> None:
    from cfsession.anchor import anchor_path, read_anchor

    done = _record(cf_home, "sh", "-c", "echo hi")
    assert done.returncode == 0, done.stderr
    path = _only_session(cf_home)
    lines = [json.loads(x) for x in path.read_bytes().splitlines()]
    anchor = read_anchor(anchor_path(path.stem, cf_home))
    assert anchor is not None and anchor.session_id == path.stem
    assert (anchor.first_hash, anchor.seq, anchor.hash) == (lines[0]["hash"], len(lines), lines[-1]["hash"])
    res = verify_session(path, anchor=anchor)
    assert res.status == INTACT and res.anchored


def test_a_c1_string_control_hides_nothing_that_a_terminal_shows(cf_home: Path) -> None:
    """Through the real recorder: an 8-bit OSC ended by a 7-bit ST, a stray DCS, a long
    output whose secret straddles where main cut it (32 KiB); the text export agrees."""
    script = (
        r"printf 'A\302\2350;title\033\\AFTER-ST\n'; printf 'B\302\220line one\nline two\n';"
        rf" head -c 32703 /dev/zero | tr '\0' x; printf ' {TOKEN} '; head -c 200000 /dev/zero | tr '\0' y"
    )
    done = _record(cf_home, "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    (cap,) = [r for r in h.load(_only_session(cf_home)) if r["event_type"] == "terminal_capture"]
    assert cap["output"].startswith("AAFTER-ST\nB\nline two\n")
    assert cap["anomalies"] == ["unterminated_string_control"] and cap["output_truncated"]
    assert TOKEN[4:12] not in cap["output"] and TOKEN[-8:] not in cap["output"]
    env = dict(os.environ, CFSESSION_HOME=str(cf_home))
    text = subprocess.run(h.cfsession_argv("export", "last", "--format", "text"), env=env,
                          capture_output=True, text=True, check=True, timeout=60).stdout
    assert "AAFTER-ST" in text and "line two" in text and TOKEN[4:12] not in text
