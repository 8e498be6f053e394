"""The bodies of ``list`` and ``search`` (local store), shared by both entry points: the
light parser in :mod:`cfsession.cli.fast` and the Typer commands in :mod:`cfsession.cli.sessions`.

Tables go out through ``_plain`` when it can draw exactly what rich would (nearly
always, and without importing rich), else through rich itself.
"""

from __future__ import annotations

import sys
from typing import Any

from cfsession.errors import ExitCode


def list_sessions(limit: int | None, since: str | None, failed: bool, as_json: bool,
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


def search(query: str, session: str | None, failed: bool, cwd: str | None,
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
