"""Drive ``cfsession record`` through a real pseudo-terminal (pexpect) in a hermetic HOME.

Synchronisation is on output (a unique prompt string), never on sleeps.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect

PROMPT = "CFTESTPROMPT$ "
PROMPT_RE = r"CFTESTPROMPT\$ "


def base_env(home: Path, cf_home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "CFSESSION_HOME": str(cf_home),
        "HISTFILE": str(home / ".history"),
    }
    for key in ("CI", "PYTHONPATH", "VIRTUAL_ENV", "CFSESSION_ETW_CAPTURE"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env


def cfsession_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "cfsession", *args]


@dataclass
class Recording:
    child: pexpect.spawn
    cf_home: Path

    def expect_prompt(self, timeout: float = 15) -> str:
        self.child.expect(PROMPT_RE, timeout=timeout)
        return str(self.child.before)

    def run(self, line: str, timeout: float = 15) -> str:
        self.child.sendline(line)
        return self.expect_prompt(timeout)

    def finish(self, line: str = "exit", timeout: float = 15) -> int:
        self.child.sendline(line)
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else 128 + (self.child.signalstatus or 0))


def start(
    shell: str,
    home: Path,
    cf_home: Path,
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    dimensions: tuple[int, int] = (30, 120),
    wait_prompt: bool = True,
) -> Recording:
    child = pexpect.spawn(
        cfsession_argv("record", "--shell", shell, *args)[0],
        cfsession_argv("record", "--shell", shell, *args)[1:],
        env=env or base_env(home, cf_home),
        cwd=str(home),
        encoding="utf-8",
        codec_errors="replace",
        timeout=15,
        dimensions=dimensions,
    )
    rec = Recording(child, cf_home)
    if wait_prompt:
        rec.expect_prompt()
    return rec


def sessions(cf_home: Path) -> list[Path]:
    return sorted((cf_home / "sessions").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def commands(cf_home: Path) -> list[dict[str, Any]]:
    (path,) = sessions(cf_home)
    return [r for r in load(path) if r["event_type"] == "terminal_capture"]


def wait_foreground(root_pid: int, name: str, timeout: float = 10.0) -> None:
    """Wait until a descendant ``name`` is the foreground job of its terminal.

    Ctrl-C sent earlier races with the shell's own job control (the child exists but the
    shell has not yet made it the terminal's foreground group) — a real user would just
    press it again; a test must not.
    """
    import time

    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.Process(root_pid).children(recursive=True):
            try:
                if proc.name() != name:
                    continue
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                pgrp, tpgid = int(fields[2]), int(fields[5])
            except (psutil.Error, OSError, IndexError, ValueError):
                continue
            if pgrp == tpgid:
                return
        time.sleep(0.02)
    raise AssertionError(f"{name} never became the foreground job")


def wait_for(pred, timeout: float = 10.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``pred`` until it is true (with a deadline); fails the test naming ``what``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
