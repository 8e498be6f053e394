"""``cfsession list`` and ``cfsession search`` without Typer (DESIGN.md §7: 150 / 100 ms).

A process spends ~40 ms starting Python here; Typer and click cost ~30 ms more and rich
~20 ms (and ~35 ms to draw 50 rows). So the everyday forms of these two commands are
parsed here by hand and printed by ``_render`` (JSON) and ``_plain`` (tables, the same
characters rich would write, on a pipe or a terminal; rich itself when ``_plain`` cannot
match it). Anything this parser does not know for certain — ``--help``, an unknown
option, a missing or odd value, a value that looks like an option, ``--`` — returns None
and the Typer app runs instead, so help and usage errors read exactly as before.

What is printed must stay what ``cli/sessions.py`` prints for the same arguments:
tests/cli/test_cli_fast.py runs both on the same store and compares.
"""

from __future__ import annotations

import sys
from typing import Any

from cfsession.errors import ExitCode

# option -> name of the value it sets; None marks a flag (no value)
_LIST_OPTIONS: dict[str, str | None] = {
    "--limit": "limit", "-n": "limit", "--since": "since", "--failed": None, "--json": None,
    "--actor": "actor",
}
_SEARCH_OPTIONS: dict[str, str | None] = {
    "--session": "session", "--failed": None, "--cwd": "cwd", "--limit": "limit", "-n": "limit",
    "--json": None, "--actor": "actor",
}


def run(args: list[str]) -> int | None:
    """Run ``list``/``search`` from ``args`` (command first); None: let the Typer app do it."""
    if not args or args[0] not in ("list", "search"):
        return None
    parsed = _parse(args[1:], _LIST_OPTIONS if args[0] == "list" else _SEARCH_OPTIONS,
                    positional=args[0] == "search")
    if parsed is None:
        return None
    values, flags, query = parsed
    limit = values.get("limit")
    if limit is not None and not (limit.isascii() and limit.isdigit()):
        return None  # "-1", "1_000", " 5": click's int() decides what they mean
    if args[0] == "search" and (query is None or (limit is not None and int(limit) < 1)):
        return None  # click's "Missing argument" and IntRange messages
    from cfsession.cli import _common

    if args[0] == "list":
        return _common.guarded(
            lambda: _list(None if limit is None else int(limit), values.get("since"),
                          "--failed" in flags, "--json" in flags, values.get("actor")),
            lambda: False,
        )
    assert query is not None
    return _common.guarded(
        lambda: _search(query, values.get("session"), "--failed" in flags, values.get("cwd"),
                        None if limit is None else int(limit), "--json" in flags,
                        values.get("actor")),
        lambda: False,
    )


def _parse(argv: list[str], options: dict[str, str | None],
           positional: bool) -> tuple[dict[str, str], set[str], str | None] | None:
    """``(values, flags, query)`` the way click reads these forms, or None for any other."""
    values: dict[str, str] = {}
    flags: set[str] = set()
    query: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            if not positional or query is not None or arg == "-":
                return None  # click: "Got unexpected extra argument"
            query = arg
            continue
        name, eq, attached = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if name not in options:
            return None  # --help, -h, --debug, --, unknown options: Typer's messages
        dest = options[name]
        if dest is None:
            if eq or attached:
                return None  # "--json=1", "-x…": click's errors
            flags.add(name)
            continue
        if eq or attached:
            value = attached
        elif i < len(argv):
            value = argv[i]
            i += 1
        else:
            return None  # "Option '--limit' requires an argument."
        if value.startswith("-"):
            return None  # click would take "--json" as the value; rare, so let it
        values[dest] = value  # a repeated option: the last one wins, as in click
    return values, flags, query


def _list(limit: int | None, since: str | None, failed: bool, as_json: bool,
          actor: str | None = None) -> int:
    from cfsession.cli._render import NO_SESSIONS, fetch_list, list_view

    got = fetch_list(limit, since, failed, as_json, actor=actor)
    if got is None:
        return ExitCode.OK
    out = _Out()
    if got.sessions:
        columns, rows = list_view(got.sessions, out.width)
        out.table(columns, rows)
    else:
        out.message(NO_SESSIONS)
    if got.note:
        out.message(got.note)
    return ExitCode.OK


def _search(query: str, session: str | None, failed: bool, cwd: str | None,
            limit: int | None, as_json: bool, actor: str | None = None) -> int:
    import os

    from cfsession import api
    from cfsession.cli._render import NO_MATCHES, SEARCH_DEFAULT, emit_json, search_view, warn

    warnings: list[Any] = []
    cwd_abs = os.path.abspath(os.path.expanduser(cwd)) if cwd else None
    hits = api.search_segments(query, session=session, failed=failed, cwd=cwd_abs,
                               limit=SEARCH_DEFAULT if limit is None else limit, warnings=warnings,
                               actor=actor)
    warn(warnings)
    if as_json:
        emit_json([h.to_dict() for h, _ in hits])
        return ExitCode.OK
    out = _Out()
    if hits:
        out.table(*search_view(hits, out.width))
    else:
        out.message(NO_MATCHES)
    return ExitCode.OK


class _Out:
    """stdout as ``_common.console()`` would write it: by ``_plain`` when it can draw exactly
    what rich would (nearly always), else by rich itself."""

    def __init__(self) -> None:
        from cfsession.cli import _plain

        self._plain = _plain
        how = _plain.console()
        self._width: int | None = how[0] if how else None
        self._sgr: dict[str, str] | None = how[1] if how else None
        self._console: Any = None

    @property
    def width(self) -> int:
        return self._width if self._width is not None else int(self._rich().width)

    def table(self, columns: list[str], rows: list[list[Any]]) -> None:
        text = None if self._width is None else self._plain.table(columns, rows, self._width, self._sgr)
        if text is not None:
            _write(text)
            return
        from cfsession.cli._render import rich_table

        self._rich().print(rich_table(columns, rows))

    def message(self, text: str) -> None:  # a constant of ours: no markup in it
        if self._width is not None:
            _write(self._plain.message(text, self._width, self._sgr))
        else:
            self._rich().print(text, style="dim")

    def _rich(self) -> Any:
        if self._console is None:
            from cfsession.cli import _common

            self._console = _common.console()
        return self._console


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
