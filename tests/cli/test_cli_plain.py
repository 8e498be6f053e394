"""The ``list``/``search`` tables of ``_plain`` are character for character what rich prints.

``cfsession.cli._plain`` re-implements rich's drawing of our one table shape, piped and
on a terminal, so these tests hold it against the installed rich: random cells, styles
and widths in every colour mode, the real column sets, text it must refuse (then the
caller uses rich), and how it decides what rich would do with a stream.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cfsession.cli import _plain, _render

LIST_COLUMNS = ["id:f8", "parent:f8", "started:f16", "duration:rf8", "cmds:rf", "failed:rf",
                "status:f10", "name:n", "shell:n", "host:n", "cwd:n"]
SEARCH_COLUMNS = ["session:f8", "seq:rf", "exit:rf", "command:w", "match:w"]
STYLES = ["", "bold", "dim", "red", "green", "yellow", "bold cyan"]
HIGHLIGHT = "bold black on yellow"

# One-cell characters as recorded text has them, spaces to wrap at, and what snippets carry.
PLAIN = st.sampled_from(list("abcxyz019 _-./~=:'\"[]()*|") + ["  ", "é", "ß", "Ω", "ж", "…", "─", "└", "⠿"])
WORDS = st.lists(PLAIN, max_size=60).map("".join) | st.text(st.sampled_from("ab "), max_size=12)
# Characters rich measures another way (wide, zero-width, tab) or breaks at (NO-BREAK SPACE).
NOT_PLAIN = st.sampled_from(["\t", "漢", "🙂", "e\u0301", "\u200b", "\xa0", "\u3000", "\xad", "\n"])
# How rich may be printing: to a pipe, or to a terminal in each colour system, or NO_COLOR.
MODES = ["pipe", "standard", "256", "truecolor", "no_color"]


def rich_print(renderable: object, width: int, mode: str = "pipe", **kw: object) -> str:
    """What ``_common.console().print`` writes, ``width`` wide, in ``mode``."""
    from rich.console import Console

    buf = io.StringIO()
    terminal = {"force_terminal": False} if mode == "pipe" else {
        "force_terminal": True, "no_color": mode == "no_color",
        "color_system": "standard" if mode == "no_color" else mode}
    con = Console(file=buf, width=width, highlight=False, soft_wrap=False, **terminal)  # type: ignore[arg-type]
    con.print(renderable, **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def sgr(mode: str) -> dict[str, str] | None:
    return None if mode == "pipe" else _plain._SGR_NO_COLOR if mode == "no_color" else _plain._SGR


def cells(draw: st.DrawFn, columns: list[str], rows: int) -> list[list[_render.Cell]]:
    out: list[list[_render.Cell]] = []
    for _ in range(rows):
        row: list[_render.Cell] = []
        for _col in columns:
            if draw(st.booleans()) and draw(st.booleans()):  # a snippet: spans, some highlighted
                row.append([(draw(WORDS), draw(st.sampled_from(["", HIGHLIGHT])))
                            for _ in range(draw(st.integers(1, 5)))])
            else:
                row.append((draw(WORDS), draw(st.sampled_from(STYLES))))
        out.append(row)
    return out


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[_render.Cell]], int, str]:
    base = draw(st.sampled_from([LIST_COLUMNS, SEARCH_COLUMNS]))
    columns = [c for c in base if draw(st.integers(0, 4))] or base[:1]
    return (columns, cells(draw, columns, draw(st.integers(1, 6))), draw(st.integers(20, 220)),
            draw(st.sampled_from(MODES)))


SNIPPET = [("a ", ""), ("warning", HIGHLIGHT), ("x", HIGHLIGHT), (" here…" * 12, ""), ("end", HIGHLIGHT)]


@settings(max_examples=200, deadline=None)
@given(tables())
@example((SEARCH_COLUMNS, [[("6bf1b14d", "bold"), ("1", ""), ("0", "green"), ("echo hello world " * 9, ""),
                            SNIPPET]], 120, "pipe"))
@example((SEARCH_COLUMNS, [[("6bf1b14d", "bold"), ("12", ""), ("", "dim"), ("echo " * 9, ""), SNIPPET]], 70, "256"))
@example((LIST_COLUMNS, [[(f"{i}" * 9, "red") for i in range(11)]], 120, "truecolor"))
def test_tables_match_rich(table: tuple[list[str], list[list[_render.Cell]], int, str]) -> None:
    columns, rows, width, mode = table
    got = _plain.table(columns, rows, width, sgr(mode))
    assert got == rich_print(_render.rich_table(columns, rows), width, mode)


@settings(max_examples=50, deadline=None)
@given(tables(), NOT_PLAIN, st.data())
def test_text_rich_measures_otherwise_is_refused(
    table: tuple[list[str], list[list[_render.Cell]], int, str], odd: str, data: st.DataObject
) -> None:
    columns, rows, width, mode = table
    r = data.draw(st.integers(0, len(rows) - 1))
    c = data.draw(st.integers(0, len(columns) - 1))
    rows[r][c] = (_plain.plain_text(rows[r][c]) + odd, "")
    assert _plain.table(columns, rows, width, sgr(mode)) is None


def test_a_style_it_does_not_know_is_refused_on_a_terminal() -> None:
    rows: list[list[_render.Cell]] = [[("x", "italic magenta")]]
    assert _plain.table(["id:f8"], rows, 80, _plain._SGR) is None
    assert _plain.table(["id:f8"], rows, 80) is not None  # a pipe shows no style at all


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("text", [_render.NO_SESSIONS, _render.NO_MATCHES,
                                  "50 of 10000 sessions; --limit 0 shows all"])
@pytest.mark.parametrize("width", [20, 21, 33, 47, 51, 120])
def test_messages_match_rich(text: str, width: int, mode: str) -> None:
    assert _plain.message(text, width, sgr(mode)) == rich_print(text, width, mode, style="dim")


def test_every_allowed_character_is_one_cell_for_rich() -> None:
    from rich.cells import cell_len

    allowed = [chr(c) for c in range(0x2900) if not _plain._NOT_PLAIN.match(chr(c))]
    assert "…" in allowed and "\xa0" not in allowed and "\t" not in allowed
    assert [c for c in allowed if cell_len(c) != 1 or c.isspace() != (c == " ")] == []
    # "…" makes rich measure a whole string through its tables: still one cell each.
    assert cell_len("".join(allowed)) == len(allowed)


class Pipe(io.StringIO):
    encoding = "utf-8"


class Tty(Pipe):
    def isatty(self) -> bool:
        return True


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "COLORTERM", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("columns", [None, "97", "12", "", "8o", "０９９"])
@pytest.mark.parametrize("sizes", [{}, {1: 133}, {0: 61, 2: 90}, {2: 0}])
def test_console_width_is_rich_width(columns: str | None, sizes: dict[int, int],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal: $COLUMNS, else the first of stdin/stdout/stderr that is a terminal,
    else 80. On a pipe: as wide as need be (nothing cut), as _common.console()."""
    from rich.console import Console

    def get_terminal_size(fd: int = 1) -> os.terminal_size:
        if fd not in sizes:
            raise OSError("not a terminal")
        return os.terminal_size((sizes[fd], 24))

    monkeypatch.setattr(os, "get_terminal_size", get_terminal_size)
    _clean_env(monkeypatch)
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    from cfsession.cli._render import PIPE_WIDTH

    assert _plain.console(Pipe()) == (PIPE_WIDTH, None)
    for stream in (Tty(),):
        how = _plain.console(stream)
        if columns == "０９９":  # digits to str.isdigit(), but not ASCII: left to rich
            assert how is None
            continue
        width = Console(file=stream, highlight=False, soft_wrap=False).width
        assert (how[0] if how else None) == (width if width >= _plain.MIN_WIDTH else None)


