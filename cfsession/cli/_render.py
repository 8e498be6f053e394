"""How the read-side commands print: warnings, fast JSON, cells of recorded text, and the
rich views of ``show`` and ``stats``.

``list`` and ``search`` draw their own tables (:mod:`cfsession.cli.listing`,
:mod:`cfsession.cli.table`) from the cells made here.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, Literal, NamedTuple, TypeVar

from cfsession.cli import _common
from cfsession.cli.table import Cell


def warn(warnings: list[Any]) -> None:
    from cfsession.text import sanitize

    for w in warnings:  # file names come from disk: sanitised like everything else
        sys.stderr.write(f"cfsession: warning: {sanitize(str(w))}\n")
    sys.stderr.flush()


def escape_c1(text: str) -> str:
    """C1 controls (0x9b is a CSI on some terminals, even inside JSON) and bidi characters
    as ``\\u`` escapes: :func:`cfsession.sanitize.json_escape`, as for every JSON output."""
    from cfsession.sanitize import json_escape

    return json_escape(text)


def emit_json(obj: Any) -> None:
    """JSON on stdout, one list item per line; C1 controls escaped (0x9b is a CSI)."""
    text = "".join(_json_lines(obj, ""))
    sys.stdout.write(escape_c1(text) + "\n")
    sys.stdout.flush()


def _json_lines(obj: Any, indent: str) -> Any:
    # Two levels pretty-printed by hand, leaves by the C encoder: json's indent= switches
    # to the pure-Python encoder, 10x slower on `list --json` of 10,000 sessions.
    dumps = json.dumps
    inner = indent + "  "
    if isinstance(obj, list) and obj and not indent:
        yield "[\n" + ",\n".join(inner + dumps(x, ensure_ascii=False) for x in obj) + "\n" + indent + "]"
    elif isinstance(obj, dict) and obj and not indent:
        yield "{\n"
        for i, (k, v) in enumerate(obj.items()):
            yield f"{inner}{dumps(k)}: "
            if isinstance(v, list) and v:
                yield "[\n" + ",\n".join(inner + "  " + dumps(x, ensure_ascii=False) for x in v) + "\n" + inner + "]"
            else:
                yield dumps(v, ensure_ascii=False)
            yield ",\n" if i < len(obj) - 1 else "\n"
        yield "}"
    else:
        yield dumps(obj, ensure_ascii=False)


# -- cells and tables -------------------------------------------------------------------------
# A cell (cli/table.py): sanitised text and its style, or (a search snippet) styled spans.


def _c(value: object, style: str = "") -> tuple[str, str]:
    """A cell of recorded data: never shown without ``sanitize``."""
    from cfsession.text import sanitize

    return ("" if value is None else sanitize(str(value)), style)


def _t(value: object, style: str = "") -> Any:
    return _rich_cell(_c(value, style))


def _rich_cell(cell: Cell) -> Any:
    """The cell as ``rich.text.Text``: never markup, so a ``[bold]`` in a command stays text."""
    from rich.text import Text

    if isinstance(cell, list):
        text = Text()
        for part, style in cell:
            text.append(part, style=style)
        return text
    return Text(cell[0], style=cell[1])


def _when(ts: str | None, seconds: bool = True) -> str:
    from datetime import datetime  # here: `search` and `--json` never need it

    from cfsession.store import epoch

    t = epoch(ts)
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return "" if t is None else datetime.fromtimestamp(t).strftime(fmt)


def _dur(value: object) -> str:
    from cfsession.store import as_float

    ms = as_float(value)  # a value of another type (an edited or foreign file) shows as none
    if ms is None:
        return ""
    s = ms / 1000
    if s < 1:
        return f"{ms:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)}m {int(s % 60):02d}s"
    return f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"


_V = TypeVar("_V")


def _one_line(value: _V) -> _V:
    """A fact of one line keeps to one line: a newline in a path or a name shows as ↵
    (as in the list and search tables)."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        from cfsession.cli.table import NEWLINE_MARK

        return value.replace("\r\n", NEWLINE_MARK).replace("\n", NEWLINE_MARK).replace("\r", NEWLINE_MARK)  # type: ignore[return-value]
    return value


