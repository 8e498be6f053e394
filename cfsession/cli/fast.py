"""``cfsession list`` and ``cfsession search`` parsed without Typer (DESIGN.md §7: 150 / 100 ms).

A process spends ~40 ms starting Python here; Typer and click cost ~30 ms more and rich
~20 ms (and ~35 ms to draw 50 rows). So the everyday forms of these two commands are
parsed here by hand and run by :mod:`cfsession.cli.listing`, the same bodies the Typer
commands run. Anything this parser does not know for certain — ``--help``, an unknown
option, a missing or odd value, a value that looks like an option, ``--`` — returns None
and the Typer app runs instead, so help and usage errors read exactly as before.

Both entry points must print the same for the same arguments: tests/cli/test_cli_fast.py
runs both on the same store and compares.
"""

from __future__ import annotations

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
    from cfsession.cli.listing import list_sessions, search

    if args[0] == "list":
        return _common.guarded(
            lambda: list_sessions(None if limit is None else int(limit), values.get("since"),
                          "--failed" in flags, "--json" in flags, values.get("actor")),
            lambda: False,
        )
    assert query is not None
    return _common.guarded(
        lambda: search(query, values.get("session"), "--failed" in flags, values.get("cwd"),
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
