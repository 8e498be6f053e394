"""The ``list`` and ``search`` tables: golden output at 40, 80, 120 and 200 columns and on a
pipe, and the layout's rules (cli/table.py).

The goldens are the real commands (``listing.run``: parser, store, views, table) on a
store built the same way every time, with the screen set to a width. To accept a
deliberate change of layout: ``CFSESSION_UPDATE_GOLDEN=1 pytest tests/cli/test_cli_table.py``
and review the diff of tests/cli/golden/.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfsession.cli import listing, table
from cfsession.cli.table import Col, Screen, cells
from tests.sessions_factory import T0, Cmd, make_session

GOLDEN = Path(__file__).parent / "golden"
WIDTHS = [40, 80, 120, 200]
LONG_CMD = "grep -rn --include='*.py' warning " + " ".join(f"src/module_{i}/file.py" for i in range(8))
LONG_OUT = " ".join(f"word{i}" for i in range(30)) + " warning: a_very_long_identifier_" + "x" * 90 + "\n"
EVIL = "echo \x1b]52;c;cm0gLXJmIH4=\x07[bold]x\x9b31m warning"


def _sid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


@pytest.fixture(scope="module")
def golden_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("golden") / "cfhome"
    user = "/home/u"
    make_session(home, [Cmd("echo 漢字 全角テスト", "漢字 warning 全角\n", cwd=f"{user}/漢字")],
                 session_id=_sid(1), name="名前 wide", started=T0, host="box", shell="/bin/zsh")
    make_session(home, [Cmd(LONG_CMD, LONG_OUT, exit_code=1, cwd="/srv/a/very/long/path/" + "d" * 60),
                        Cmd("make", "ok\n", cwd="/srv")],
                 session_id=_sid(2), name="a fairly long session name that goes on and on and on",
                 started=T0 + 600, host="box", shell="/usr/local/bin/fish", cwd="/srv/a/very/long/path/" + "d" * 60)
    make_session(home, [Cmd("pytest -q", "1 failed, 1 warning\n", exit_code=1, cwd="/srv/app")],
                 session_id=_sid(3), name="nested", started=T0 + 660, parent=_sid(2), host="box")
    make_session(home, [Cmd("cafe\u0301 🙂 --flag", "caf\u00e9 🙂 warning\n", duration=75)],
                 session_id=_sid(4), name="emoji 🙂 café", started=T0 + 1200, host="box", cwd=f"{user}/proj")
    make_session(home, [Cmd(EVIL, "pre\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ post warning\n")],
                 session_id=_sid(5), name="evil\x1b]2;x\x07name", started=T0 + 1800, host="elsewhere",
                 complete=False)
    yield home


@pytest.fixture
def at(golden_store: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CFSESSION_HOME", str(golden_store))
    monkeypatch.setenv("HOME", "/home/u")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _draw(argv: list[str], width: int | None, colour: bool, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setattr(table, "screen", lambda stream=None: Screen(width, table.SGR if colour else None))
    capsys.readouterr()
    assert listing.run(argv[0], argv[1:]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def _check(name: str, got: str) -> None:
    path = GOLDEN / f"{name}.txt"
    shown = got.replace("\x1b", "␛")
    if os.environ.get("CFSESSION_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(shown, encoding="utf-8")
    assert path.exists(), f"no golden {path.name}: run with CFSESSION_UPDATE_GOLDEN=1 and review it"
    assert shown == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [*WIDTHS, None], ids=[*map(str, WIDTHS), "pipe"])
@pytest.mark.parametrize("argv", [["list"], ["search", "warning"]], ids=["list", "search"])
def test_golden(argv: list[str], width: int | None, at: None, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> None:
    got = _draw(argv, width, False, monkeypatch, capsys)
    _check(f"{argv[0]}-{width or 'pipe'}", got)
    for line in got.splitlines():
        assert line == line.rstrip(" ")  # no trailing spaces
        if width is not None:
            assert cells(line) <= width, line
    for bad in ("\x1b", "\x07", "\x9b"):
        assert bad not in got  # recorded controls come out visible, never raw


@pytest.mark.parametrize("argv", [["list"], ["search", "warning"]], ids=["list", "search"])
def test_golden_in_colour(argv: list[str], at: None, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    got = _draw(argv, 100, True, monkeypatch, capsys)
    _check(f"{argv[0]}-100-colour", got)
    plain = _draw(argv, 100, False, monkeypatch, capsys)
    import re

    assert re.sub("\x1b\\[[0-9;]*m", "", got) == plain  # colour changes nothing else


def test_what_the_tables_keep(at: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    wide = _draw(["list"], 200, False, monkeypatch, capsys)
    assert "└ 000000" in wide and "host" in wide and "fish" in wide  # nesting, hosts, shells
    assert "a fairly long session name that goes on…" in wide  # name is capped at 40 cells
    narrow = _draw(["list"], 80, False, monkeypatch, capsys)
    assert "host" not in narrow and "shell" not in narrow
    assert "…dddd" in narrow  # a cut directory keeps its end
    tiny = _draw(["list"], 40, False, monkeypatch, capsys)
    assert "00000001" in tiny and "status" in tiny  # the id and status are never dropped
    search = _draw(["search", "warning"], 40, False, monkeypatch, capsys)
    assert "src/module_7/f" in search and "exit" not in search.splitlines()[0]  # wrapped, not cut


def test_show_draws_its_commands_with_the_same_table(at: None, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from cfsession import api
    from cfsession.cli._render import render_show

    def draw(width: int | None) -> list[str]:
        monkeypatch.setattr(table, "screen", lambda stream=None: Screen(width, None))
        capsys.readouterr()
        render_show(api.get_session(_sid(2)), output=False)
        lines = capsys.readouterr().out.splitlines()
        return lines[next(i for i, line in enumerate(lines) if line.startswith("seq")):]

    pipe = draw(None)
    assert pipe[0].split() == ["seq", "exit", "duration", "cwd", "command"] and pipe[2].startswith("  1")
    assert LONG_CMD in pipe[2] and all(line == line.rstrip(" ") for line in pipe)
    narrow = draw(60)
    assert narrow[0].split() == ["seq", "exit", "duration", "cwd", "command"]
    assert "…dddd" in narrow[2] and all(cells(line) <= 60 for line in narrow)  # cwd cut at its start
    tiny = draw(30)
    assert tiny[0].split() == ["seq", "exit", "command"]  # cwd goes first, then duration
    assert "src/module_7/f" in "".join(line.strip() for line in tiny)  # the command wraps


# -- the layout's rules, on cells made up here --------------------------------------------------
def test_cut_columns_give_up_room_before_wrapping_ones() -> None:
    cols = [Col("id"), Col("name", "cut", min=4), Col("cmd", "wrap", min=8)]
    rows = [[("abc", ""), ("n" * 30, ""), ("w " * 20, "")]]
    got = table.render(cols, rows, Screen(40, None)).splitlines()
    assert got[2].startswith("abc  nnn…  w w") and all(cells(line) <= 40 for line in got)
    assert len(got) > 3  # the command wrapped


def test_drop_order_and_crop_at_the_edge() -> None:
    cols = [Col("id"), Col("a", drop=1), Col("b", drop=0)]
    rows = [[("x" * 10, ""), ("y" * 10, ""), ("z" * 10, "")]]
    assert table.render(cols, rows, Screen(22, None)).splitlines()[2] == "xxxxxxxxxx  yyyyyyyyyy"
    assert table.render(cols, rows, Screen(12, None)).splitlines()[2] == "xxxxxxxxxx"
    assert table.render(cols, rows, Screen(6, None)).splitlines() == ["id", "─────…", "xxxxx…"]  # still too wide


def test_wide_characters_align_and_wrap_by_cells() -> None:
    cols = [Col("k"), Col("v", "wrap", min=4)]
    rows = [[("a", ""), ("漢字漢字漢字", "")], [("bb", ""), ("x", "")]]
    got = table.render(cols, rows, Screen(10, None)).splitlines()
    assert got[2:] == ["a   漢字漢", "    字漢字", "bb  x"]


def test_spans_keep_their_style_across_a_wrap() -> None:
    cols = [Col("m", "wrap", min=4)]
    rows = [[[("ab ", ""), ("match", "bold black on yellow"), (" cd", "")]]]
    got = table.render(cols, rows, Screen(6, table.SGR))
    assert "\x1b[1;30;43mmatch\x1b[0m" in got and got.count("\n") == 5


def test_newline_and_tab_in_cells() -> None:
    cols = [Col("name", "cut"), Col("cmd", "wrap")]
    got = table.render(cols, [[("a\nb", ""), ("x\ty\nz", "")]], Screen(None, None)).splitlines()
    assert got[2:] == ["a↵b   x y", "      z"]


def test_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM"):
        monkeypatch.delenv(name, raising=False)
    assert table.screen(io.StringIO()) == Screen(None, None)
    monkeypatch.setenv("COLUMNS", "77")
    monkeypatch.setenv("TERM", "xterm-256color")
    assert table.screen(Tty()) == Screen(77, table.SGR)
    monkeypatch.setenv("NO_COLOR", "1")
    assert table.screen(Tty()) == Screen(77, None)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert table.screen(Tty()).sgr is None
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert table.screen(io.StringIO()) == Screen(None, table.SGR)