@pytest.mark.parametrize("env", [
    {}, {"TERM": "xterm-256color"}, {"TERM": "xterm"}, {"TERM": "vt100"}, {"TERM": "linux-16color"},
    {"TERM": "xterm", "COLORTERM": "truecolor"}, {"TERM": "xterm", "NO_COLOR": "1"},
    {"TERM": "xterm", "NO_COLOR": ""}, {"TERM": "dumb"}, {"TERM": "UNKNOWN"},
    {"TERM": "xterm", "FORCE_COLOR": "1"}, {"TERM": "xterm", "TTY_COMPATIBLE": "0"},
])
@pytest.mark.parametrize("stream", [Pipe, Tty])
def test_what_rich_would_do_with_a_stream(env: dict[str, str], stream: type[Pipe],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Whenever ``console`` answers, a table drawn its way is what rich writes to the stream."""
    from rich.console import Console

    _clean_env(monkeypatch)
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.setenv("COLUMNS", "90")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    how = _plain.console(stream())
    if how is None:
        assert stream is Tty and env.get("TERM", "").lower() in ("dumb", "unknown") or (
            {"FORCE_COLOR", "TTY_COMPATIBLE"} & set(env))
        return
    columns = _render.search_view([])[0]
    rows: list[list[_render.Cell]] = [[("6bf1b14d", "bold"), ("3", ""), ("1", "red"), ("ls", ""), SNIPPET]]
    out = stream()
    # What _common.console() makes: on a pipe as wide as need be.
    wide = {} if stream is Tty else {"width": _render.PIPE_WIDTH}
    Console(file=out, highlight=False, soft_wrap=False, **wide).print(_render.rich_table(columns, rows))
    assert _plain.table(columns, rows, how[0], how[1]) == out.getvalue()
    assert (how[1] is None) == (stream is Pipe)


def test_what_cannot_be_matched_is_left_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    class Latin1(Pipe):
        encoding = "latin-1"

    _clean_env(monkeypatch)
    monkeypatch.setenv("COLUMNS", "97")
    assert _plain.console(Pipe()) == (_render.PIPE_WIDTH, None)  # a pipe: nothing cut
    assert _plain.console(Latin1()) is None  # rich would switch to ASCII boxes
    closed = Pipe()
    closed.close()
    assert _plain.console(closed) is None
    monkeypatch.setenv("COLUMNS", "12")
    assert _plain.console(Tty()) is None  # too narrow
