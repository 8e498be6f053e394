"""``cfsession mcp --remote``: the MCP tools over the fleet server (PostgreSQL).

:class:`RemoteStore` answers with the same JSON as :class:`cfsession.mcp_tools.LocalStore`.
Listings and search are SQL on the server (:mod:`cfsession.fleet.api`); so are
``verify_session`` (the chain over what the server holds, as ``verify --remote``),
``diff_output`` (the recorded outputs in ``cfsession.commands``) and ``stats``.
``get_command`` and ``get_output`` need the session's JSONL and .cast: the session is
copied once into a private temporary store (0700 directory, 0600 files) and read there
by LocalStore's own code; the last few copies are kept (keyed by how far the server's
chain has grown, so a session still arriving is fetched again) and all are deleted when
the server stops. What a login may read is what the server's row-level security lets it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cfsession.errors import CfsessionError, SessionNotFound
from cfsession.mcp_tools import MAX_LIMIT, PAGE, LocalStore, clamp, session_page, visible

KEEP = 4  # sessions kept copied at once (a 10 MB cast each, at most)


class RemoteStore:
    """The tools over the fleet server at ``url`` (default: ``--remote``'s usual sources)."""

    notes = (" These are the fleet server's sessions (every host this login may read): search "
             "takes PostgreSQL web search syntax (words, \"a phrase\", a or b, -word), not FTS5.")

    def __init__(self, url: str | None = None) -> None:
        from cfsession.fleet import config

        self.url = config.remote_url(url)  # no server named: the CLI's error, before serving
        self._conn: Any = None
        self._root: Path | None = None
        # (session id, last line, cast bytes) → a LocalStore over that copy
        self._copies: OrderedDict[tuple[str, int, int], LocalStore] = OrderedDict()

    # -- the connection -------------------------------------------------------------------
    def _db(self) -> Any:
        """The open connection, made on first use (an unreachable server: a tool error)."""
        if self._conn is None or self._conn.closed:
            from cfsession.fleet import api

            self._conn = api.connect(self.url)
        return self._conn

    def _run(self, fn: Any) -> Any:
        """``fn(conn)``; a lost connection becomes the CLI's message and is made again next call."""
        import psycopg

        from cfsession.fleet.errors import first_line, nul_in_text

        try:
            return fn(self._db())
        except CfsessionError:
            raise
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self._conn = None
            nul = nul_in_text(exc)
            if nul is not None:
                raise nul from None
            raise CfsessionError(f"the fleet server failed: {first_line(exc)}",
                                 "check that it runs, then ask again") from None

    def close(self) -> None:
        """Close the connection and delete every copied session."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
        self._copies.clear()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    # -- listings -------------------------------------------------------------------------
    def list_sessions(self, since: str | None = None, failed: bool = False, cwd: str | None = None,
                      actor: str | None = None, limit: int = 20) -> dict[str, Any]:
        from cfsession.fleet import api

        n = clamp(limit)
        rows = self._run(lambda c: api.list_sessions(limit=n + 1, since=since, failed=failed,
                                                      actor=actor, cwd=cwd, conn=c))
        return visible({"sessions": [r.to_dict() for r in rows[:n]], "more": len(rows) > n})

    def search(self, query: str, failed: bool = False, cwd: str | None = None,
               session: str | None = None, actor: str | None = None,
               limit: int = 20) -> dict[str, Any]:
        from cfsession.fleet import api

        n = clamp(limit)
        hits = self._run(lambda c: api.search(query, session=session, failed=failed, cwd=cwd,
                                              limit=n + 1, actor=actor, conn=c))
        return visible({"query": query, "hits": [h.to_dict() for h in hits[:n]],
                        "more": len(hits) > n})

    def stats(self, since: str | None = None, actor: str | None = None) -> dict[str, Any]:
        from cfsession.mcp_remote_stats import remote_stats

        return visible(self._run(lambda c: remote_stats(c, since, actor)).to_dict())

    # -- one session, one command ---------------------------------------------------------
    def get_session(self, session: str, offset: int = 0, limit: int = MAX_LIMIT) -> dict[str, Any]:
        from cfsession.fleet import api

        return session_page(self._run(lambda c: api.get_session(session, conn=c)), offset, limit)

    def get_command(self, session: str, seq: int) -> dict[str, Any]:
        sid, local = self._copy(session)
        return _remote_hint(lambda: local.get_command(sid, seq))

    def get_output(self, session: str, seq: int, offset: int = 0, length: int = PAGE,
                   grep: str | None = None) -> dict[str, Any]:
        sid, local = self._copy(session)
        return _remote_hint(lambda: local.get_output(sid, seq, offset, length, grep))

    def diff_output(self, a: str, b: str | None = None) -> dict[str, Any]:
        from cfsession.diff import diff_sides, resolve_pair

        def run(c: Any) -> Any:
            (sa, qa), (sb, qb) = resolve_pair(c, a, b, last_two=_last_two_runs)
            side_a, out_a = _fetch(c, sa, qa)
            side_b, out_b = _fetch(c, sb, qb)
            return diff_sides(side_a, out_a, side_b, out_b)

        return visible(self._run(run).to_dict(), limit=PAGE + 1024)

    def verify_session(self, session: str) -> dict[str, Any]:
        from cfsession.fleet import api

        return visible(self._run(lambda c: api.verify(session, conn=c)).to_dict())

    # -- copies of sessions -----------------------------------------------------------------
    def _copy(self, session: str) -> tuple[str, LocalStore]:
        """The full id of ``session`` and a LocalStore over a fresh enough copy of it."""
        from cfsession.fleet import api

        def look(c: Any) -> tuple[str, int, int]:
            sid = api.resolve_session_id(session, conn=c)
            row = c.execute("SELECT last_seq, cast_bytes FROM cfsession.sessions"
                            " WHERE session_guid = %s", (sid,)).fetchone()
            return sid, int(row[0]) if row else 0, int(row[1]) if row else 0

        key = self._run(look)
        hit = self._copies.get(key)
        if hit is not None:
            self._copies.move_to_end(key)
            return key[0], hit
        for old in [k for k in self._copies if k[0] == key[0]]:  # an older copy of it
            self._drop(old)
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="cfsession-mcp-"))  # mode 0700
        where = self._root / f"{key[0]}-{key[1]}-{key[2]}"
        try:
            self._run(lambda c: api.materialize(key[0], where, conn=c))
        except BaseException:
            shutil.rmtree(where, ignore_errors=True)
            raise
        local = LocalStore(where)
        self._copies[key] = local
        while len(self._copies) > KEEP:
            self._drop(next(iter(self._copies)))
        return key[0], local

    def _drop(self, key: tuple[str, int, int]) -> None:
        local = self._copies.pop(key)
        if local.home is not None:
            shutil.rmtree(local.home, ignore_errors=True)


def _remote_hint(fn: Any) -> dict[str, Any]:
    """``fn()``, with the local store's `cfsession show ID` hint pointed at the server."""
    try:
        result: dict[str, Any] = fn()
        return result
    except CfsessionError as exc:
        if exc.hint and exc.hint.startswith("run `cfsession show ") and "--remote" not in exc.hint:
            exc.hint = exc.hint.replace("run `cfsession show ", "run `cfsession show --remote ", 1)
        raise


def _last_two_runs(c: Any, command: str) -> list[tuple[str, int]]:
    from cfsession.diff import two_runs

    rows = c.execute("SELECT session_guid::text, command_seq FROM cfsession.commands"
                     " WHERE command = %s AND command_seq IS NOT NULL"
                     " ORDER BY started_at DESC, seq DESC LIMIT 2", (command,)).fetchall()
    return two_runs(command, [(str(r[0]), int(r[1])) for r in rows])


def _fetch(c: Any, session: str, seq: int) -> tuple[Any, str]:
    """One command's facts and recorded output from the server (as :func:`cfsession.diff.fetch`)."""
    from cfsession.diff import Side
    from cfsession.fleet import api

    sid = api.resolve_session_id(session, conn=c)
    row = c.execute(
        "SELECT c.command_seq, c.command, c.exit_code, c.started_at, s.actor, c.output"
        " FROM cfsession.commands c JOIN cfsession.sessions s ON s.session_guid = c.session_guid"
        " WHERE c.session_guid = %s AND c.command_seq = %s", (sid, seq),
    ).fetchone()
    if row is None:
        raise SessionNotFound(f"command {seq} not found in session {sid}",
                              f"run `cfsession show --remote {sid[:8]}` to see its commands")
    output = row[5] or ""
    side = Side(f"{sid}:{seq}", sid, int(row[0]), row[1], row[2], _iso(row[3]), row[4], len(output))
    return side, output


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


__all__ = ["KEEP", "RemoteStore"]
