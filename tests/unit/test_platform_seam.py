"""Platform branches live behind the two seams (Pty/terminal, ETW); nowhere else."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

import cfsession

ALLOWED = {
    "recorder/pty.py",  # terminal backends
    "etw/__init__.py",  # the ETW facade
    "etw/_advapi32.py",  # its import guard
    "sinks/etw.py",
}


def test_sys_platform_is_consulted_only_at_the_seams() -> None:
    root = Path(cfsession.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        # Reading it to record it is fine; branching on it is not.
        if re.search(r"sys\.platform\s*(==|!=|\.startswith|\bin\b)|platform or sys\.platform", text) and rel not in ALLOWED:
            offenders.append(rel)
    assert offenders == []


def test_closing_a_pty_leaves_no_second_close_behind(tmp_path: Path) -> None:
    """ptyprocess closes its fd again when the object is collected; closing the bare fd
    number first let that second close hit whatever file took the number next (seen as
    EBADF in `doctor`'s concurrent probes)."""
    import gc

    if sys.platform == "win32":
        pytest.skip("POSIX backend")
    from cfsession.recorder._posix import spawn

    pty = spawn(["true"], env=dict(os.environ), cwd=None, cols=80, rows=24)
    number = pty.fileno()
    pty.wait()
    pty.close()
    opened = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    reused = os.dup2(opened, number)  # another file takes the PTY's old number
    os.close(opened)
    try:
        del pty
        gc.collect()
        os.fstat(reused)  # still open: nobody closed it behind our back
    finally:
        os.close(reused)
