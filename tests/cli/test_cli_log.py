"""Diagnostics logging: off (and loguru not imported) by default; ``--debug`` and
``CFSESSION_LOG`` write a private, rotating log of metadata, never recorded data."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PAYLOAD = "PAYLOAD-7f3e-never-logged"


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k != "CFSESSION_LOG"}
    e.update(CFSESSION_HOME=str(home), **env)
    return subprocess.run(
        [sys.executable, "-m", "cfsession", *args], env=e, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60,
    )


def log_text(home: Path) -> str:
    return (home / "logs" / "cfsession.log").read_text(encoding="utf-8")


def test_off_by_default_imports_nothing(cf_home: Path) -> None:
    code = (
        "import sys; from cfsession._entry import main; main(['record', '-q', '--', 'true']);"
        "main(['list']); print('loguru' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "CFSESSION_LOG"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr
    assert not (cf_home / "logs").exists()


def test_debug_flag_logs_to_private_file_and_stderr(cf_home: Path) -> None:
    out = run(["--debug", "list"], cf_home)
    assert out.returncode == 0, out.stderr
    assert "cfsession: debug: command" in out.stderr
    path = cf_home / "logs" / "cfsession.log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "command" in log_text(cf_home) and "'name': 'list'" in log_text(cf_home)


def test_record_logs_metadata_only(cf_home: Path) -> None:
    out = run(["record", "-q", "--", "sh", "-c", f"echo {PAYLOAD}; exit 3"], cf_home,
              CFSESSION_LOG="debug")
    assert out.returncode == 3, out.stderr
    assert PAYLOAD in out.stdout  # passthrough untouched
    # Nothing on stderr while recording: the terminal is the shell's.
    assert "debug" not in out.stderr
    text = log_text(cf_home)
    sid = json.loads((next((cf_home / "sessions").glob("*.jsonl"))).read_text().splitlines()[0])["session_id"]
    started = [ln for ln in text.splitlines() if "session started" in ln]
    ended = [ln for ln in text.splitlines() if "session ended" in ln]
    assert started and sid in started[0] and "'shell_kind': 'sh'" in started[0]
    assert ended and "'exit_code': 3" in ended[0] and "'commands': 1" in ended[0]
    assert PAYLOAD not in text and "echo" not in text


def test_index_problems_are_logged_without_content(cf_home: Path) -> None:
    sdir = cf_home / "sessions"
    sdir.mkdir(parents=True)
    bad = sdir / "00000000-0000-4000-8000-000000000000.jsonl"
    bad.write_text(f"not json {PAYLOAD}\n", encoding="utf-8")
    out = run(["--debug", "list"], cf_home)
    assert out.returncode == 0, out.stderr
    text = log_text(cf_home)
    assert "index: file not indexed in full" in text and bad.name in text
    assert PAYLOAD not in text


def test_log_level_from_environment(cf_home: Path) -> None:
    out = run(["list"], cf_home, CFSESSION_LOG="warning")
    assert out.returncode == 0
    # Only warnings and above: the debug line of the command is not written.
    path = cf_home / "logs" / "cfsession.log"
    assert path.exists() and "command" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["0", "off", ""])
def test_log_off_values(cf_home: Path, value: str) -> None:
    out = run(["list"], cf_home, CFSESSION_LOG=value)
    assert out.returncode == 0
    assert not (cf_home / "logs").exists()
