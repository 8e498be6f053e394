"""``cfsession list`` and ``cfsession search``: their specs, their bodies and their tables.

Both commands have start-up targets (DESIGN.md §7: 150 / 100 ms for the whole process),
so the console script runs them from here without importing Typer, click or rich
(:mod:`cfsession._entry`): :mod:`cfsession.cli.args` parses them from :data:`LIST` and
:data:`SEARCH`, and :mod:`cfsession.cli.table` draws them. The Typer app registers the
same two specs (:func:`register`) for its help, and hands any ``list``/``search`` it
receives (``cfsession --debug list``) back here unparsed: one parser per command.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NamedTuple

from cfsession.cli import args
from cfsession.cli.args import Arg, Opt, Spec
from cfsession.cli.table import Cell, Col
from cfsession.errors import ExitCode

LIST_DEFAULT = 50  # list's table rows; --json lists everything unless --limit is given
SEARCH_DEFAULT = 20  # search's --limit
NO_SESSIONS = "No sessions yet. Record one with: cfsession record"
NO_MATCHING = "No sessions match."  # a filter left none: the store is not empty
NO_MATCHES = "No matches."

_ACTOR = Opt("actor", ("--actor",), "Only ACTOR's: human, agent:NAME, or agent (any agent).")
_REMOTE = Opt("remote", ("--remote",), "Read the fleet server (docs/FLEET.md) instead of this machine's store.", bool)
_HOST = Opt("host", ("--host",), "With --remote: only this host's sessions.")

LIST = Spec("list", "List recorded sessions, newest first.", (
    Opt("limit", ("--limit", "-n"), f"At most N sessions (table default {LIST_DEFAULT}; 0 = all).", int, min=0),
    Opt("since", ("--since",), "Only sessions started after WHEN: 2h, 3d, 1w, today, 2024-05-01."),
    Opt("failed", ("--failed",), "Only sessions with a failed command.", bool),
    _ACTOR,
    Opt("as_json", ("--json",), "Print JSON (every session unless --limit).", bool),
    _REMOTE, _HOST,
))
SEARCH = Spec("search", "Search command lines and their output across sessions, newest first.", (
    Opt("session", ("--session",), "Only this session (id, prefix or `last`)."),
    Opt("failed", ("--failed",), "Only commands that failed.", bool),
    Opt("cwd", ("--cwd",), "Only commands run in DIR or below."),
    Opt("limit", ("--limit", "-n"), "At most N matches.", int, SEARCH_DEFAULT, min=1),
    _ACTOR,
    Opt("as_json", ("--json",), "Print JSON.", bool),
    _REMOTE, _HOST,
    Opt("substring", ("--substring",), "With --remote: match any substring, ignoring case, instead of words.", bool),
), Arg("query", "Words or FTS5 syntax (\"exact phrase\", a OR b, pre*)."))
SPECS = {spec.name: spec for spec in (LIST, SEARCH)}


def main(argv: list[str], debug: bool = False) -> int:
    """``argv`` is the command and its arguments; failures become one line and an exit code."""
    from cfsession.cli._common import guarded

    return guarded(lambda: run(argv[0], argv[1:]), lambda: debug)


def run(name: str, argv: list[str]) -> int:
    spec = SPECS[name]
    try:
        values = args.parse(spec, argv)
    except args.ArgError as exc:
        return args.report(spec, exc)
    if values is None:
        return args.show_help(spec)
    remote = values.pop("remote") or values["host"] is not None or values.get("substring")
    if name == "list":
        if remote:
            from cfsession.cli import fleet

            fleet.list_(values["limit"], values["since"], values["failed"], values["host"],
                        values["as_json"], values["actor"])
            return ExitCode.OK
        del values["host"]
        return list_sessions(**values)
    cwd = os.path.abspath(os.path.expanduser(values["cwd"])) if values["cwd"] else None
    if remote:
        from cfsession.cli import fleet

        fleet.search(values["query"], values["session"], values["failed"], cwd, values["limit"],
                     values["host"], values["substring"], values["as_json"], values["actor"])
        return ExitCode.OK
    return search(values["query"], values["session"], values["failed"], cwd, values["limit"],
                  values["as_json"], values["actor"])


def register(app: Any, name: str) -> None:
    """Add ``list`` or ``search`` to the Typer app (help from the spec, arguments to :func:`run`)."""
    args.register(app, SPECS[name], lambda argv: run(name, argv))


# -- the bodies ---------------------------------------------------------------------------------
def list_sessions(limit: int | None, since: str | None, failed: bool, as_json: bool,
                  actor: str | None = None) -> int:
    from cfsession import api
    from cfsession.cli._render import emit_json, warn

    warnings: list[Any] = []
    n = limit if limit is not None else (0 if as_json else LIST_DEFAULT)
    sessions = api.list_sessions(limit=n or None, since=since, failed=failed, actor=actor,
                                 warnings=warnings)
    warn(warnings)
    if as_json:
        emit_json([s.to_dict() for s in sessions])
        return ExitCode.OK
    note = None
    if n and len(sessions) == n:
        total = api.count_sessions()
        if total > n and not (since or failed or actor):
            note = f"{n} of {total} sessions; --limit 0 shows all"
    print_sessions(sessions, note, filtered=bool(since or failed or actor))
    return ExitCode.OK


def search(query: str, session: str | None, failed: bool, cwd: str | None,
           limit: int | None, as_json: bool, actor: str | None = None) -> int:
    """``cwd`` absolute (or None)."""
    from cfsession import api
    from cfsession.cli._render import emit_json, warn

    warnings: list[Any] = []
    hits = api.search_segments(query, session=session, failed=failed, cwd=cwd,
                               limit=SEARCH_DEFAULT if limit is None else limit, warnings=warnings,
                               actor=actor)
    warn(warnings)
    if as_json:
        emit_json([h.to_dict() for h, _ in hits])
        return ExitCode.OK
    print_hits(hits)
    return ExitCode.OK


def print_sessions(sessions: list[Any], note: str | None = None, filtered: bool = False) -> None:
    """The ``list`` table (local or ``--remote``) on stdout, or the empty-store message."""
    from cfsession.cli import table

    where = table.screen()
    empty = NO_MATCHING if filtered else NO_SESSIONS
    text = table.render(*list_view(sessions, where.width), where) if sessions else table.message(empty, where)
    if note:
        text += table.message(note, where)
    _write(text)


def print_hits(hits: list[Any]) -> None:
    """The ``search`` table (local or ``--remote``) on stdout, or "No matches."."""
    from cfsession.cli import table

    where = table.screen()
    _write(table.render(*search_view(hits), where) if hits else table.message(NO_MATCHES, where))


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# -- the views ----------------------------------------------------------------------------------
class View(NamedTuple):
    cols: list[Col]
    rows: list[list[Cell]]


_STATUS_STYLE = {"complete": "green", "incomplete": "yellow", "recording": "bold cyan"}


def list_view(sessions: list[Any], width: int | None) -> View:
    """The ``list`` table for a screen ``width`` cells wide (None: a pipe, every column).

    Narrow terminals keep what tells sessions apart; shell and host come with width. The
    ``drop`` numbers say what goes first when even the narrowest layout does not fit.
    """
    from cfsession.cli._render import _c, _dur, _home_path, _when

    hosts = len({s.host for s in sessions}) > 1
    wide, many_hosts = (True, hosts) if width is None else (width >= 110, hosts and width >= 100)
    nested = any(s.parent_session_id for s in sessions)  # recorded inside another: its parent
    cols = [Col("id"), *([Col("parent", drop=7)] if nested else []), Col("started", drop=8),
            Col("duration", align="right", drop=3), Col("cmds", align="right", drop=5),
            Col("failed", align="right", drop=6), Col("status"),
            Col("name", "cut", min=6, max=40, drop=2),
            *([Col("shell", "cut", min=5, max=12, drop=1)] if wide else []),
            *([Col("host", "cut", min=6, max=24, drop=0)] if many_hosts else []),
            Col("cwd", "cut-start", min=6, drop=4)]
    rows: list[list[Cell]] = []
    for s in tree_order(sessions):
        rows.append([
            _c(s.session_id[:8], "bold"),
            *([_c(("└ " + s.parent_session_id[:6]) if s.parent_session_id else "", "dim")] if nested else []),
            _c(_when(s.started_at, seconds=False)),
            _c(_dur(s.duration_ms)), _c(s.command_count),
            _c(s.failed_count, "red" if s.failed_count else "dim"),
            _c(s.status, _STATUS_STYLE.get(s.status, "")), _c(s.name),
            *([_c(os.path.basename(s.shell or ""))] if wide else []),
            *([_c(s.host)] if many_hosts else []), _c(_home_path(s.cwd)),
        ])
    return View(cols, rows)


def search_view(hits: list[Any]) -> View:
    """The ``search`` table; the snippet's matches are highlighted spans."""
    from cfsession.cli._render import _c, _exit

    cols = [Col("session"), Col("seq", align="right", drop=1), Col("exit", align="right", drop=0),
            Col("command", "wrap", min=12, drop=2), Col("match", "wrap", min=12)]
    rows: list[list[Cell]] = []
    for hit, segments in hits:  # segments were sanitised by api.search_segments
        snippet = [(text, "bold black on yellow" if is_match else "") for text, is_match in segments]
        rows.append([_c(hit.session_id[:8], "bold"), _c(hit.seq), _exit(hit.exit_code),
                     _c(hit.command), snippet])
    return View(cols, rows)


def tree_order(sessions: list[Any]) -> list[Any]:
    """Newest first, but each listed session's nested ones right below it, oldest first,
    so the tree reads top-down (a child starts after its parent, so newest-first alone
    would put it above)."""
    listed = {s.session_id for s in sessions}
    kids: dict[str, list[Any]] = {}
    for s in sessions:
        if s.parent_session_id in listed and s.parent_session_id != s.session_id:
            kids.setdefault(s.parent_session_id, []).append(s)
    if not kids:
        return sessions
    out: list[Any] = []
    seen: set[str] = set()

    def add(s: Any) -> None:
        if s.session_id in seen:
            return
        seen.add(s.session_id)
        out.append(s)
        for k in reversed(kids.get(s.session_id, [])):  # newest-first in, oldest-first out
            add(k)

    for s in sessions:
        if not (s.parent_session_id in listed and s.parent_session_id != s.session_id):
            add(s)
    for s in sessions:  # a cycle in hand-edited files: still every row, once
        add(s)
    return out
