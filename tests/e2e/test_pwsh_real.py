"""The generated PowerShell integration run for real through a POSIX PTY, when pwsh exists.

pwsh speaks the same marker protocol on Linux as on Windows (only ConPTY is missing), so
this checks the script itself: exit codes, $LASTEXITCODE kept, parts, cwd, hidden lines.
PowerShell is not in PyPI, Debian or npm (npm's `pwsh` downloads it at install time), so
on machines without it these tests skip rather than fail.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from cfsession.parts import PartJoiner
from cfsession.segmenter import Mark, Segmenter
from cfsession.shell import LaunchContext, make_tmpdir, prepare, remove_tmpdir
from tests import pty_harness as h

PWSH = shutil.which("pwsh")
pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(
        PWSH is None, reason="pwsh not installed (not obtainable from PyPI/Debian/npm)"
    ),
]
NONCE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
TIMEOUT_S = 40.0


def pwsh_home(home: Path, prompt: str) -> Path:
    prof = home / ".config" / "powershell"
    prof.mkdir(parents=True)
    (prof / "Microsoft.PowerShell_profile.ps1").write_text(
        f"function prompt {{ '{prompt}' }}\n", encoding="utf-8"
    )
    return home


def pwsh_env(home: Path, cf_home: Path) -> dict[str, str]:
    return h.base_env(home, cf_home, POWERSHELL_TELEMETRY_OPTOUT="1", POWERSHELL_UPDATECHECK="Off")


class Pwsh:
    """pwsh on a PTY; output split into data and our (joined) markers."""

    def __init__(self, home: Path, cf_home: Path) -> None:
        assert PWSH is not None
        self.tmpdir = make_tmpdir()
        env = pwsh_env(home, cf_home)
        ctx = LaunchContext(
            shell=PWSH, kind="pwsh", nonce=NONCE, login=False, env=env, tmpdir=self.tmpdir
        )
        launch = prepare(ctx)
        self.child = pexpect.spawn(
            launch.argv[0], launch.argv[1:], env=launch.env, cwd=str(home), dimensions=(30, 120)
        )
        self.seg = Segmenter(NONCE)
        self.joiner = PartJoiner()
        self.marks: list[Mark] = []
        self.raw = b""
        self.data = b""

    def pump(self, done: Callable[[], bool]) -> None:
        end = time.monotonic() + TIMEOUT_S
        while not done():
            if time.monotonic() > end:
                raise AssertionError(
                    f"timed out; last marks {self.marks[-4:]}, output tail {self.data[-400:]!r}"
                )
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.5)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return
            self.raw += chunk
            for piece in self.seg.feed(chunk):
                if isinstance(piece, Mark):
                    m = self.joiner.feed(piece)
                    if m is not None:
                        self.marks.append(m)
                else:
                    self.data += piece

    def prompts(self) -> int:
        return sum(1 for m in self.marks if m.event == "A")

    def run(self, line: str) -> tuple[Mark | None, Mark]:
        """Type ``line`` + Enter; wait for the next prompt; return (C or None, D)."""
        n = self.prompts()
        start = len(self.marks)
        self.child.send(line + "\r")
        self.pump(lambda: self.prompts() > n)
        new = self.marks[start:]
        c = next((m for m in new if m.event == "C"), None)
        d = next(m for m in new if m.event == "D")
        return c, d

    def close(self) -> None:
        self.child.close(force=True)
        remove_tmpdir(self.tmpdir)


@pytest.fixture
def shell(user_home: Path, cf_home: Path) -> Pwsh:
    sh = Pwsh(pwsh_home(user_home, "PSTEST> "), cf_home)
    yield sh  # type: ignore[misc]
    sh.close()


def test_integration_reports_commands_and_exit_codes(shell: Pwsh) -> None:
    shell.pump(lambda: shell.prompts() >= 1)
    hello = shell.marks[0]
    assert hello.event == "H"
    assert hello.fields["shell"] == "pwsh" and hello.fields["proto"] == "1"
    assert hello.fields["pid"] == str(shell.child.pid) and hello.fields["rl"] == "1"

    c, d = shell.run("Write-Output hi")
    assert c is not None and c.fields["cmd"] == "Write-Output hi" and c.fields["src"] == "readline"
    assert d.fields["st"] == "0" and d.fields["cmdno"] == c.fields["cmdno"] == "1"

    _, d = shell.run("sh -c 'exit 3'")
    assert (d.fields["st"], d.fields["ok"], d.fields["lec"], d.fields["lec_changed"]) == (
        "3",
        "0",
        "3",
        "1",
    )
    _, d = shell.run("Get-Item /nonexistent-cfsession")  # cmdlet error after a native failure
    assert (d.fields["st"], d.fields["err"], d.fields["lec_changed"]) == ("1", "1", "0")
    _, d = shell.run("sh -c 'exit 3'")  # same native code again: still 3
    assert d.fields["st"] == "3"
    shell.run("Write-Output lec=$LASTEXITCODE")
    assert b"lec=3" in shell.data  # our hooks left the user's $LASTEXITCODE alone

    c, d = shell.run("")  # empty Enter: nothing ran
    assert c is None and "st" not in d.fields

    long = "Write-Output '" + "\u00e9t\u00e9 \u65e5\u672c;\\x " * 40 + "'"
    c, d = shell.run(long)
    assert c is not None and c.fields["cmd"] == long and d.fields["st"] == "0"
    assert shell.joiner.lost == 0
    marks = re.findall(rb"\x1b\]6973;[^\x07]*\x07", shell.raw)
    assert marks and max(len(m) for m in marks) <= 200

    shell.run("Set-Location /tmp")
    cwd = [m for m in shell.marks if m.event == "P"][-1]
    assert cwd.fields["cwd"] == os.path.realpath("/tmp")

    assert NONCE.encode() not in shell.data  # markers never reach the terminal
    shell.child.send("exit 4\r")
    shell.pump(lambda: False)
    shell.child.close()
    assert shell.child.exitstatus == 4


def test_cfsession_records_a_pwsh_session(user_home: Path, cf_home: Path) -> None:
    assert PWSH is not None
    home = pwsh_home(user_home, h.PROMPT)
    rec = h.start(PWSH, home, cf_home, env=pwsh_env(home, cf_home))
    for line in ("Write-Output hi", "sh -c 'exit 3'", "Get-Item /nonexistent-cfsession"):
        rec.child.send(line + "\r")  # Enter as a terminal sends it (PSReadLine reads keys)
        rec.expect_prompt(timeout=TIMEOUT_S)
    rec.child.send("exit 5\r")
    rec.child.expect(pexpect.EOF, timeout=TIMEOUT_S)
    rec.child.close()
    assert rec.child.exitstatus == 5
    got = [(c["command"], c["exit_code"]) for c in h.commands(cf_home)]
    assert got == [
        ("Write-Output hi", 0),
        ("sh -c 'exit 3'", 3),
        ("Get-Item /nonexistent-cfsession", 1),
        ("exit 5", 5),
    ]
