"""The ``list`` and ``search`` tables: our own fixed layout, drawn without rich.

Rich costs ~20 ms to import and ~35 ms to draw 50 rows, most of what DESIGN.md §7 leaves
a ``search`` process (100 ms) after Python's own start-up; this module draws the two
tables in a few milliseconds.

The layout: a bold header, a rule of "─" under each column, one row per item; columns
two spaces apart, no border, no trailing spaces. Each column declares how it gives up
room when the terminal is narrow (:class:`Col`):

* ``fixed``: ids, times, counts; never cut;
* ``cut`` / ``cut-start``: one line of text (a name, a directory), cut with a visible "…"
  at its end (``cut-start``: at its start, so a path keeps its last directories), down
  to ``min`` cells; these give up room first, the widest first;
* ``wrap``: the command, the match; folded over several lines at spaces (a word longer
  than the line is split), down to ``min`` cells.

``max`` caps a column on a terminal; ``drop`` is the order in which columns go (lowest
first) while even every column at its narrowest does not fit. A line that still does
not fit (a terminal narrower than the fixed columns) ends in "…" at the edge.

On a pipe nothing is cut, wrapped or dropped, and no colour is written. On a terminal
the width is $COLUMNS or the terminal's, and styles become SGR codes unless NO_COLOR is
set or TERM is dumb (FORCE_COLOR colours a pipe too). Text must come sanitised
(:func:`cfsession.sanitize.sanitize`): the only controls left are tab (drawn as a space)
and newline (a line break in a ``wrap`` column, "↵" in any other).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Literal, NamedTuple, TextIO

Span = tuple[str, str]  # text, style
Cell = Span | list[Span]  # one style for the whole text, or a list of styled spans
Fit = Literal["fixed", "cut", "cut-start", "wrap"]

GAP = "  "
HEADER = "bold"
ELLIPSIS = "…"
NEWLINE_MARK = "↵"  # a newline in a one-line column

# SGR parameters of the styles the views use: the same colours rich wrote before.
SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36",
       "bold cyan": "1;36", "bold black on yellow": "1;30;43"}


class Col(NamedTuple):
    name: str
    fit: Fit = "fixed"
    align: Literal["left", "right"] = "left"
    min: int = 0  # narrowest a cut or wrap column gets (never under its name)
    max: int | None = None  # widest it gets on a terminal
    drop: int | None = None  # lowest goes first when nothing else fits; None: always kept


class Screen(NamedTuple):
    """Where a table goes: ``width`` None for a pipe (nothing cut); ``sgr`` None: no colour."""

    width: int | None
    sgr: dict[str, str] | None


def screen(stream: TextIO | None = None) -> Screen:
    out = sys.stdout if stream is None else stream
    env = os.environ
    try:
        tty = out.isatty()
    except ValueError:  # closed
        tty = False
    colour = tty and env.get("TERM", "").lower() not in ("dumb", "unknown")
    if env.get("FORCE_COLOR"):
        colour = True
    if env.get("NO_COLOR"):
        colour = False
    if colour and tty and os.name == "nt":
        colour = _windows_vt(out)
    return Screen(_terminal_width() if tty else None, SGR if colour else None)


def _terminal_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    if columns.isascii() and columns.isdigit() and int(columns) > 0:
        return int(columns)
    for fd in (1, 0, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def _windows_vt(out: TextIO) -> bool:  # pragma: no cover - Windows
    """Turn on VT processing for a Windows console (SGR codes); False where it cannot be."""
    import msvcrt

    from cfsession.errors import CfsessionError
    from cfsession.recorder import _wincon

    try:
        k = _wincon.Kernel32(_wincon._load_kernel32())
        handle = msvcrt.get_osfhandle(out.fileno())  # type: ignore[attr-defined,unused-ignore]
        mode = k.get_mode(handle)
        if mode is None:  # not a console
            return False
        vt = _wincon.ENABLE_VIRTUAL_TERMINAL_PROCESSING
        return bool(mode & vt) or k.set_mode(handle, mode | vt)
    except (OSError, ValueError, CfsessionError):
        return False


# -- cells --------------------------------------------------------------------------------------
def char_cells(char: str) -> int:
    """Terminal cells of one character: 0 for combining and format characters, 2 for wide."""
    if char < "\u0300":
        return 1
    import unicodedata

    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cells(text: str) -> int:
    return len(text) if text.isascii() else sum(map(char_cells, text))


def _spans(cell: Cell, one_line: bool) -> list[Span]:
    if isinstance(cell, tuple):
        if "\t" not in cell[0] and "\n" not in cell[0]:  # nearly every cell
            return [cell] if cell[0] else []
        spans = [cell]
    else:
        spans = cell
    out = []
    for text, style in spans:
        if "\t" in text:
            text = text.replace("\t", " ")
        if one_line and "\n" in text:
            text = text.replace("\n", NEWLINE_MARK)
        if text:
            out.append((text, style))
    return out


def _width(spans: list[Span]) -> int:
    """Cells of the widest line of ``spans``."""
    if len(spans) == 1 and "\n" not in spans[0][0]:
        return cells(spans[0][0])
    return max((cells(line) for line in "".join(t for t, _ in spans).split("\n")), default=0)


def _cut_end(spans: list[Span], width: int) -> list[Span]:
    """``spans`` in ``width`` cells: cut, ending in "…", when longer."""
    if _width(spans) <= width:
        return spans
    room = width - 1
    out: list[Span] = []
    for text, style in spans:
        kept = _take(text, room)
        room -= cells(kept)
        if len(kept) < len(text):
            out.append((kept + ELLIPSIS, style))
            return out
        out.append((kept, style))
    return out  # pragma: no cover - the width check above returned


def _cut_start(spans: list[Span], width: int) -> list[Span]:
    """``spans`` in ``width`` cells: cut, starting with "…", when longer."""
    if _width(spans) <= width:
        return spans
    flipped = [(text[::-1], style) for text, style in reversed(spans)]
    return [(text[::-1], style) for text, style in reversed(_cut_end(flipped, width))]


def _take(text: str, room: int) -> str:
    """The longest start of ``text`` that fits ``room`` cells."""
    if text.isascii():
        return text[:max(room, 0)]
    used = 0
    for i, char in enumerate(text):
        used += char_cells(char)
        if used > room:
            return text[:i]
    return text


def _wrap(spans: list[Span], width: int) -> list[list[Span]]:
    """``spans`` folded into lines of at most ``width`` cells: at newlines, then at the last
    space that fits (the space is dropped), else (one long word) at the edge."""
    chars = [(char, style) for text, style in spans for char in text]
    lines: list[list[tuple[str, str]]] = [[]]
    for char, style in chars:
        if char == "\n":
            lines.append([])
        else:
            lines[-1].append((char, style))
    out: list[list[Span]] = []
    for line in lines:
        while True:
            used, cut, space = 0, len(line), -1
            for i, (char, _) in enumerate(line):
                used += char_cells(char)
                if used > width:
                    cut = i
                    break
                if char == " ":
                    space = i
            if cut == len(line):
                out.append(_merge(line))
                break
            if space > 0:
                out.append(_merge(line[:space]))
                line = line[space + 1:]
            else:
                out.append(_merge(line[:max(cut, 1)]))  # a wide char in a 1-cell column: alone
                line = line[max(cut, 1):]
    return out


def _merge(chars: list[tuple[str, str]]) -> list[Span]:
    out: list[Span] = []
    for char, style in chars:
        if out and out[-1][1] == style:
            out[-1] = (out[-1][0] + char, style)
        else:
            out.append((char, style))
    return out


# -- the table ----------------------------------------------------------------------------------
def widths(cols: Sequence[Col], natural_cells: Sequence[Sequence[int]],
           width: int | None) -> dict[int, int]:
    """Column index -> width in cells, for the columns kept on a screen ``width`` wide;
    ``natural_cells[r][i]`` is the width row ``r`` wants in column ``i``."""
    natural = []
    for i, col in enumerate(cols):
        w = max([cells(col.name), *(row[i] for row in natural_cells)])
        if width is not None and col.max is not None and col.fit != "fixed":
            w = min(w, max(col.max, cells(col.name)))
        natural.append(w)
    if width is None:
        return dict(enumerate(natural))

    def floor(i: int) -> int:
        col = cols[i]
        return natural[i] if col.fit == "fixed" else min(natural[i], max(col.min, cells(col.name)))

    def room(kept: list[int]) -> int:
        return width - len(GAP) * (len(kept) - 1)

    kept = list(range(len(cols)))
    droppable = sorted((c.drop, i) for i, c in enumerate(cols) if c.drop is not None)
    for _, i in droppable:
        if sum(map(floor, kept)) <= room(kept):
            break
        kept.remove(i)
    out = {i: natural[i] for i in kept}
    excess = sum(out.values()) - room(kept)
    for fits in (("cut", "cut-start"), ("wrap",)):  # one-line text first, then the wrapping
        while excess > 0:
            over = [i for i in kept if cols[i].fit in fits and out[i] > floor(i)]
            if not over:
                break
            widest = max(over, key=lambda j: out[j])
            give = min(excess, out[widest] - floor(widest))
            if len(over) > 1:  # down to the next widest, so the widest share what goes
                give = min(give, max(1, out[widest] - max(out[j] for j in over if j != widest)))
            out[widest] -= give
            excess -= give
    return out


Line = tuple[list[Span], int]  # one line of a cell, and its width in cells


def render(cols: Sequence[Col], rows: Sequence[Sequence[Cell]], where: Screen) -> str:
    """The table as text to write (newline-terminated lines)."""
    spans = [[_spans(cell, col.fit != "wrap") for cell, col in zip(row, cols, strict=True)]
             for row in rows]
    natural = [[_width(cell) for cell in row] for row in spans]
    sizes = widths(cols, natural, where.width)
    kept = sorted(sizes)
    kept_cols = [cols[i] for i in kept]
    kept_sizes = [sizes[i] for i in kept]
    out = [_write(line, where) for line in _row(kept_cols, kept_sizes, [[([(c.name, HEADER)], cells(c.name))]
                                                                      for c in kept_cols])]
    out.append(_write([(GAP.join("─" * w for w in kept_sizes), "")], where))
    for row, row_natural in zip(spans, natural, strict=True):
        lines: list[list[Line]] = []
        for i, col, w in zip(kept, kept_cols, kept_sizes, strict=True):
            cell, have = row[i], row_natural[i]
            if col.fit == "wrap" and (have > w or any("\n" in t for t, _ in cell)):
                lines.append([(line, _width(line)) for line in _wrap(cell, w)])
            elif have > w:
                cut = (_cut_start if col.fit == "cut-start" else _cut_end)(cell, w)
                lines.append([(cut, _width(cut))])
            else:
                lines.append([(cell, have)])
        out += [_write(line, where) for line in _row(kept_cols, kept_sizes, lines)]
    return "".join(out)


def _row(cols: list[Col], sizes: list[int], cell_lines: list[list[Line]]) -> list[list[Span]]:
    """One table row (as many lines as its tallest cell): each cell padded to its column."""
    height = max(1, *(len(c) for c in cell_lines))
    out = []
    for n in range(height):
        line: list[Span] = []
        for k, (col, w, cell) in enumerate(zip(cols, sizes, cell_lines, strict=True)):
            spans, have = cell[n] if n < len(cell) else ([], 0)
            pad = (" " * (w - have), "")
            if k:
                line.append((GAP, ""))
            if col.align == "right":
                line.append(pad)
                line += spans
            else:
                line += spans
                line.append(pad)
        out.append(line)
    return out


def _write(line: list[Span], where: Screen) -> str:
    while line and not line[-1][1] and not line[-1][0].strip():  # no trailing spaces
        line = line[:-1]
    if line and not line[-1][1]:
        line = line[:-1] + [(line[-1][0].rstrip(" "), "")]
    if where.width is not None and _width(line) > where.width:
        line = _cut_end(line, where.width)
    sgr = where.sgr
    if sgr is None:
        return "".join(text for text, _ in line) + "\n"
    return "".join(f"\x1b[{sgr[style]}m{text}\x1b[0m" if style in sgr and text else text
                   for text, style in line) + "\n"


def message(text: str, where: Screen) -> str:
    """A one-line message of ours (no recorded text in it), dim on a terminal."""
    return _write([(text, "dim")], Screen(None, where.sgr))
