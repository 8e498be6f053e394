"""``cfsession record``'s arguments: one spec (recorder/options.py), one parser (cli/args.py).

The grammar is click's with ``allow_interspersed_args=False``: options end at the first
positional argument, and from there (or after ``--``) every argument belongs to the
command being recorded. The parser is checked against click's own parser built from the
same spec, then through real processes: usage errors read as click's (exit 2), help is
Typer's drawn from the spec, and the Typer app reaches the same parser.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cfsession.cli import args
from cfsession.cli.args import ArgError
from cfsession.paths import sessions_dir
from cfsession.recorder.options import RECORD, Options, parse

ROOT = Path(__file__).resolve().parents[2]
TYPER = "import sys; from cfsession.cli import run; sys.exit(run(sys.argv[1:]))"
USAGE = ["Usage: cfsession record [OPTIONS] [-- COMMAND [ARGS]...]", "Try 'cfsession record -h' for help.", ""]

GRAMMAR: list[tuple[list[str], dict[str, Any]]] = [
    ([], {}),
    (["--", "ls", "-l"], {"command": ["ls", "-l"]}),
    (["ls", "-l"], {"command": ["ls", "-l"]}),
    (["-q", "-n", "x", "bash", "-c", "exit 3"], {"quiet": True, "name": "x", "command": ["bash", "-c", "exit 3"]}),
    (["--name=x"], {"name": "x"}),
    (["--name=a b", "--", "--weird"], {"name": "a b", "command": ["--weird"]}),
    (["-nx", "true"], {"name": "x", "command": ["true"]}),
    (["-lq"], {"login": True, "quiet": True}),
    (["-qn", "x", "--", "true"], {"quiet": True, "name": "x", "command": ["true"]}),
    (["-qnx"], {"quiet": True, "name": "x"}),
    (["--name", "--", "true"], {"name": "--", "command": ["true"]}),  # a value may look like anything
    (["-n", "a", "--name", "b"], {"name": "b"}),  # the last one wins
    (["ls", "--name", "y", "-q"], {"command": ["ls", "--name", "y", "-q"]}),  # the command's options
    (["ls", "--", "x"], {"command": ["ls", "--", "x"]}),
    (["ls", "--help"], {"command": ["ls", "--help"]}),
    (["-"], {"command": ["-"]}),
    (["--shell", "zsh", "--login", "--type", "ci", "--no-etw"],
     {"shell": "zsh", "login": True, "session_type": "ci", "no_etw": True}),
    (["--shell=/bin/sh", "-l"], {"shell": "/bin/sh", "login": True}),
    (["--pty", "ls"], {"pty": True, "command": ["ls"]}),
    (["--no-pty", "--", "ls"], {"pty": False, "command": ["ls"]}),
    (["--no-pty", "--pty", "--", "ls"], {"pty": True, "command": ["ls"]}),
    (["--pause-key", "C-]", "--", "sh"], {"pause_key": b"\x1d", "command": ["sh"]}),
    (["--pause-key=^a"], {"pause_key": b"\x01"}),
]

ERRORS = [
    (["--bogus"], "No such option: --bogus"),
    (["-x"], "No such option: -x"),
    (["-qx", "true"], "No such option: -x"),
    (["--shel", "zsh"], "No such option: --shel Did you mean --shell?"),
    (["--no-pt", "--", "ls"], "No such option: --no-pt (Possible options: --no-etw, --no-pty)"),
    (["--shell"], "Option '--shell' requires an argument."),
    (["-q", "-n"], "Option '-n' requires an argument."),
    (["--login=1", "--", "true"], "Option '--login' does not take a value."),
    (["--pty=yes"], "Option '--pty' does not take a value."),
    (["--bogus", "--help"], "No such option: --bogus"),  # a syntax error before help, as click
]


@pytest.mark.parametrize(("argv", "want"), GRAMMAR, ids=[" ".join(a) or "-" for a, _ in GRAMMAR])
def test_the_grammar(argv: list[str], want: dict[str, Any]) -> None:
    assert parse(argv) == Options()._replace(**want)


@pytest.mark.parametrize(("argv", "error"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_usage_errors(argv: list[str], error: str) -> None:
    with pytest.raises(ArgError) as caught:
        parse(argv)
    assert str(caught.value) == error


def test_help_wherever_the_options_are() -> None:
    for argv in (["-h"], ["--help"], ["-q", "--help"], ["-qh"], ["--help", "ls"], ["--name", "x", "-h", "--", "ls"]):
        assert parse(argv) is None, argv
    assert parse(["--name", "-h"]) == Options(name="-h")  # a value, not a request for help


def test_click_parses_the_spec_the_same_way() -> None:
    """click's own parser, given the same spec as a Typer command: the same values, and an
    error wherever ours gives one."""
    import typer.main

    from cfsession.cli.main import _click_module

    click = _click_module()

    def command() -> None:  # pragma: no cover - only parsed, never run
        pass

    command.__signature__ = args.typer_signature(RECORD)  # type: ignore[attr-defined]
    app = typer.Typer(context_settings={"help_option_names": ["-h", "--help"]})
    app.command(context_settings={"allow_interspersed_args": False})(command)
    app.command("other")(command)  # two commands: a group, so the command is looked up by name
    group = typer.main.get_command(app)
    cmd = group.commands["command"]
    for argv, _ in GRAMMAR:
        params = cmd.make_context("record", list(argv)).params
        ours = args.parse(RECORD, argv)
        assert ours is not None
        assert list(params.pop("command") or []) == ours.pop("command"), argv
        assert params == ours, argv
    for argv, _ in ERRORS:
        with pytest.raises(click.exceptions.UsageError):
            cmd.make_context("record", list(argv))


# -- through real processes ---------------------------------------------------------------------
def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "CFSESSION_ID")}
    env.update(CFSESSION_HOME=str(home), PYTHONIOENCODING="utf-8", COLUMNS="100")
    return env


def _process(home: Path, argv: list[str], code: str | None = None) -> tuple[int, str, str]:
    """``python -m cfsession record ARGV`` (or ``python -c CODE record ARGV``) on pipes."""
    exe = [sys.executable, "-m", "cfsession"] if code is None else [sys.executable, "-c", code]
    done = subprocess.run([*exe, "record", *argv], env=_env(home), cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _starts(home: Path) -> list[dict[str, Any]]:
    """Each recorded session's session_start record."""
    return [json.loads(p.read_text().splitlines()[0]) for p in sorted(sessions_dir(home).glob("*.jsonl"))]


