"""The ``list`` and ``search`` tables as plain text, laid out exactly as rich lays them out.

When stdout is not a terminal (``cfsession list | less``, a script), rich writes no
colour, only the layout; importing rich for that costs ~20 ms of the ~60 ms that
DESIGN.md §7 leaves a ``search`` process after Python's own start-up. This module draws
the same characters without it. It is a port of what rich does for the one kind of table
``_render._table`` builds — box SIMPLE_HEAD with its edge, padding (0, 1) collapsed and
not at the edges, no expand; columns left or right, no-wrap (ellipsis or crop) or
word-wrapped with folding — and of ``Console.print`` for a one-line message.

It only draws what it can draw exactly: text of characters rich counts as one cell
without a table lookup (and "…", which FTS5 snippets carry), no tab, no newline, on a
console at least ``MIN_WIDTH`` wide (narrower, rich's layout gets odd, and nobody
pipes a 15-column table). Anything else returns None and the caller asks rich.
``tests/cli/test_cli_plain.py`` compares the two, character for character, on random
tables against the installed rich.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from itertools import pairwise
from typing import TextIO

from cfsession.cli._render import Cell, Column, column

MIN_WIDTH = 20

# Every character outside rich.cells' single-cell ranges, and NO-BREAK SPACE (str.split()
# and rich's word wrap treat it as a space, so it would be a word break here). "…" is
# allowed: rich measures it as one cell through its table (checked by the tests).
_NOT_PLAIN = re.compile("[^\x20-\x7e\xa1-\xac\xae-\u02ff\u0370-\u0482\u2500-\u25fc\u2800-\u28ff\u2026]")
_WORD = re.compile(r"\s*\S+\s*")  # rich._wrap.re_word
_TRAILING_SPACE = re.compile(r"\s+$")


def console_width(stream: TextIO | None = None) -> int | None:
    """The width rich would use for ``stream`` (stdout), or None when rich would draw colour.

    None also when the output could differ from rich's in other ways: Windows (legacy
    console widths), an encoding rich would switch to ASCII boxes for, a width too narrow.
    """
    out = sys.stdout if stream is None else stream
    env = os.environ
    if os.name == "nt" or "FORCE_COLOR" in env or "TTY_COMPATIBLE" in env:
        return None
    try:
        if out.isatty():
            return None
    except ValueError:  # closed
        return None
    if not (getattr(out, "encoding", None) or "utf-8").lower().startswith("utf"):
        return None
    # rich.console.Console.size: $COLUMNS if it is digits, else the first of stdin, stdout,
    # stderr that is a terminal, else 80.
    columns = env.get("COLUMNS")
    width: int | None = None
    if columns is not None and columns.isdigit():
        if not columns.isascii():
            return None
        width = int(columns)
    else:
        for fd in (0, 1, 2):
            try:
                width = os.get_terminal_size(fd).columns
            except (AttributeError, ValueError, OSError):
                continue
            break
        width = width or 80
    return width if width >= MIN_WIDTH else None


def plain_text(cell: Cell) -> str:
    return "".join(part for part, _ in cell) if isinstance(cell, list) else cell[0]


def message(text: str, width: int) -> str:
    """``Console.print(text)`` of a constant one-line message: word-wrapped to ``width``."""
    return "".join(line[:width] + "\n" for line in _wrap(text, width, "default", "fold", False))


def table(columns: Sequence[str], rows: Sequence[Sequence[Cell]], width: int) -> str | None:
    """``Console.print`` of ``_render._table(*columns)`` holding ``rows``; None if not exact."""
    cols = [column(spec) for spec in columns]
    texts = [[plain_text(cell) for cell in row] for row in rows]
    for row in texts:
        for text in row:
            if _NOT_PLAIN.search(text):
                return None
    n = len(cols)
    pads = [1] * (n - 1) + [0]  # right padding; collapsed, and none at the right edge
    by_column = [[c.name] + [row[i] for row in texts] for i, c in enumerate(cols)]
    widths = _column_widths(cols, by_column, pads, width - (n + 1))
    table_width = sum(widths) + n + 1
    head_rule = " " + "─".join("─" * w for w in widths) + " "
    lines = [" " * table_width]  # the box's top edge: blank for SIMPLE_HEAD
    for index, row in enumerate([[c.name for c in cols], *texts]):
        cells = [_cell_lines(text, w, pad, c) for text, w, pad, c in zip(row, widths, pads, cols, strict=True)]
        height = max(1, *(len(cell) for cell in cells))
        for cell, w in zip(cells, widths, strict=True):
            blank = [" " * w] * (height - len(cell))
            cell[:] = blank + cell if index == 0 else cell + blank  # header bottom-aligned
        lines.extend(" " + " ".join(parts) + " " for parts in zip(*cells, strict=True))
        if index == 0:
            lines.append(head_rule)
    lines.append(" " * table_width)
    return "".join(line[:width] + "\n" for line in lines)  # Console.print crops to the width


# -- column widths: rich.table.Table._calculate_column_widths, expand=False -----------------
def _column_widths(cols: list[Column], by_column: list[list[str]], pads: list[int],
                   max_width: int) -> list[int]:
    ranges = [_measure_column(c, texts, pad, max_width)
              for c, texts, pad in zip(cols, by_column, pads, strict=True)]
    widths = [maximum or 1 for _, maximum in ranges]
    if sum(widths) > max_width:
        widths = _collapse_widths(widths, [not c.no_wrap for c in cols], max_width)
        if sum(widths) > max_width:  # last resort: every column gives up the same
            widths = _ratio_reduce(sum(widths) - max_width, [1] * len(widths), widths, widths)
        ranges = [_measure_column(c, texts, pad, w)
                  for c, texts, pad, w in zip(cols, by_column, pads, widths, strict=True)]
        widths = [maximum or 0 for _, maximum in ranges]
    return widths


def _measure_column(col: Column, texts: list[str], pad: int, max_width: int) -> tuple[int, int]:
    if max_width < 1:
        return 0, 0
    measured = [_measure_cell(text, pad, max_width) for text in texts]
    lo = min(max(m[0] for m in measured), max_width)
    hi = min(max(m[1] for m in measured), max_width)
    if col.min_width is not None:  # Measurement.clamp(min_width + padding)
        floor = max(0, col.min_width + pad)
        lo, hi = max(lo, floor), max(hi, floor)
    return lo, hi


def _measure_cell(text: str, pad: int, max_width: int) -> tuple[int, int]:
    """Measurement.get of Padding(Text(text), (0, pad, 0, 0)) within ``max_width``."""
    if max_width - pad < 1:
        lo, hi = max_width, max_width
    else:
        lo, hi = _measure_text(text, max_width)
        lo, hi = min(lo + pad, max_width), min(hi + pad, max_width)
    return _fit_measure(lo, hi, max_width)


def _measure_text(text: str, max_width: int) -> tuple[int, int]:
    """Measurement.get of Text: (longest word, whole line) within ``max_width``."""
    words = text.split()
    lo = max(len(w) for w in words) if words else len(text)
    return _fit_measure(lo, len(text), max_width)


def _fit_measure(lo: int, hi: int, max_width: int) -> tuple[int, int]:
    lo, hi = _normalize(lo, hi)
    lo, hi = min(lo, max_width), min(hi, max_width)
    return (0, 0) if hi < 1 else _normalize(lo, hi)


def _normalize(lo: int, hi: int) -> tuple[int, int]:
    lo = min(max(0, lo), hi)
    return max(0, lo), max(0, max(lo, hi))


def _collapse_widths(widths: list[int], wrapable: list[bool], max_width: int) -> list[int]:
    """Shrink the widest wrapping columns first (Table._collapse_widths)."""
    total = sum(widths)
    excess = total - max_width
    if any(wrapable):
        while total and excess > 0:
            widest = max(w for w, ok in zip(widths, wrapable, strict=True) if ok)
            second = max(w if ok and w != widest else 0 for w, ok in zip(widths, wrapable, strict=True))
            difference = widest - second
            ratios = [1 if (w == widest and ok) else 0 for w, ok in zip(widths, wrapable, strict=True)]
            if not any(ratios) or not difference:
                break
            widths = _ratio_reduce(excess, ratios, [min(excess, difference)] * len(widths), widths)
            total = sum(widths)
            excess = total - max_width
    return widths


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    """rich._ratio.ratio_reduce, rounding included."""
    ratios = [ratio if maximum else 0 for ratio, maximum in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result = []
    for ratio, maximum, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


# -- cells: Padding(Text) rendered by Table._render -----------------------------------------
def _cell_lines(text: str, width: int, pad: int, col: Column) -> list[str]:
    inner = width - pad
    if inner < 1:
        return []  # rich renders nothing into no room; the row fills it with blanks
    lines = _wrap(text, inner, col.justify, col.overflow, col.no_wrap)
    return [_set_size(line, inner) + " " * pad for line in lines]


def _wrap(text: str, width: int, justify: str, overflow: str, no_wrap: bool) -> list[str]:
    """rich.text.Text.wrap of one line of one-cell characters."""
    if no_wrap:
        lines = [text]
    else:
        breaks = _divide_line(text, width)  # wrapping columns fold (_render.column)
        bounds = [0, *breaks, len(text)]
        lines = [text[a:b] for a, b in pairwise(bounds)] if breaks else [text]
        lines = [_rstrip_end(line, width) for line in lines]
    if justify == "left":
        lines = [_truncate(line, width, overflow, pad=True) for line in lines]
    elif justify == "right":
        lines = [_truncate(line.rstrip(), width, overflow) for line in lines]
        lines = [" " * (width - len(line)) + line for line in lines]
    return [_truncate(line, width, overflow) for line in lines]


def _divide_line(text: str, width: int) -> list[int]:
    """rich._wrap.divide_line with fold=True (every wrapping column folds): where to break
    ``text`` so each piece fits ``width``."""
    breaks: list[int] = []
    offset = 0
    position = 0
    while (match := _WORD.match(text, position)) is not None:
        start, position = match.span()
        word = match.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:  # a word longer than a line: folded over several
            chunks = [word[i:i + width] for i in range(0, len(word), width)]
            for i, chunk in enumerate(chunks):
                if start:
                    breaks.append(start)
                if i == len(chunks) - 1:
                    offset = len(chunk)
                else:
                    start += len(chunk)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def _rstrip_end(line: str, size: int) -> str:
    """Text.rstrip_end: drop trailing whitespace beyond ``size``."""
    excess = len(line) - size
    if excess > 0:
        match = _TRAILING_SPACE.search(line)
        if match is not None:
            return line[: len(line) - min(len(match.group(0)), excess)]
    return line


def _truncate(line: str, width: int, overflow: str, pad: bool = False) -> str:
    """Text.truncate."""
    length = len(line)
    if length > width:
        line = _set_size(line, width - 1) + "…" if overflow == "ellipsis" else _set_size(line, width)
    if pad and length < width:
        line += " " * (width - length)
    return line


def _set_size(text: str, total: int) -> str:
    """rich.cells.set_cell_size for one-cell characters: crop or pad to ``total``."""
    if total <= 0:
        return ""
    return text[:total] if len(text) >= total else text + " " * (total - len(text))
