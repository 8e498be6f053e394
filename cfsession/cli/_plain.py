"""The ``list`` and ``search`` tables drawn exactly as rich draws them, without rich.

Importing rich costs ~20 ms and drawing 50 rows with it ~35 ms, of the ~60 ms that
DESIGN.md §7 leaves a ``search`` process after Python's own start-up. This module writes
the same characters by itself. It is a port of what rich does for the one kind of table
``_render._table`` builds — box SIMPLE_HEAD with its edge, padding (0, 1) collapsed and
not at the edges, no expand, a bold header; columns left or right, no-wrap (ellipsis or
crop) or word-wrapped with folding — and of ``Console.print`` for a one-line message:
the layout when stdout is a pipe, and the layout with rich's SGR codes (one
``ESC[…m … ESC[0m`` per styled segment, NO_COLOR honoured) on a terminal.

It only draws what it can draw exactly: text of characters rich counts as one cell
without a table lookup (and "…", which FTS5 snippets carry), no tab, no newline, the
styles ``_render`` uses, on a console at least ``MIN_WIDTH`` wide (narrower, rich's
layout gets odd, and nobody reads a 15-column table). Anything else returns None and the
caller asks rich. ``tests/cli/test_cli_plain.py`` compares the two, character for
character, on random tables against the installed rich, piped and on a terminal.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple, TextIO

from cfsession.cli._render import Cell, Column, column

MIN_WIDTH = 20

# Every character outside rich.cells' single-cell ranges, and NO-BREAK SPACE (str.split()
# and rich's word wrap treat it as a space, so it would be a word break here). "…" is
# allowed: rich measures it as one cell through its table (checked by the tests).
_NOT_PLAIN = re.compile("[^\x20-\x7e\xa1-\xac\xae-\u02ff\u0370-\u0482\u2500-\u25fc\u2800-\u28ff\u2026]")
_WORD = re.compile(r"\s*\S+\s*")  # rich._wrap.re_word
_TRAILING_SPACE = re.compile(r"\s+$")


# SGR parameters rich writes for the styles _render uses (standard colours: the same codes
# for 16, 256 and true colour), and with NO_COLOR set (colours dropped, attributes kept).
_SGR = {"": "", "bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33",
        "bold cyan": "1;36", "bold black on yellow": "1;30;43"}
_SGR_NO_COLOR = {**{style: "" for style in _SGR}, "bold": "1", "dim": "2", "bold cyan": "1",
                 "bold black on yellow": "1"}
HEADER = "bold"  # rich's "table.header"

Sgr = dict[str, str]  # style -> SGR parameters; an empty string writes the text bare


def console(stream: TextIO | None = None) -> tuple[int, Sgr | None] | None:
    """How rich would print to ``stream`` (stdout): its width, and the SGR codes of each style
    on a terminal (None: no codes, as for a pipe). None when this module cannot match it:
    FORCE_COLOR and friends, Windows (legacy console widths), a dumb terminal, an encoding
    rich would switch to ASCII boxes for, a width under MIN_WIDTH.
    """
    out = sys.stdout if stream is None else stream
    env = os.environ
    if os.name == "nt" or any(name in env for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")):
        return None
    try:
        tty = out.isatty()
    except ValueError:  # closed
        return None
    if tty and env.get("TERM", "").lower() in ("dumb", "unknown"):
        return None
    if not (getattr(out, "encoding", None) or "utf-8").lower().startswith("utf"):
        return None
    if not tty:  # as _common.console(): a pipe is as wide as need be, nothing is cut
        from cfsession.cli._render import PIPE_WIDTH

        return PIPE_WIDTH, None
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
    if width < MIN_WIDTH:
        return None
    return width, (None if not tty else _SGR_NO_COLOR if env.get("NO_COLOR", "") else _SGR)


def plain_text(cell: Cell) -> str:
    return "".join(part for part, _ in cell) if isinstance(cell, list) else cell[0]


def message(text: str, width: int, sgr: Sgr | None = None) -> str:
    """``Console.print(text, style="dim")`` of a constant one-line message, wrapped to ``width``."""
    lines = [[(line.text, "dim")] for line in _wrap(text, width, "default", "fold", False)]
    return _write(lines, width, sgr)


def table(columns: Sequence[str], rows: Sequence[Sequence[Cell]], width: int,
          sgr: Sgr | None = None) -> str | None:
    """``Console.print`` of ``_render._table(*columns)`` holding ``rows``, with the SGR codes
    ``sgr`` (None: none, as for a pipe); None when it would not be exactly what rich prints."""
    cols = [column(spec) for spec in columns]
    texts = [[plain_text(cell) for cell in row] for row in rows]
    if any(_NOT_PLAIN.search(text) for row_texts in texts for text in row_texts):
        return None
    if sgr is not None:
        styles = {style for row in rows for cell in row
                  for _, style in (cell if isinstance(cell, list) else [cell])}
        if not styles <= sgr.keys():
            return None
    n = len(cols)
    pads = [1] * (n - 1) + [0]  # right padding; collapsed, and none at the right edge
    by_column = [[c.name] + [row[i] for row in texts] for i, c in enumerate(cols)]
    widths = _column_widths(cols, by_column, pads, width - (n + 1))
    table_width = sum(widths) + n + 1
    edge: list[Segment] = [(" ", "")]
    lines: list[list[Segment]] = [[(" " * table_width, "")]]  # the box's top edge: blank
    header: list[Cell] = [(c.name, HEADER) for c in cols]
    every: list[Sequence[Cell]] = [header, *rows]
    for index, row in enumerate(every):
        cells = [_cell_lines(cell, w, pad, c, header=index == 0)
                 for cell, w, pad, c in zip(row, widths, pads, cols, strict=True)]
        height = max(1, *(len(cell) for cell in cells))
        for cell, w in zip(cells, widths, strict=True):
            blank = [[(" " * w, HEADER if index == 0 else "")]] * (height - len(cell))
            cell[:] = blank + cell if index == 0 else cell + blank  # the header bottom-aligned
        for parts in zip(*cells, strict=True):
            line = list(edge)
            for i, part in enumerate(parts):
                line += part + edge if i < n - 1 else part
            lines.append(line + edge)
        if index == 0:  # the rule under the header
            lines.append([(" " + "─".join("─" * w for w in widths) + " ", "")])
    lines.append([(" " * table_width, "")])
    return _write(lines, width, sgr)


Segment = tuple[str, str]  # text, style


def _write(lines: list[list[Segment]], width: int, sgr: Sgr | None) -> str:
    """The lines as Console.print writes them: cropped to ``width``, each styled segment on
    a terminal as ``ESC[codes m`` text ``ESC[0m``, without merging neighbours (rich does not)."""
    out: list[str] = []
    for line in lines:
        room = width
        for text, style in line:
            if room <= 0:
                break
            text = text[:room]
            room -= len(text)
            codes = sgr.get(style, "") if sgr is not None else ""
            out.append(f"\x1b[{codes}m{text}\x1b[0m" if codes and text else text)
        out.append("\n")
    return "".join(out)


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
class _Line(NamedTuple):
    """One wrapped line: ``text`` (exactly as wide as the cell, but for messages), in which
    ``text[lead:lead + size]`` is the source's ``[start:start + size]`` (a final "…" of
    ellipsis overflow stands where a source character was, and takes its style)."""

    text: str
    lead: int
    start: int
    size: int


def _cell_lines(cell: Cell, width: int, pad: int, col: Column, header: bool) -> list[list[Segment]]:
    inner = width - pad
    if inner < 1:
        return []  # rich renders nothing into no room; the row fills it with blanks
    text = plain_text(cell)
    lines = _wrap(text, inner, col.justify, col.overflow, col.no_wrap)
    after = [(" " * pad, HEADER if header else "")] if pad else []
    if isinstance(cell, tuple):  # a style on the whole text: each line styled to its padding
        return [[(line.text, cell[1])] + after for line in lines]
    spans, offset = [], 0  # the snippet: one span per styled part
    for part, style in cell:
        if style and part:
            spans.append((offset, offset + len(part), style))
        offset += len(part)
    return [_span_segments(line, spans) + after for line in lines]


def _span_segments(line: _Line, spans: list[tuple[int, int, str]]) -> list[Segment]:
    """Text.render of one line: a segment between any two span edges (rich's event sweep)."""
    shift = line.lead - line.start
    clipped = [(max(s, line.start) + shift, min(e, line.start + line.size) + shift, style)
               for s, e, style in spans]
    clipped = [span for span in clipped if span[1] > span[0]]
    events = sorted([(0, False, 0), *((s, False, i) for i, (s, _, _) in enumerate(clipped, 1)),
                     *((e, True, i) for i, (_, e, _) in enumerate(clipped, 1)),
                     (len(line.text), True, 0)], key=lambda event: (event[0], event[1]))
    stack: list[int] = []
    segments: list[Segment] = []
    for (offset, leaving, index), (following, _, _) in pairwise(events):
        if leaving:
            stack.remove(index)
        else:
            stack.append(index)
        if following > offset:
            # The parts of a snippet never overlap: one span at most, over the unstyled base.
            style = clipped[max(stack) - 1][2] if max(stack, default=0) else ""
            segments.append((line.text[offset:following], style))
    return segments


def _wrap(text: str, width: int, justify: str, overflow: str, no_wrap: bool) -> list[_Line]:
    """rich.text.Text.wrap of one line of one-cell characters."""
    if no_wrap:
        pieces = [(0, text)]
    else:
        breaks = _divide_line(text, width)  # wrapping columns fold (_render.column)
        bounds = [0, *breaks, len(text)]
        pieces = [(a, text[a:b]) for a, b in pairwise(bounds)] if breaks else [(0, text)]
        pieces = [(a, _rstrip_end(piece, width)) for a, piece in pieces]
    lines = []
    for start, piece in pieces:
        if justify == "left":  # Text.truncate(pad=True)
            content = _truncate(piece, width, overflow)
            lines.append(_Line(content + " " * (width - len(content)), 0, start, len(content)))
        elif justify == "right":  # rstrip, truncate, pad_left
            content = _truncate(piece.rstrip(), width, overflow)
            lead = max(0, width - len(content))
            lines.append(_Line(" " * lead + content, lead, start, len(content)))
        else:  # "default": as wrapped, cropped
            content = _truncate(piece, width, overflow)
            lines.append(_Line(content, 0, start, len(content)))
    return lines


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


def _truncate(line: str, width: int, overflow: str) -> str:
    """Text.truncate, without its padding."""
    if len(line) > width:
        return _set_size(line, width - 1) + "…" if overflow == "ellipsis" else _set_size(line, width)
    return line


def _set_size(text: str, total: int) -> str:
    """rich.cells.set_cell_size for one-cell characters: crop or pad to ``total``."""
    if total <= 0:
        return ""
    return text[:total] if len(text) >= total else text + " " * (total - len(text))