@pytest.mark.parametrize("code", [None, TYPER], ids=["console script", "typer app"])
def test_usage_errors_in_a_process_read_as_click_s(tmp_path: Path, code: str | None) -> None:
    got = _process(tmp_path / "cfhome", ["--bogus", "--", "true"], code)
    assert got == (2, "", "\n".join([*USAGE, "Error: No such option: --bogus", ""]))
    assert not sessions_dir(tmp_path / "cfhome").exists() or not _starts(tmp_path / "cfhome")
    rc, out, err = _process(tmp_path / "cfhome", ["--pause-key", "Z", "--", "true"], code)
    assert (rc, out) == (2, "") and err == "cfsession: --pause-key 'Z': not a control key — use a form like C-] or ^]\n"


def test_help_is_typer_s_from_the_spec(tmp_path: Path) -> None:
    home = tmp_path / "cfhome"
    code, out, err = _process(home, ["--help"])
    assert (code, err) == (0, "")
    assert "cfsession record [OPTIONS] [-- COMMAND [ARGS]...]" in out and "Record an interactive shell" in out
    assert "128+N when the recorder was ended by signal N" in " ".join(out.split())  # wrapped
    for opt in RECORD.options:
        assert all(name in out for name in (*opt.names, *opt.off)), opt.names
    for metavar in ("PATH", "NAME", "TYPE", "KEY"):
        assert metavar in out
    assert any("--help" in line and " -h " in line for line in out.splitlines())  # the app's help names
    assert _process(home, ["-h"]) == (0, out, "")
    assert _process(home, ["-h"], TYPER) == (0, out, "")  # the Typer app draws the same
    top = subprocess.run([sys.executable, "-m", "cfsession", "--help"], env=_env(home), capture_output=True,
                         text=True, timeout=60)
    assert top.returncode == 0 and "record" in top.stdout and "Record an interactive shell" in top.stdout
    for name in ("list", "search"):  # drawn by the same code: -h listed there too
        shown = subprocess.run([sys.executable, "-m", "cfsession", name, "-h"], env=_env(home), capture_output=True,
                               text=True, timeout=60)
        assert shown.returncode == 0 and any("--help" in line and " -h " in line for line in shown.stdout.splitlines())


@pytest.mark.parametrize("code", [None, TYPER], ids=["console script", "typer app"])
def test_options_after_the_command_are_the_command_s(tmp_path: Path, code: str | None) -> None:
    home = tmp_path / "cfhome"
    assert _process(home, ["-q", "-n", "x", "sh", "-c", "exit 3"], code) == (3, "", "")
    assert _process(home, ["-q", "--name=y", "--", "ls", "-l", "-d", "/"], code)[0] == 0
    rc, out, _ = _process(home, ["-qn", "z", "ls", "-l", "-d", "/"], code)
    assert rc == 0 and out.startswith("d")  # `ls -l` ran: a long listing, not `ls`
    starts = sorted(_starts(home), key=lambda s: s["started_at"])
    assert [(s["name"], s["command_argv"]) for s in starts] == [
        ("x", ["sh", "-c", "exit 3"]), ("y", ["ls", "-l", "-d", "/"]), ("z", ["ls", "-l", "-d", "/"])]


SHOW_MODULES = (
    "import sys; from cfsession._entry import main; code = main(sys.argv[1:]);"
    " print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'rich', 'argparse'}),"
    " file=sys.stderr); sys.exit(code)"
)


@pytest.mark.parametrize("argv", [["-q", "--", "true"], ["-q", "true"], ["--bogus"], ["-q", "-n", "x", "--no-pty", "true"]])
def test_the_record_path_imports_no_cli_framework(tmp_path: Path, argv: list[str]) -> None:
    code, _, err = _process(tmp_path / "cfhome", argv, SHOW_MODULES)
    assert code in (0, 2) and err.splitlines()[-1] == "[]", err
