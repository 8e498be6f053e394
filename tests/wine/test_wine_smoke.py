"""The Windows job: scripts/wine-smoke runs cfsession on a real win64 CPython under Wine.

The script is run once for the module; each check it reports is one test here, so a
failure names its check. In CI a missing Wine fails; elsewhere it skips. The cache the
script keeps (``CFSESSION_WINE_CACHE``, default ``~/.cache/cfsession-wine``) makes every
run after the first fast.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "wine-smoke"
LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S+)(?: — (.*))?$")
# Every check the job must report; only these may be skipped (and why).
CHECKS = [
    "setup", "platform", "imports", "help", "etw-info-pipe", "etw-info-cp437", "etw-info-more",
    "doctor", "etw-emitter", "psutil", "record-oneshot", "record-unicode", "list", "show", "verify",
    "record-powershell", "cast-utf8", "cast-plays",
]
MAY_SKIP = {"record-powershell": "Wine has no working PowerShell"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

Smoke = tuple[subprocess.CompletedProcess[str], dict[str, tuple[str, str]]]


@pytest.fixture(scope="module")
def smoke() -> Smoke:
    missing = [t for t in ("wine", "wineserver", "Xvfb", "xauth") if shutil.which(t) is None]
    if not (shutil.which("wine64") or Path("/usr/lib/wine/wine64").exists()):
        missing.append("wine64")
    if missing:
        msg = f"{', '.join(missing)} not installed — apt-get install -y wine wine64 xvfb xauth"
        if os.environ.get("CI"):
            pytest.fail(f"{msg} (CI must run the Windows job)")
        pytest.skip(msg)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=880,
        stdin=subprocess.DEVNULL,
    )
    results: dict[str, tuple[str, str]] = {}
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            results[m[2]] = (m[1], m[3] or "")
    return proc, results


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return f"\n--- wine-smoke stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-1500:]}"


@pytest.mark.parametrize("check", CHECKS)
def test_windows_check(smoke: Smoke, check: str) -> None:
    proc, results = smoke
    assert check in results, f"wine-smoke reported no {check!r} check{_tail(proc)}"
    status, detail = results[check]
    if status == "SKIP":
        assert check in MAY_SKIP, f"{check} was skipped: {detail}"
        return
    assert status == "PASS", f"{check}: {detail}"


def test_job_reports_only_known_checks_and_its_exit_code_agrees(smoke: Smoke) -> None:
    proc, results = smoke
    assert set(results) <= set(CHECKS), f"unlisted checks: {set(results) - set(CHECKS)}"
    failed = [name for name, (status, _) in results.items() if status == "FAIL"]
    assert (proc.returncode == 0) == (not failed), f"exit {proc.returncode}, failed {failed}{_tail(proc)}"
