"""Platform branches live behind the two seams (Pty/terminal, ETW); nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

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
