"""The recording API given text no terminal could produce: the recording still holds together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cfsession import api


def test_a_lone_surrogate_in_a_name_or_command_keeps_the_chain(cf_home: Path) -> None:
    # "\ud800" is what json.loads makes of the escape "\ud800": an agent passing on a name
    # it was given. It is no UTF-8 text (nor a byte surrogateescape left), so it becomes
    # U+FFFD as undecodable bytes do; before, the session_start line was dropped whole.
    with api.record("build \ud800 x", actor="agent:ci", home=cf_home) as rec:
        ran = rec.run(["echo", "hi"], pty=False)
    assert ran.exit_code == 0
    lines = [json.loads(x) for x in rec.path.read_bytes().splitlines()]
    assert [x["event_type"] for x in lines][:1] == ["session_start"]
    assert lines[0]["name"] == "build \ufffd x"
    p = subprocess.run([sys.executable, "-m", "cfsession", "verify", ran.session_id],
                       env={**os.environ, "CFSESSION_HOME": str(cf_home)}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "intact" in p.stdout, p.stdout + p.stderr


def _bad_runs() -> list[tuple[object, dict[str, str] | None]]:
    return [("echo a\x00b", None), (["echo", "a\x00b"], None), ("echo \ud800", None),
            (["echo", "\udfff"], None), ("true", {"A": "b\x00c"})]


def test_a_command_no_program_could_be_given_is_a_usage_error_and_records_nothing(cf_home: Path) -> None:
    # NUL cannot be in an argv or the environment, a lone surrogate cannot be encoded for
    # one: said as UsageError before anything is recorded. Before, a raw ValueError (or
    # subprocess's bare Exception) came after a command line was recorded that never ran,
    # with its NUL kept: the server refuses a line with \u0000, so the whole session
    # could no longer be shipped.
    from cfsession.errors import UsageError

    with api.record("odd input", actor="agent:ci", home=cf_home) as rec:
        for pty in (True, False):
            for cmd, env in _bad_runs():
                try:
                    rec.run(cmd, env=env, pty=pty)  # type: ignore[arg-type]
                except UsageError as exc:
                    assert "\x00" not in str(exc)
                else:
                    raise AssertionError(f"{cmd!r} ran")
        ok = rec.run(["echo", "fine"], pty=False)
    assert ok.seq == 1
    lines = [json.loads(x) for x in rec.path.read_bytes().splitlines()]
    assert [x["event_type"] for x in lines] == ["session_start", "terminal_capture", "session_end"]
    assert b"\\u0000" not in rec.path.read_bytes()
