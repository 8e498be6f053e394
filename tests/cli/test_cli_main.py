"""The CLI's frame: usage errors exit 2 with one message, library errors exit 1, --version."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cfsession.cli import _common, run


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["list", "--limit", "abc"], "not a valid int"),
        (["show"], "Missing argument"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_exit_2(args: list[str], needle: str, cf_home: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_unknown_session_is_one_line(cf_home: object, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["show", "0123"])
    err = capsys.readouterr().err
    assert code in (1, 2)
    assert err.startswith("cfsession: ") and err.count("\n") == 1


def test_version_and_help_in_a_process() -> None:
    out = subprocess.run([sys.executable, "-m", "cfsession", "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("cfsession ")
    out = subprocess.run([sys.executable, "-m", "cfsession", "record", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "-- CMD" in out.stdout or "command" in out.stdout


def test_print_json_escapes_c1_controls(capsys: pytest.CaptureFixture[str]) -> None:
    _common.print_json({"x": "a\x9b31mb\x1b"})
    out = capsys.readouterr().out
    assert "\x9b" not in out and "\x1b" not in out
    assert json.loads(out) == {"x": "a\x9b31mb\x1b"}


def test_every_command_has_help() -> None:
    import typer.main

    from cfsession.cli import app

    group = typer.main.get_command(app)
    missing = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", {name: cmd})
        for sub_name, sub in subs.items():
            if not (sub.help or "").strip():
                missing.append(f"{name} {sub_name}")
    assert missing == []


def test_store_that_is_not_a_directory_is_one_line(tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    afile = Path(str(tmp_path)) / "not-a-dir"
    afile.write_text("x")
    monkeypatch.setenv("CFSESSION_HOME", str(afile))
    assert run(["list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cfsession: ") and "CFSESSION_HOME" in err and err.count("\n") == 1
