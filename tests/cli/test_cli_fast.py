"""``cfsession list`` / ``search`` as processes print exactly what the Typer app prints.

The process (``python -m cfsession …``, stdout a pipe) takes the light path in
``cfsession.cli.fast``; ``cfsession.cli.run`` in this process is the Typer app. Both run on
the same store, built with the session factory, and stdout, stderr and the exit code
must be equal: JSON byte for byte, tables character for character. Anything the light
path does not handle must reach Typer (help, usage errors), and neither Typer nor rich
may be imported on the light path, on a pipe or on a terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfsession.cli import fast, run
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
    assert fast.run.__module__ == "cfsession.cli.fast"
    got = _process(store["home"], argv)
    want = _typer(store["home"], argv, 120, monkeypatch, capsys)
    assert got == want
    for bad in ("\x1b", "\x07", "\x9b"):
        assert bad not in got[1] and bad not in got[2]


@pytest.mark.parametrize("columns", [20, 41, 99, 100, 110, 200])
@pytest.mark.parametrize("args", [["list"], ["list", "--limit", "0"], ["search", "warning"]])
def test_tables_at_every_width(args: list[str], columns: int, store: dict[str, str],
                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _process(store["home"], args, columns) == _typer(store["home"], args, columns, monkeypatch, capsys)


def test_the_tables_show_what_they_should(store: dict[str, str]) -> None:
    code, out, err = _process(store["home"], ["list"], columns=250)
    assert code == 0 and "50 of 56 sessions; --limit 0 shows all" in out
    assert err.count("\n") == 1 and "foreign.jsonl:1: not a cfsession session file" in err
    assert "recording" in out and "└ " + store["long"][:6] in out and store["cjk"][:8] not in out
    _, out, _ = _process(store["home"], ["search", "warning", "--limit", "50"])
    assert store["evil"][:8] in out and "[bold red]x[/]" in out  # markup shown, not interpreted


NOT_HANDLED = [
    ["list", "--help"], ["list", "-h"], ["search", "--help"], ["list", "--bogus"], ["list", "--limit"],
    ["list", "--limit", "abc"], ["list", "--limit", "-1"], ["list", "-n", "1_0"], ["list", "--json=1"],
    ["list", "extra"], ["search"], ["search", "a", "b"], ["search", "x", "-n", "0"],
    ["search", "--", "-x"], ["search", "-"], ["list", "--since", "--json"], ["list", "--debug"],
    ["search", "x", "--cwd"], ["list", "--limit", "５"], ["show", "last"],
]


@pytest.mark.parametrize("args", NOT_HANDLED, ids=[" ".join(c) for c in NOT_HANDLED])
def test_anything_unusual_is_left_to_typer(args: list[str]) -> None:
    assert fast.run(args) is None


@pytest.mark.parametrize("args", [["list", "--help"], ["search", "-h"], ["list", "--bogus"],
                                  ["search"], ["list", "--limit", "abc"], ["search", "x", "-n", "0"]])
def test_help_and_usage_errors_are_typer_s(args: list[str], store: dict[str, str]) -> None:
    got = _process(store["home"], args)
    assert got == _process(store["home"], args, code=TYPER)
    code, out, err = got
    assert (code, "Usage" in out + err) == ((0, True) if "-h" in args[-1] else (2, True))


SHOW_MODULES = (
    "import sys; from cfsession._entry import main; code = main(sys.argv[1:]); sys.stdout.flush();"
    " print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'rich'}), file=sys.stderr);"
    " sys.exit(code)"
)


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["search", "warning"],
                                  ["search", "warning", "--json"], ["search", "zzzunknown"],
                                  ["list", "--since", "nonsense"]])
def test_light_path_imports_neither_typer_nor_rich(args: list[str], store: dict[str, str]) -> None:
    code, out, err = _process(store["home"], args, code=SHOW_MODULES)
    assert code in (0, 2) and err.splitlines()[-1] == "[]", err


def test_text_rich_measures_differently_is_drawn_by_rich(store: dict[str, str]) -> None:
    code, out, err = _process(store["home"], ["search", "漢字"], code=SHOW_MODULES)
    assert code == 0 and "漢字" in out and err.splitlines()[-1] == "['rich']"


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
        assert b"\x1b[" in light  # colour, as rich writes it
        assert light == on_tty([sys.executable, "-c", TYPER, *args])
        shown = on_tty([sys.executable, "-c", SHOW_MODULES, *args])
        assert shown.endswith(b"[]\r\n"), shown[-200:]