def _home_path(p: object) -> object:
    home = os.path.expanduser("~")
    if isinstance(p, str) and p and home not in ("", "/") and (p == home or p.startswith(home + "/")):
        return "~" + p[len(home):]
    return p


def _exit(code: int | None) -> tuple[str, str]:
    return _c("-" if code is None else code, "green" if code == 0 else ("red" if code else "dim"))


_STATUS_STYLE = {"complete": "green", "incomplete": "yellow", "recording": "bold cyan"}


class Column(NamedTuple):
    name: str
    justify: Literal["left", "right"]
    no_wrap: bool
    overflow: Literal["ellipsis", "fold"]
    min_width: int | None
    ratio: int | None


def column(spec: str) -> Column:
    """A column from ``name:opts``: r right-aligned, n no wrap, fN fixed at N cells, w wide."""
    name, _, opts = spec.partition(":")
    return Column(name, "right" if "r" in opts else "left", "n" in opts or "f" in opts,
                  "ellipsis" if "n" in opts else "fold",
                  _fixed(name, opts) if "f" in opts else (12 if "w" in opts else None),
                  2 if "w" in opts else (1 if "n" in opts else None))


def _table(*columns: str, **kw: Any) -> Any:
    """A rich table of ``name:opts`` columns (see :func:`column`)."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, **kw)
    for spec in columns:
        c = column(spec)
        table.add_column(c.name, justify=c.justify, no_wrap=c.no_wrap, overflow=c.overflow,
                         min_width=c.min_width, ratio=c.ratio)
    return table


def _fixed(name: str, opts: str) -> int:
    digits = re.sub(r"\D", "", opts)
    return max(len(name), int(digits) if digits else 0)


PIPE_WIDTH = 1 << 20  # stdout is not a terminal: rich cuts and wraps nothing for display


# -- views ------------------------------------------------------------------------------------
def render_show(detail: Any, output: bool) -> None:
    from rich.rule import Rule
    from rich.text import Text

    s = detail.session
    con = _common.console()
    title = Text.assemble(("Session ", "bold"), (s["session_id"], "bold"), "  ",
                          (s["status"], _STATUS_STYLE.get(s["status"], "")))
    con.print(title)
    facts = [
        ("name", s.get("name")),
        ("started", f"{_when(s.get('started_at'))}  ({_dur(s.get('duration_ms'))})"),
        ("host", f"{s.get('user') or '?'}@{s.get('host') or '?'}"),
        ("shell", s.get("shell")),
        ("actor", s.get("actor")),
        ("cwd", _home_path(s.get("cwd"))),
        ("commands", f"{s['command_count']} ({s['failed_count']} failed)"),
        ("parent", s.get("parent_session_id")),
        ("children", ", ".join(s.get("children") or []) or None),
        ("integration", s.get("integration") if s.get("integration") != "active" else None),
        ("exit", s.get("exit_code")),
        ("paused", _paused_fact(detail.gaps)),
    ]
    for label, value in facts:
        if value is not None and value != "":
            con.print(Text.assemble((f"  {label:<12}", "dim"), _t(_one_line(value))))
    from cfsession.store import gap_text

    gaps: dict[int, list[str]] = {}
    for g in detail.gaps:
        gaps.setdefault(g.after_command, []).append(gap_text(g.to_dict()))
    if not detail.commands:
        con.print("  (no commands recorded)", style="dim")
        for line in gaps.get(0, []):
            con.print(_t("  " + line, "yellow"))
        return
    if output:
        for line in gaps.get(0, []):
            con.print(_t(line, "yellow"))
        for c in detail.commands:
            head = _one_line(f"{c.get('command_seq', '?')} · exit {c.get('exit_code')} · {_dur(c.get('duration_ms'))} · {_home_path(c.get('cwd')) or ''}")
            if con.width >= PIPE_WIDTH:  # a rule as wide as the pipe is not a rule
                con.print(_t("── " + head + " ──", "dim"))
            else:
                con.print(Rule(_t(head), align="left", style="dim"))
            cmd = c.get("command")
            con.print(_t("$ " + (str(cmd) if cmd is not None else "(not recorded)"), "bold"))
            con.print(_t(str(c.get("output") or "").rstrip("\n")))
            for line in gaps.get(c.get("command_seq") or -1, []):
                con.print(_t(line, "yellow"))
        return
    rows: list[list[Cell]] = []
    for line in gaps.get(0, []):
        rows.append([_c(""), _c(""), _c(""), _c(""), _c(line, "yellow")])
    for c in detail.commands:
        cmd = c.get("command")
        rows.append([_c(c.get("command_seq")), _exit(c.get("exit_code")), _c(_dur(c.get("duration_ms"))),
                     _c(_home_path(c.get("cwd"))), _c(cmd) if cmd is not None else _c("(not recorded)", "dim")])
        for line in gaps.get(c.get("command_seq") or -1, []):
            rows.append([_c(""), _c(""), _c(""), _c(""), _c(line, "yellow")])
    # The list/search table's layout: cwd goes first on a narrow terminal, then duration;
    # cwd is cut at its start, the command wraps.
    from cfsession.cli import table

    cols = [table.Col("seq", align="right"), table.Col("exit", align="right"),
            table.Col("duration", align="right", drop=2), table.Col("cwd", "cut-start", min=6, drop=1),
            table.Col("command", "wrap", min=12)]
    sys.stdout.write("\n" + table.render(cols, rows, table.screen()))
    sys.stdout.flush()


def _paused_fact(gaps: list[Any]) -> str | None:
    if not gaps:
        return None
    total = sum(g.paused_ms or 0.0 for g in gaps)
    n = len(gaps)
    return f"{n} time{'' if n == 1 else 's'}, {_dur(total) or '0 ms'} not recorded"


def render_stats(st: Any) -> None:
    from rich.text import Text

    from cfsession.stats import bar

    con = _common.console()
    con.print(Text.assemble(
        ("Commands ", "bold"), f"{st.command_count}", ("  failed ", "bold"),
        (f"{st.failed_count} ({st.failure_rate:.1%})", "red" if st.failed_count else ""),
        ("  sessions ", "bold"), f"{st.session_count}", ("  time recorded ", "bold"),
        _dur(st.time_recorded_ms) or "0 ms",
    ))
    if st.most_used:
        top = st.most_used[0].count
        table = _table("most used:n", "runs:r", "", title=None)
        for p in st.most_used:
            table.add_row(_t(p.program), _t(p.count), _t(bar(p.count, top), "cyan"))
        con.print(table)
    if st.failure_rate_by_command:
        table = _table("failing:n", "failed:r", "rate:r", "")
        for p in st.failure_rate_by_command:
            table.add_row(_t(p.program), _t(f"{p.failed}/{p.count}"), _t(f"{p.failure_rate:.0%}"),
                          _t(bar(p.failure_rate, 1.0), "red"))
        con.print(table)
    if st.slowest:
        table = _table("slowest:rf8", "session:f8", "seq:rf", "exit:rf", "command:w")
        for c in st.slowest:
            table.add_row(_t(_dur(c.duration_ms)), _t(c.session_id[:8]), _t(c.seq), _rich_cell(_exit(c.exit_code)), _t(c.command))
        con.print(table)
    if st.by_day:
        top = max(d.commands for d in st.by_day)
        table = _table("day:n", "cmds:r", "failed:r", "")
        for d in st.by_day:
            table.add_row(_t(d.day), _t(d.commands), _t(d.failed, "red" if d.failed else "dim"),
                          _t(bar(d.commands, top), "cyan"))
        con.print(table)

