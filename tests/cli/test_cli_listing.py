"""``cfsession list`` / ``search``: one parser (cli/args.py), the same answers by every path.

The process (``python -m cfsession …``, stdout a pipe) runs them from the console script
without Typer; ``cfsession.cli.run`` in this process goes through the Typer app, which
hands them to the same parser. Both run on the same store, built with the session
factory: stdout, stderr and the exit code must be equal. Usage errors read as click's
(exit 2, a ``Usage:`` line), help is Typer's drawn from the spec, and neither Typer nor
rich is imported on the way, on a pipe or on a terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfsession.cli import listing, run
from cfsession.cli.args import ArgError, parse
from cfsession.cli.table import cells
from cfsession.paths import sessions_dir
from tests.sessions_factory import T0, Cmd, make_session

ROOT = Path(__file__).resolve().parents[2]
EVIL_CMD = "echo \x1b]52;c;cm0gLXJmIH4=\x07[bold red]x[/]\x1b]0;title\x07 warning"
EVIL_OUT = "pre\x1b]52;c;Zm9v\x07\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\\x9b31mpost warning\n"
LONG_CMD = "grep -rn --include='*.py' warning " + " ".join(f"src/module_{i}/file.py" for i in range(12))
LONG_OUT = " ".join(f"word{i}" for i in range(60)) + " warning: a_very_long_identifier_" + "x" * 150 + "\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """56 sessions (so `list` shows 50 and says so) of every shape the tables have."""
    home = tmp_path_factory.mktemp("fast") / "cfhome"
    home_dir = os.path.expanduser("~")
    ids: dict[str, str] = {"home": str(home)}
    ids["cjk"] = make_session(home, [Cmd("echo 漢字", "漢字\tcjk only\n")], name="名前", started=T0 - 3600)
    for i in range(45):
        make_session(home, [Cmd(f"make step{i}", f"step {i} ok\n" + ("warning: slow\n" if i % 7 == 0 else ""),
                                exit_code=0 if i % 5 else 2, cwd=f"{home_dir}/proj/p{i % 3}")],
                     name=None if i % 4 == 0 else f"build {i}", started=T0 + i * 60)
    ids["ok"] = make_session(home, [Cmd("ls -la", "total 0\n"),
                                    Cmd("cat nope", "cat: nope: No such file\n", exit_code=1)],
                             name="daily", started=T0 + 4000)
    ids["evil"] = make_session(home, [Cmd(EVIL_CMD, EVIL_OUT, raw=EVIL_OUT)], name="evil\x1b]2;x\x07name",
                               started=T0 + 4060)
    ids["long"] = make_session(home, [Cmd(LONG_CMD, LONG_OUT, exit_code=1, cwd="/srv/a/very/long/path/" + "d" * 80)],
                               name="a fairly long session name that goes on and on " * 2, started=T0 + 4120,
                               shell="/usr/local/bin/zsh")
    ids["child"] = make_session(home, [Cmd("pytest -q", "1 failed, 1 warning\n", exit_code=1, cwd="/srv/app")],
                                name="nested", started=T0 + 4180, parent=ids["long"])
    ids["remote"] = make_session(home, [Cmd("uptime", "up 3 days, warning: load\n")], complete=False,
                                 name="remote", started=T0 + 4240)  # host "elsewhere": incomplete
    for i in range(4):
        make_session(home, [Cmd(f"echo {i}", f"{i}\n", cwd="/tmp")], name=f"late {i}", started=T0 + 5000 + i)
    ids["rec"] = make_session(home, [Cmd("sleep 1", "warning: recording\n")], complete=False, pid=os.getpid(),
                              started=time.time())  # this process: "recording"
    (sessions_dir(home) / "foreign.jsonl").write_text("not json at all\n")  # one warning line each run
    return ids


def _env(home: str, columns: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS")}
    env.update(CFSESSION_HOME=home, PYTHONIOENCODING="utf-8")
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return env


def _process(home: str, argv: list[str], columns: int | None = 120,
             code: str | None = None) -> tuple[int, str, str]:
    """``python -m cfsession ARGV`` (or ``python -c CODE ARGV``), stdin and stdout not terminals."""
    exe = [sys.executable, "-m", "cfsession", *argv] if code is None else [sys.executable, "-c", code, *argv]
    done = subprocess.run(exe, env=_env(home, columns), cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


TYPER = "import sys; from cfsession.cli import run; sys.exit(run(sys.argv[1:]))"


def _typer(home: str, argv: list[str], columns: int, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The Typer app in this process, as the process would see its environment."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CFSESSION_HOME", home)
    monkeypatch.setenv("COLUMNS", str(columns))
    capsys.readouterr()
    code = run(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _argv(args: list[str], store: dict[str, str]) -> list[str]:
    return [a.format(**store) for a in args]


CASES = [
    ["list"], ["list", "-n", "3"], ["list", "-n3"], ["list", "--limit=2"], ["list", "--limit", "0"],
    ["list", "--since", "2024-05-01"], ["list", "--since", "1d"], ["list", "--failed"],
    ["list", "--failed", "-n", "2"], ["list", "-n", "9", "--limit", "4"], ["list", "--json"],
    ["list", "--json", "--limit", "1"], ["list", "--failed", "--json"], ["list", "--json", "-n", "60"],
    ["list", "--since", "nonsense"], ["list", "--since", ""],
    ["search", "warning"], ["search", "warning", "--json"], ["search", "--json", "warning"],
    ["search", "nope", "--failed"], ["search", "warning", "--failed", "--json"],
    ["search", "warning", "--session", "last"], ["search", "warning", "--session", "{long:.8}"],
    ["search", "warning", "--session={evil}"], ["search", "warning", "--cwd", "/srv"],
    ["search", "step", "--cwd", "~/proj/p1", "-n", "3"], ["search", "warning", "-n", "1"],
    ["search", "warning", "--limit=2"], ["search", "nope-such"], ["search", '"exit status'],
    ["search", "zzzunknown"], ["search", "zzzunknown", "--json"], ["search", ""],
    ["search", "warning", "--session", "ffff"], ["search", "warning", "--session", "xy"],
    ["search", "post"], ["search", "漢字"], ["search", "[bold"],
    ["list", "--actor", "human"], ["list", "--actor=agent", "--json"],
    ["search", "warning", "--actor", "agent:ci"], ["search", "warning", "--actor", "human", "--json"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "-" for c in CASES])
def test_process_prints_what_typer_prints(args: list[str], store: dict[str, str],
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    argv = _argv(args, store)
    got = _process(store["home"], argv)
    want = _typer(store["home"], argv, 120, monkeypatch, capsys)
    assert got == want
    for bad in ("\x1b", "\x07", "\x9b"):
        assert bad not in got[1] and bad not in got[2]


def test_the_tables_show_what_they_should(store: dict[str, str]) -> None:
    code, out, err = _process(store["home"], ["list"], columns=250)
    assert code == 0 and "50 of 56 sessions; --limit 0 shows all" in out
    assert err.count("\n") == 1 and "foreign.jsonl:1: not a cfsession session file" in err
    assert "recording" in out and "└ " + store["long"][:6] in out and store["cjk"][:8] not in out
    _, out, _ = _process(store["home"], ["search", "warning", "--limit", "50"])
    assert store["evil"][:8] in out and "[bold red]x[/]" in out  # markup shown, not interpreted


USAGE_ERRORS = [
    (["list", "--bogus"], "No such option: --bogus"),
    (["list", "--debug"], "No such option: --debug"),
    (["list", "--limt", "3"], "No such option: --limt Did you mean --limit?"),
    (["list", "--limit"], "Option '--limit' requires an argument."),
    (["list", "--limit", "abc"], "Invalid value for '--limit' / '-n': 'abc' is not a valid integer."),
    (["list", "-n", "1_0"], "Invalid value for '--limit' / '-n': '1_0' is not a valid integer."),
    (["list", "--limit", "５"], "Invalid value for '--limit' / '-n': '５' is not a valid integer."),
    (["list", "--limit", "-1"], "Invalid value for '--limit' / '-n': -1 is not in the range x>=0."),
    (["list", "--json=1"], "Option '--json' does not take a value."),
    (["list", "extra"], "Got unexpected extra argument (extra)"),
    (["search"], "Missing argument 'QUERY'."),
    (["search", "a", "b", "c"], "Got unexpected extra arguments (b c)"),
    (["search", "x", "-n", "0"], "Invalid value for '--limit' / '-n': 0 is not in the range x>=1."),
    (["search", "x", "--limit", "--json"], "Invalid value for '--limit' / '-n': '--json' is not a valid integer."),
    (["search", "x", "--cwd"], "Option '--cwd' requires an argument."),
]


@pytest.mark.parametrize(("argv", "error"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_read_as_click_s(argv: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert listing.run(argv[0], argv[1:]) == 2
    out, err = capsys.readouterr()
    usage = "cfsession list [OPTIONS]" if argv[0] == "list" else "cfsession search [OPTIONS] QUERY"
    assert out == ""
    assert err.splitlines()[:3] == [f"Usage: {usage}", f"Try 'cfsession {argv[0]} -h' for help.", ""]
    assert err.splitlines()[3:] == [f"Error: {error}"]


def test_the_grammar_is_click_s() -> None:
    got = parse(listing.LIST, ["-n3", "--failed", "--limit=4", "--since", "--json", "--actor=human"])
    assert got == {"limit": 4, "since": "--json", "failed": True, "actor": "human", "as_json": False,
                   "remote": False, "host": None}  # the last --limit wins; a value may look like an option
    got = parse(listing.SEARCH, ["--json", "--", "-x"])
    assert got is not None and got["query"] == "-x" and got["limit"] == listing.SEARCH_DEFAULT and got["as_json"]
    assert parse(listing.SEARCH, ["-"]) == {**got, "query": "-", "as_json": False}
    assert parse(listing.LIST, ["-n", "2", "--help"]) is None
    assert parse(listing.SEARCH, ["-h"]) is None  # help before a missing argument, as click
    with pytest.raises(ArgError, match="No such option"):
        parse(listing.LIST, ["--bogus", "--help"])  # … but after a syntax error, as click


def test_help_is_typer_s_from_the_spec(store: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    for spec in (listing.LIST, listing.SEARCH):
        code, out, err = _process(store["home"], [spec.name, "--help"])
        assert (code, err) == (0, "")
        assert f"cfsession {spec.name} [OPTIONS]" in out and spec.help in out
        for opt in spec.options:
            assert opt.names[0] in out
        assert (code, out, err) == _typer(store["home"], [spec.name, "-h"], 120, monkeypatch, capsys)
    code, out, _ = _process(store["home"], ["--help"])
    assert code == 0 and listing.LIST.help in out and "search" in out  # the command listing


def test_the_typer_path_hands_the_arguments_over_unparsed(store: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _process(store["home"], ["--debug", "list", "-n", "1", "--json"], code=TYPER)
    assert code == 0 and out.count('"session_id"') == 1
    code, out, err = _typer(store["home"], ["search", "--json", "--", "-x"], 120, monkeypatch, capsys)
    assert code == 0 and out.startswith("[") and "Usage" not in err  # "--" reached the parser: "-x" is the query
    code, out, err = _typer(store["home"], ["list", "-n", "zz"], 120, monkeypatch, capsys)
    assert code == 2 and err.endswith("Error: Invalid value for '--limit' / '-n': 'zz' is not a valid integer.\n")


SHOW_MODULES = (
    "import sys; from cfsession._entry import main; code = main(sys.argv[1:]); sys.stdout.flush();"
    " print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'rich'}), file=sys.stderr);"
    " sys.exit(code)"
)


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["search", "warning"],
                                  ["search", "warning", "--json"], ["search", "zzzunknown"],
                                  ["list", "--since", "nonsense"], ["search", "漢字"],
                                  ["list", "--limit", "abc"], ["search"], ["--debug", "list"]])
def test_light_path_imports_neither_typer_nor_rich(args: list[str], store: dict[str, str]) -> None:
    code, out, err = _process(store["home"], args, code=SHOW_MODULES)
    assert code in (0, 2) and err.splitlines()[-1] == "[]", err


@pytest.mark.pty
def test_on_a_terminal_the_same_colours_without_rich(store: dict[str, str]) -> None:
    pexpect = pytest.importorskip("pexpect")

    def on_tty(argv: list[str]) -> bytes:
        env = _env(store["home"], None)
        env.update(TERM="xterm-256color")
        env.pop("NO_COLOR", None)
        child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(ROOT), timeout=30, dimensions=(40, 132))
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        return bytes(child.before)

    for args in (["list"], ["search", "warning"], ["search", "zzzunknown"]):
        light = on_tty([sys.executable, "-m", "cfsession", *args])
        assert (b"\x1b[2mNo matches.\x1b[0m" if "zzzunknown" in args else b"\x1b[1m") in light  # colour
        lines = re.sub(rb"\x1b\[[0-9;]*m", b"", light).decode().splitlines()
        assert all(cells(line) <= 132 for line in lines if not line.startswith("cfsession: warning"))
        assert light == on_tty([sys.executable, "-c", TYPER, *args])
        shown = on_tty([sys.executable, "-c", SHOW_MODULES, *args])
        assert shown.endswith(b"[]\r\n"), shown[-200:]
