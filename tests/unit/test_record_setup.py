"""Recorder set-up decisions that need no PTY."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cfsession.recorder.options import parse
from cfsession.recorder.wiring import Warner, load_redact, uuid4


def test_bad_user_pattern_keeps_the_default_shapes(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[redact]\npatterns = ["(unclosed"]\n')
    warn = Warner()
    _, redactor = load_redact(tmp_path, warn)
    assert "redact" in warn.seen  # one warning said the user patterns are off
    out, n = redactor.redact("token ghp_" + "a" * 36)  # the lazy wrapper builds it now
    assert n >= 1 and "ghp_" not in out


def test_session_ids_are_uuid4() -> None:
    ids = {uuid4() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)


def test_parse_command_after_double_dash() -> None:
    opts = parse(["--name", "x", "--", "make", "-j2"])
    assert opts is not None and opts.command == ["make", "-j2"] and opts.name == "x"


def test_pause_key_forms() -> None:
    import pytest

    from cfsession.errors import CfsessionError
    from cfsession.recorder.options import parse_key

    assert parse_key("C-]") == parse_key("^]") == parse_key("ctrl-]") == b"\x1d"
    assert parse_key("c-a") == b"\x01"
    for bad in ("Z", "C-é", "C-ab", ""):
        with pytest.raises(CfsessionError):
            parse_key(bad)


def test_pipes_off_a_terminal_by_default_and_on_windows_only_when_asked(monkeypatch: Any) -> None:
    import os

    from cfsession.recorder import launch as rmain

    monkeypatch.setattr(os, "isatty", lambda fd: fd != 1)  # stdout is a pipe
    assert rmain.use_pipes(None) is True
    assert rmain.use_pipes(True) is False  # --pty
    monkeypatch.setattr(os, "isatty", lambda fd: True)
    assert rmain.use_pipes(None) is False and rmain.use_pipes(False) is True  # --no-pty
    monkeypatch.setattr(os, "isatty", lambda fd: False)
    monkeypatch.setattr(rmain.os, "name", "nt")
    assert rmain.use_pipes(None) is False and rmain.use_pipes(False) is True
