"""How the read-side commands print: warnings, fast JSON, and rich tables and views."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime
from typing import Any

from cfsession.cli import _common


def warn(warnings: list[Any]) -> None:
    from cfsession.text import sanitize

    for w in warnings:  # file names come from disk: sanitised like everything else
        sys.stderr.write(f"cfsession: warning: {sanitize(str(w))}\n")
    sys.stderr.flush()


_C1 = re.compile("[\x7f-\x9f\u2028\u2029]")


def escape_c1(text: str) -> str:
    """C1 controls as ``\\u`` escapes: 0x9b is a CSI on some terminals, even inside JSON."""
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
def _t(value: object, style: str = "") -> Any:
    from rich.text import Text

    from cfsession.text import sanitize

    return Text("" if value is None else sanitize(str(value)), style=style)


def _when(ts: str | None, seconds: bool = True) -> str:
    from cfsession.store import epoch

    t = epoch(ts)
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return "" if t is None else datetime.fromtimestamp(t).strftime(fmt)


def _dur(ms: float | None) -> str:
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


def _home_path(p: str | None) -> str | None:
    home = os.path.expanduser("~")
    if p and home not in ("", "/") and (p == home or p.startswith(home + "/")):
        return "~" + p[len(home):]
    return p


def _exit(code: int | None) -> Any:
    return _t("-" if code is None else code, "green" if code == 0 else ("red" if code else "dim"))


_STATUS_STYLE = {"complete": "green", "incomplete": "yellow", "recording": "bold cyan"}


def _table(*columns: str, **kw: Any) -> Any:
    """Columns as ``name:opts``: r right-aligned, n no wrap, fN fixed at N cells, w wide."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, **kw)
    for col in columns:
        name, _, opts = col.partition(":")
        table.add_column(name, justify="right" if "r" in opts else "left",
                         no_wrap="n" in opts or "f" in opts,
                         overflow="ellipsis" if "n" in opts else "fold",
                         min_width=_fixed(name, opts) if "f" in opts else (12 if "w" in opts else None),
                         ratio=2 if "w" in opts else (1 if "n" in opts else None))
    return table


def _fixed(name: str, opts: str) -> int:
    digits = re.sub(r"\D", "", opts)
    return max(len(name), int(digits) if digits else 0)


# -- views ------------------------------------------------------------------------------------
def render_list(con: Any, sessions: list[Any]) -> None:
    """The ``list`` table; shell and host columns only when the terminal is wide enough."""
    if not sessions:
        con.print("No sessions yet. Record one with: cfsession record", style="dim")
        return
    # Narrow terminals keep what tells sessions apart; shell and host come with width.
    wide = con.width >= 110
    many_hosts = len({s.host for s in sessions}) > 1 and con.width >= 100
    # Nesting: a session recorded inside another shows its parent.
    nested = any(s.parent_session_id for s in sessions)
    table = _table("id:f8", *(["parent:f8"] if nested else []), "started:f16", "duration:rf8",
                   "cmds:rf", "failed:rf", "status:f10", "name:n", *(["shell:n"] if wide else []),
                   *(["host:n"] if many_hosts else []), "cwd:n")
    for s in sessions:
        table.add_row(
            _t(s.session_id[:8], "bold"),
            *([_t(("└ " + s.parent_session_id[:6]) if s.parent_session_id else "", "dim")] if nested else []),
            _t(_when(s.started_at, seconds=False)),
            _t(_dur(s.duration_ms)), _t(s.command_count),
            _t(s.failed_count, "red" if s.failed_count else "dim"),
            _t(s.status, _STATUS_STYLE.get(s.status, "")), _t(s.name),
            *([_t(os.path.basename(s.shell or ""))] if wide else []),
            *([_t(s.host)] if many_hosts else []), _t(_home_path(s.cwd)),
        )
    con.print(table)


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
        ("cwd", _home_path(s.get("cwd"))),
        ("commands", f"{s['command_count']} ({s['failed_count']} failed)"),
        ("parent", s.get("parent_session_id")),
        ("children", ", ".join(s.get("children") or []) or None),
        ("integration", s.get("integration") if s.get("integration") != "active" else None),
        ("exit", s.get("exit_code")),
    ]
    for label, value in facts:
        if value is not None and value != "":
            con.print(Text.assemble((f"  {label:<12}", "dim"), _t(value)))
    if not detail.commands:
        con.print("  (no commands recorded)", style="dim")
        return
    if output:
        for c in detail.commands:
            head = f"{c.get('command_seq', '?')} · exit {c.get('exit_code')} · {_dur(c.get('duration_ms'))} · {_home_path(c.get('cwd')) or ''}"
            con.print(Rule(_t(head), align="left", style="dim"))
            con.print(_t("$ " + (c.get("command") if c.get("command") is not None else "(not recorded)"), "bold"))
            con.print(_t((c.get("output") or "").rstrip("\n")))
        return
    table = _table("seq:rf", "exit:rf", "duration:rf8", "cwd:n", "command:w")
    for c in detail.commands:
        cmd = c.get("command")
        table.add_row(_t(c.get("command_seq")), _exit(c.get("exit_code")), _t(_dur(c.get("duration_ms"))),
                      _t(_home_path(c.get("cwd"))), _t(cmd) if cmd is not None else _t("(not recorded)", "dim"))
    con.print(table)


def render_search(hits: list[Any]) -> None:
    from rich.text import Text

    con = _common.console()
    if not hits:
        con.print("No matches.", style="dim")
        return
    table = _table("session:f8", "seq:rf", "exit:rf", "command:w", "match:w")
    for hit, segments in hits:
        snippet = Text()
        for text, is_match in segments:
            snippet.append(text, style="bold black on yellow" if is_match else "")
        table.add_row(_t(hit.session_id[:8], "bold"), _t(hit.seq), _exit(hit.exit_code),
                      _t(hit.command), snippet)
    con.print(table)


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
            table.add_row(_t(_dur(c.duration_ms)), _t(c.session_id[:8]), _t(c.seq), _exit(c.exit_code), _t(c.command))
        con.print(table)
    if st.by_day:
        top = max(d.commands for d in st.by_day)
        table = _table("day:n", "cmds:r", "failed:r", "")
        for d in st.by_day:
            table.add_row(_t(d.day), _t(d.commands), _t(d.failed, "red" if d.failed else "dim"),
                          _t(bar(d.commands, top), "cyan"))
        con.print(table)

