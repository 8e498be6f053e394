"""bookkeeper.start when the system cannot fork: the session stays in the recorder."""

from __future__ import annotations

import os
import signal

import pytest

from cfsession.recorder import bookkeeper


def test_no_fork_means_in_process_and_no_fd_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # EAGAIN: no processes left

    monkeypatch.setattr(os, "fork", refuse)
    before = set(os.listdir("/dev/fd"))
    assert bookkeeper.start(object(), [], [], print, raw=False) is None
    assert set(os.listdir("/dev/fd")) == before


def test_inline_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFSESSION_BOOKKEEPING", "inline")
    assert not bookkeeper.available()
    monkeypatch.delenv("CFSESSION_BOOKKEEPING")
    assert bookkeeper.available() == hasattr(os, "fork")


class _StuckSession:
    """A session whose end never comes (as when a runaway [redact] pattern backtracks)."""

    cast = None
    on_warning = None

    def finish(self, *args: object) -> None:
        import time

        while True:
            time.sleep(60)


class _Warnings(list):  # type: ignore[type-arg]
    raw = False
    session = None

    def __call__(self, code: str, message: str) -> None:
        self.append((code, message))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the bookkeeping child needs fork")
def test_a_child_that_never_answers_is_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, the recorder waited in waitpid for ever and the child spun on as an orphan.
    monkeypatch.setattr(bookkeeper, "REPLY_TIMEOUT_S", 0.5)
    warn = _Warnings()
    remote = bookkeeper.start(_StuckSession(), [], [], warn, raw=False)
    assert remote is not None

    def too_long(signum: int, frame: object) -> None:
        os.kill(remote.pid, signal.SIGKILL)  # what the fix does; here only to end the test
        raise AssertionError("finish() still waiting for the child after 20 s")

    old = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(20)
    try:
        assert remote.finish(1.0, 0, "exit") is None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    with pytest.raises(ChildProcessError):
        os.waitpid(remote.pid, os.WNOHANG)  # already reaped: no zombie, no orphan
    assert [c for c, _ in warn] == ["bookkeeping"] and "did not finish" in warn[0][1]


class _DoneSession:
    """A session that ends at once (what the child's summary reads)."""

    cast = None
    on_warning = None
    command_count = 3
    failed_count = 0

    def finish(self, *args: object) -> None:
        pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the bookkeeping child needs fork")
def test_a_signal_just_after_the_fork_does_not_end_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    # A terminal closed (or `kill -- -PGID`) while the child is still starting: before, it
    # took its signals as the recorder had them until _serve ignored them, a few imports
    # later, and died with no session_end written. Here the child is held at the start of
    # that window (it inherits the patched profiling.run) while the signals come.
    import time

    from cfsession.recorder import profiling

    real_run = profiling.run

    def slow_start(fn, suffix=""):  # type: ignore[no-untyped-def]
        time.sleep(0.5)
        return real_run(fn, suffix)

    monkeypatch.setattr(profiling, "run", slow_start)
    remote = bookkeeper.start(_DoneSession(), [], [], _Warnings(), raw=False)
    assert remote is not None
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        os.kill(remote.pid, sig)
    summary = remote.finish(1.0, 0, "signal")
    assert summary is not None and summary["command_count"] == 3
