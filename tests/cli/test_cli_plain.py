"""The plain-text tables of ``list``/``search`` are character for character what rich prints.

``cfsession.cli._plain`` re-implements rich's layout for output that is not a terminal,
so these tests hold it against the installed rich: random cells and widths, the real
column sets, and text it must refuse (then the caller uses rich).
"""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cfsession.cli import _plain, _render

LIST_COLUMNS = ["id:f8", "parent:f8", "started:f16", "duration:rf8", "cmds:rf", "failed:rf",
                "status:f10", "name:n", "shell:n", "host:n", "cwd:n"]
SEARCH_COLUMNS = ["session:f8", "seq:rf", "exit:rf", "command:w", "match:w"]

# One-cell characters as recorded text has them, spaces to wrap at, and what snippets carry.
PLAIN = st.sampled_from(list("abcxyz019 _-./~=:'\"[]()*|") + ["  ", "é", "ß", "Ω", "ж", "…", "─", "└", "⠿"])
WORDS = st.lists(PLAIN, max_size=60).map("".join) | st.text(st.sampled_from("ab "), max_size=12)
# Characters rich measures another way (wide, zero-width, tab) or breaks at (NO-BREAK SPACE).
NOT_PLAIN = st.sampled_from(["\t", "漢", "🙂", "e\u0301", "\u200b", "\xa0", "\u3000", "\xad", "\n"])


def rich_print(renderable: object, width: int, **kw: object) -> str:
    """What ``_common.console().print`` writes when stdout is not a terminal, ``width`` wide."""
    from rich.console import Console

    buf = io.StringIO()
    con = Console(file=buf, width=width, highlight=False, soft_wrap=False, force_terminal=False)
    con.print(renderable, **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def cells(draw: st.DrawFn, columns: list[str], rows: int) -> list[list[_render.Cell]]:
    out: list[list[_render.Cell]] = []
    for _ in range(rows):
        row: list[_render.Cell] = []
        for _col in columns:
            if draw(st.booleans()) and draw(st.booleans()):  # a snippet: spans, some highlighted
                row.append([(draw(WORDS), draw(st.sampled_from(["", "bold black on yellow"])))
                            for _ in range(draw(st.integers(1, 4)))])
            else:
                row.append((draw(WORDS), draw(st.sampled_from(["", "bold", "red", "dim"]))))
        out.append(row)
    return out


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[_render.Cell]], int]:
    base = draw(st.sampled_from([LIST_COLUMNS, SEARCH_COLUMNS]))
    columns = [c for c in base if draw(st.integers(0, 4))] or base[:1]
    return columns, cells(draw, columns, draw(st.integers(1, 6))), draw(st.integers(20, 220))


@settings(max_examples=150, deadline=None)
@given(tables())
@example((SEARCH_COLUMNS, [[("6bf1b14d", "bold"), ("1", ""), ("0", "green"), ("echo hello world " * 9, ""),
                            [("a ", ""), ("warning", "bold black on yellow"), (" here…" * 12, "")]]], 120))
@example((LIST_COLUMNS, [[(f"{i}" * 9, "") for i in range(11)]], 120))
def test_tables_match_rich(table: tuple[list[str], list[list[_render.Cell]], int]) -> None:
    columns, rows, width = table
    assert _plain.table(columns, rows, width) == rich_print(_render.rich_table(columns, rows), width)


@settings(max_examples=50, deadline=None)
@given(tables(), NOT_PLAIN, st.data())
def test_text_rich_measures_otherwise_is_refused(
    table: tuple[list[str], list[list[_render.Cell]], int], odd: str, data: st.DataObject
) -> None:
    columns, rows, width = table
    r = data.draw(st.integers(0, len(rows) - 1))
    c = data.draw(st.integers(0, len(columns) - 1))
    rows[r][c] = (_plain.plain_text(rows[r][c]) + odd, "")
    assert _plain.table(columns, rows, width) is None


@pytest.mark.parametrize("text", [_render.NO_SESSIONS, _render.NO_MATCHES,
                                  "50 of 10000 sessions; --limit 0 shows all"])
@pytest.mark.parametrize("width", [20, 21, 33, 47, 50, 51, 80, 120])
def test_messages_match_rich(text: str, width: int) -> None:
    assert _plain.message(text, width) == rich_print(text, width, style="dim")


def test_every_allowed_character_is_one_cell_for_rich() -> None:
    from rich.cells import cell_len

    allowed = [chr(c) for c in range(0x2900) if not _plain._NOT_PLAIN.match(chr(c))]
    assert "…" in allowed and "\xa0" not in allowed and "\t" not in allowed
    assert [c for c in allowed if cell_len(c) != 1 or c.isspace() != (c == " ")] == []
    # "…" makes rich measure a whole string through its tables: still one cell each.
    assert cell_len("".join(allowed)) == len(allowed)


class Pipe(io.StringIO):
    encoding = "utf-8"


@pytest.mark.parametrize("columns", [None, "97", "12", "", "8o", "０９９"])
@pytest.mark.parametrize("sizes", [{}, {1: 133}, {0: 61, 2: 90}, {2: 0}])
def test_console_width_is_rich_width(columns: str | None, sizes: dict[int, int],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """$COLUMNS, else the first of stdin/stdout/stderr that is a terminal, else 80."""
    import os

    from rich.console import Console

    def get_terminal_size(fd: int = 1) -> os.terminal_size:
        if fd not in sizes:
            raise OSError("not a terminal")
        return os.terminal_size((sizes[fd], 24))

    monkeypatch.setattr(os, "get_terminal_size", get_terminal_size)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    if columns == "０９９":  # digits to str.isdigit(), but not ASCII: left to rich
        assert _plain.console_width(Pipe()) is None
        return
    width = Console(file=Pipe(), highlight=False, soft_wrap=False).width
    assert _plain.console_width(Pipe()) == (width if width >= _plain.MIN_WIDTH else None)


def test_console_width_refuses_what_rich_would_colour_or_box_in_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(Pipe):
        def isatty(self) -> bool:
            return True

    class Latin1(Pipe):
        encoding = "latin-1"

    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "97")
    assert _plain.console_width(Pipe()) == 97
    assert _plain.console_width(Tty()) is None
    assert _plain.console_width(Latin1()) is None  # rich would switch to ASCII boxes
    closed = Pipe()
    closed.close()
    assert _plain.console_width(closed) is None
    for name, value in (("FORCE_COLOR", "1"), ("TTY_COMPATIBLE", "1")):
        monkeypatch.setenv(name, value)
        assert _plain.console_width(Pipe()) is None
        monkeypatch.delenv(name)
