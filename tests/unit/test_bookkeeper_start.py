"""bookkeeper.start when the system cannot fork: the session stays in the recorder."""

from __future__ import annotations

import os

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
