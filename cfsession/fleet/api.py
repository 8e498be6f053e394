# Over ~400 lines: the fleet twin of cfsession.api, one public read surface whose names must match the local one; its SQL shares the connection helpers.
"""The read API over the fleet server: the names and records of :mod:`cfsession.api`.

``list_sessions``, ``get_session``, ``iter_commands``, ``search``, ``resolve_session_id``
and ``verify`` return the same typed records as the local store (``SessionInfo``,
``SessionDetail``, ``CommandInfo``, ``SearchHit``, ``VerifyResult``), so a program can
switch between ``cfsession.api`` and ``cfsession.fleet.api``. Each takes ``url`` (default:
``$CFSESSION_REMOTE_URL``, ``[remote] url``, then the ship URL) or an open ``conn``, and
``host`` to keep one host's sessions. What a login sees is what row-level security lets
it see (docs/FLEET.md)::

    from cfsession.fleet import api as remote

    remote.list_sessions(host="web-1", limit=20)
    remote.search("permission denied")               # full text (websearch syntax)
    remote.search("ENOENT:", substring=True)         # any substring, case-insensitive
    remote.verify("3f2a")                            # the chain over what the server holds
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cfsession.api_records import CommandInfo, SearchHit, SessionDetail, SessionHeader, SessionInfo
from cfsession.errors import AmbiguousSessionId, SessionNotFound, UsageError
from cfsession.fleet import config
from cfsession.fleet.errors import reader_error
from cfsession.integrity import GENESIS
from cfsession.verify import INCOMPLETE, INTACT, TAMPERED, VerifyResult

__all__ = [
    "connect", "get_session", "iter_commands", "list_sessions", "materialize",
    "resolve_session_id", "search", "search_segments", "verify",
]

Segments = list[tuple[str, bool]]


def connect(url: str | None = None) -> Any:
    """An autocommit connection to the reading URL."""
    return config.connect(config.remote_url(url), autocommit=True)


@contextmanager
def _conn(url: str | None, conn: Any) -> Iterator[Any]:
    """The connection to read through. On one opened here, what the server refuses becomes
    one clear error; a caller's own ``conn`` gets psycopg's (it may need to reconnect)."""
    import psycopg

    if conn is not None:
        yield conn
        return
    try:
        c = connect(url)
        try:
            yield c
        finally:
            c.close()
    except psycopg.Error as exc:
        raise reader_error(exc) from None


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _since(since: str | datetime | None) -> datetime | None:
    if since is None or isinstance(since, datetime):
        return since
    from cfsession.api import parse_when

    return parse_when(since)


# -- sessions ---------------------------------------------------------------------------
_LIST_SQL = """
SELECT s.session_guid::text, s.name, s.started_at, s.ended_at, s.duration_ms, s.command_count,
       s.failed_count, s.shell, h.name, s.user_name, s.cwd, s.parent_session_id,
       s.correlation_id, s.session_type, s.exit_code, s.complete, s.actor
FROM cfsession.sessions s JOIN cfsession.hosts h ON h.host_id = s.host_id
WHERE (%(host)s::text IS NULL OR h.name = %(host)s)
  AND (%(actor)s::text IS NULL OR s.actor = %(actor)s OR (%(actor)s = 'agent' AND s.actor LIKE 'agent:%%'))
  AND (%(since)s::timestamptz IS NULL OR s.started_at >= %(since)s)
  AND (NOT %(failed)s OR s.failed_count > 0)
  AND (%(cwd)s::text IS NULL OR s.cwd = %(cwd)s OR s.cwd LIKE %(cwd_below)s)
ORDER BY s.started_at DESC NULLS LAST, s.session_guid
LIMIT %(limit)s
"""


def list_sessions(*, limit: int | None = None, since: str | datetime | None = None,
                  failed: bool = False, host: str | None = None, actor: str | None = None,
                  cwd: str | None = None, url: str | None = None,
                  conn: Any = None) -> list[SessionInfo]:
    """Sessions on the server, newest first (``list --remote --json``).

    ``actor``: ``human``, ``agent:claude-code``, or ``agent`` for every ``agent:*``;
    ``cwd``: sessions started in that directory or below.
    """
    params = {"host": host, "since": _since(since), "failed": failed, "limit": limit, "actor": actor,
              "cwd": cwd, "cwd_below": _like(cwd.rstrip("/")) + "/%" if cwd else None}
    with _conn(url, conn) as c:
        rows = c.execute(_LIST_SQL, params).fetchall()
    return [
        SessionInfo(r[0], r[1], _ts(r[2]), _ts(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                    r[11], r[12], r[13], r[14], "complete" if r[15] else "incomplete", r[16])
        for r in rows
    ]


def resolve_session_id(query: str, *, url: str | None = None, conn: Any = None) -> str:
    """A full session id from a full id, a unique prefix (≥ 4 hex digits) or ``last``."""
    from cfsession.store import parse_id_query

    kind, value = parse_id_query(query)
    with _conn(url, conn) as c:
        if kind == "last":
            row = c.execute("SELECT session_guid::text FROM cfsession.sessions"
                            " ORDER BY started_at DESC NULLS LAST LIMIT 1").fetchone()
            if not row:
                raise SessionNotFound("the server holds no sessions yet", "ship some with `cfsession ship`")
            return str(row[0])
        if kind == "full":
            rows = c.execute("SELECT session_guid::text FROM cfsession.sessions WHERE session_guid = %s",
                             (value,)).fetchall()
        else:
            rows = c.execute("SELECT session_guid::text FROM cfsession.sessions"
                             " WHERE session_guid::text LIKE %s LIMIT 10", (value + "%",)).fetchall()
    if not rows:
        raise SessionNotFound(f"session {query} not found on the server",
                              "run `cfsession list --remote` to see the ids")
    if len(rows) > 1:
        shown = ", ".join(str(r[0])[:13] for r in rows[:5])
        raise AmbiguousSessionId(f"'{query}' matches {len(rows)} sessions on the server ({shown}…)",
                                 "give more of the id")
    return str(rows[0][0])


def _lines(c: Any, sid: str) -> list[tuple[int, str, str]]:
    """(seq, canonical line, hash) of every line the server holds, in order."""
    rows = c.execute(
        "SELECT seq, line, hash FROM cfsession.events WHERE session_guid = %(s)s"
        " UNION ALL SELECT seq, line, hash FROM cfsession.commands WHERE session_guid = %(s)s"
        " ORDER BY 1", {"s": sid},
    ).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def _cast(c: Any, sid: str) -> Iterator[bytes]:
    # stream(): one row at a time, so a large cast is never held whole in memory
    for (data,) in c.cursor().stream("SELECT data FROM cfsession.cast_chunks WHERE session_guid = %s"
                                     " ORDER BY offset_bytes", (sid,)):
        yield bytes(data)


def materialize(session_id: str, directory: Path, *, url: str | None = None, conn: Any = None,
                cast: bool = True) -> str:
    """Write a server-held session as ``<directory>/sessions/<id>.jsonl`` (+ ``.cast``).

    The lines are written as the recorder writes them (so local readers, replay and export
    work on them unchanged); returns the full session id.
    """
    from cfsession.paths import ensure_dir, open_private

    with _conn(url, conn) as c:
        sid = resolve_session_id(session_id, conn=c)
        sdir = ensure_dir(directory / "sessions")
        fd = open_private(sdir / f"{sid}.jsonl", "wb")
        with open(fd, "wb") as f:
            for _seq, line, digest in _lines(c, sid):
                rec = json.loads(line)
                rec["hash"] = digest
                f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        if cast:
            fd = open_private(sdir / f"{sid}.cast", "wb")
            with open(fd, "wb") as f:
                for chunk in _cast(c, sid):
                    f.write(chunk)
    return sid


def get_session(session_id: str, *, url: str | None = None, conn: Any = None) -> SessionDetail:
    """One session with every command (``show --remote --json``), read as the local store reads."""
    import tempfile

    from cfsession import api, store

    with tempfile.TemporaryDirectory(prefix="cfsession-remote-") as tmp, _conn(url, conn) as c:
        sid = materialize(session_id, Path(tmp), conn=c, cast=False)
        loaded = store.load_session(Path(tmp) / "sessions" / f"{sid}.jsonl")
        session = api.session_dict(loaded)
        row = c.execute("SELECT h.name, s.complete FROM cfsession.sessions s JOIN cfsession.hosts h"
                        " ON h.host_id = s.host_id WHERE s.session_guid = %s", (sid,)).fetchone()
        if row:
            session["host"] = row[0] or session.get("host")
            session["status"] = "complete" if row[1] else "incomplete"
        kids = c.execute("SELECT session_guid::text FROM cfsession.sessions WHERE parent_session_id = %s"
                         " ORDER BY started_at", (sid,)).fetchall()
        session["children"] = [str(k[0]) for k in kids]
        # The same typed shape as api.get_session (SessionHeader, CommandInfo, gaps).
        return SessionDetail(session=SessionHeader.from_record(session),
                             commands=[CommandInfo.from_record(c) for c in loaded.commands],
                             gaps=api.gaps_of(loaded))


# -- commands and search ----------------------------------------------------------------
def iter_commands(session_id: str | None = None, *, failed: bool = False, cwd: str | None = None,
                  since: str | datetime | None = None, until: str | datetime | None = None,
                  limit: int | None = None, with_output: bool = True, host: str | None = None,
                  url: str | None = None, conn: Any = None) -> Iterator[CommandInfo]:
    """Commands across sessions (oldest first), or one session's commands in order."""
    with _conn(url, conn) as c:
        sid = resolve_session_id(session_id, conn=c) if session_id else None
        rows = c.execute(
            "SELECT c.session_guid::text, c.command_seq, c.command, c.exit_code, c.status_kind, c.cwd,"
            " c.started_at, c.ended_at, c.duration_ms, " + ("c.output" if with_output else "NULL") +
            " FROM cfsession.commands c JOIN cfsession.hosts h ON h.host_id = c.host_id"
            " WHERE (%(sid)s::uuid IS NULL OR c.session_guid = %(sid)s)"
            " AND (%(host)s::text IS NULL OR h.name = %(host)s)"
            " AND (NOT %(failed)s OR coalesce(c.exit_code, 0) <> 0)"
            " AND (%(cwd)s::text IS NULL OR c.cwd = %(cwd)s OR c.cwd LIKE %(cwd_below)s)"
            " AND (%(since)s::timestamptz IS NULL OR c.started_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR c.started_at < %(until)s)"
            " ORDER BY c.started_at, c.session_guid, c.seq LIMIT %(limit)s",
            {"sid": sid, "host": host, "failed": failed, "cwd": cwd,
             "cwd_below": _like(cwd.rstrip("/")) + "/%" if cwd else None,
             "since": _since(since), "until": _since(until), "limit": limit},
        ).fetchall()
    for r in rows:
        yield CommandInfo(r[0], r[1], r[2], r[3], r[4], r[5], _ts(r[6]), _ts(r[7]), r[8], r[9])


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# How many of the newest indexed commands a word search looks through before it asks the
# GIN index for every match (see search_segments).
PROBE_ROWS = 5000


def search(query: str, *, session: str | None = None, failed: bool = False, cwd: str | None = None,
           limit: int = 20, host: str | None = None, actor: str | None = None,
           substring: bool = False, url: str | None = None, conn: Any = None) -> list[SearchHit]:
    """Search command lines and output on the server, newest first.

    Full text by default (PostgreSQL ``websearch_to_tsquery`` syntax: words, ``"a phrase"``,
    ``a or b``, ``-word``); ``substring=True`` finds the text anywhere, ignoring case
    (trigram indexes). ``snippet`` marks matches as ``**word**``.
    """
    return [h for h, _ in search_segments(query, session=session, failed=failed, cwd=cwd, limit=limit,
                                          host=host, actor=actor, substring=substring, url=url,
                                          conn=conn)]


def search_segments(query: str, *, session: str | None = None, failed: bool = False,
                    cwd: str | None = None, limit: int = 20, host: str | None = None,
                    actor: str | None = None, substring: bool = False, url: str | None = None,
                    conn: Any = None) -> list[tuple[SearchHit, Segments]]:
    """:func:`search`, with each snippet split into plain and matching parts (for the CLI)."""
    from cfsession.text import sanitize

    if not query.strip():
        raise UsageError("empty search", "give a word to look for, e.g. `cfsession search --remote error`")
    if substring:
        match = pending = "(c.command ILIKE %(pat)s OR c.output ILIKE %(pat)s)"
    else:
        match = "c.doc @@ cfsession.search_words(%(q)s)"  # stored by index_pending
        pending = "cfsession.search_doc(c.command, c.output) @@ cfsession.search_words(%(q)s)"
    # One branch per side of the deferred index: indexed rows through the GIN indexes,
    # pending rows (not yet indexed) read directly.
    filters = (" AND (%(sid)s::uuid IS NULL OR c.session_guid = %(sid)s)"
               " AND (%(host)s::text IS NULL OR c.host_id IN"
               " (SELECT h.host_id FROM cfsession.hosts h WHERE h.name = %(host)s))"
               " AND (NOT %(failed)s OR coalesce(c.exit_code, 0) <> 0)"
               " AND (%(cwd)s::text IS NULL OR c.cwd = %(cwd)s OR c.cwd LIKE %(cwd_below)s)"
               " AND (%(actor)s::text IS NULL OR c.session_guid IN (SELECT s.session_guid"
               " FROM cfsession.sessions s WHERE s.actor = %(actor)s"
               " OR (%(actor)s = 'agent' AND s.actor LIKE 'agent:%%')))")
    cols = "c.session_guid, c.seq, c.started_at"
    # Indexed rows, two ways. The probe looks for the matches among the PROBE newest
    # indexed rows only (a walk of started_at through the month partitions, newest first,
    # checking each stored tsvector): if it finds `limit` of them they are the newest
    # matches there are, and a common word costs a few ms instead of fetching and sorting
    # every match. Otherwise the GIN bitmap of all matches, sorted ("+ interval '0'" keeps
    # the planner from walking every row for a word it wrongly thinks common — it cannot
    # tell a rare word from a word just outside its statistics). Substrings go straight
    # to the trigram bitmap.
    probe = (f"SELECT {cols} FROM (SELECT c.session_guid, c.seq, c.started_at, c.host_id,"
             " c.exit_code, c.cwd, c.doc FROM cfsession.commands c WHERE c.indexed"
             " ORDER BY c.started_at DESC LIMIT %(probe)s) c"
             f" WHERE {match}{filters} ORDER BY c.started_at DESC LIMIT %(limit)s")
    full = (f"SELECT {cols} FROM cfsession.commands c WHERE c.indexed AND {match}{filters}"
            " ORDER BY c.started_at + interval '0' DESC LIMIT %(limit)s")

    def sql(indexed: str) -> str:
        return (
            f"WITH hits AS ((SELECT true AS idx, h.* FROM ({indexed}) h) UNION ALL"
            f" (SELECT false, {cols} FROM cfsession.commands c WHERE NOT c.indexed AND {pending}{filters}"
            f" ORDER BY c.started_at DESC LIMIT %(limit)s))"
            " SELECT c.session_guid::text, c.command_seq, c.command, c.exit_code, c.started_at,"
            " (SELECT s.actor FROM cfsession.sessions s WHERE s.session_guid = c.session_guid), "
            + ("c.output" if substring else
               "ts_headline('simple', coalesce(c.command, '') || ' ' || coalesce(c.output, ''),"
               " cfsession.search_words(%(q)s), 'StartSel=\x02, StopSel=\x03, MaxWords=24,"
               " MinWords=8, MaxFragments=1, FragmentDelimiter=\" … \"')")
            + ", (SELECT count(*) FROM hits WHERE hits.idx)"
            " FROM (SELECT * FROM hits ORDER BY started_at DESC LIMIT %(limit)s) k"
            " JOIN cfsession.commands c ON c.session_guid = k.session_guid AND c.seq = k.seq"
            " AND c.started_at = k.started_at ORDER BY c.started_at DESC, c.seq DESC"
        )

    with _conn(url, conn) as c:
        sid = resolve_session_id(session, conn=c) if session else None
        params = {
            "q": query, "pat": "%" + _like(query) + "%", "sid": sid, "host": host, "failed": failed,
            "cwd": cwd, "cwd_below": _like(cwd.rstrip("/")) + "/%" if cwd else None, "limit": limit,
            "actor": actor, "probe": PROBE_ROWS,
        }
        rows = [] if substring else c.execute(sql(probe), params).fetchall()
        if not rows or rows[0][7] < limit:
            rows = c.execute(sql(full), params).fetchall()
    out = []
    for r in rows:
        raw = _substring_snippet(r[2], r[6], query) if substring else str(r[6] or "")
        segments: Segments = []
        for i, part in enumerate(re.split("[\x02\x03]", raw)):
            text = " ".join(sanitize(part).split("\n")) if part else ""
            if text:
                segments.append((text, i % 2 == 1))
        snippet = "".join(f"**{t}**" if hit else t for t, hit in segments)
        out.append((SearchHit(str(r[0]), r[1], r[2], r[3], _ts(r[4]), snippet, r[5]), segments))
    return out


def _substring_snippet(command: str | None, output: str | None, query: str, width: int = 60) -> str:
    """The first match in the command line, else in the output, marked with \\x02…\\x03."""
    for text in (command or "", output or ""):
        at = text.lower().find(query.lower())
        if at >= 0:
            start = max(0, at - width // 2)
            end = min(len(text), at + len(query) + width // 2)
            return (("…" if start else "") + text[start:at] + "\x02" + text[at:at + len(query)]
                    + "\x03" + text[at + len(query):end] + ("…" if end < len(text) else ""))
    return ""


# -- verify -----------------------------------------------------------------------------
def verify(session_id: str, *, url: str | None = None, conn: Any = None) -> VerifyResult:
    """Re-check a session's chain and .cast digests over what the server holds."""
    with _conn(url, conn) as c:
        sid = resolve_session_id(session_id, conn=c)
        where = f"server:{sid}"
        res = VerifyResult(path=where, cast_path=where + ".cast", session_id=sid)
        lines = _lines(c, sid)
        res.lines = len(lines)
        prev, bad = GENESIS, None
        points: list[tuple[int, int, str]] = []
        for n, (seq, line, digest) in enumerate(lines, start=1):
            rec = json.loads(line)
            if hashlib.sha256(line.encode("utf-8")).hexdigest() != digest:
                bad = ("hash_mismatch", f"line {n} does not match its hash")
            elif rec.get("prev_hash") != prev:
                bad = ("broken_link", f"line {n} does not follow line {n - 1}")
            elif seq != n or rec.get("seq") != n:
                bad = ("seq", f"line {n} is missing or out of order (seq {seq})")
            elif rec.get("session_id") != sid:
                bad = ("session_id", f"line {n} belongs to another session")
            elif (n == 1) != (rec.get("event_type") == "session_start"):
                bad = ("first_line", f"line {n}: session_start must be line 1 and only line 1")
            elif res.complete:
                bad = ("after_end", f"line {n} follows session_end")
            if bad:
                res.status, res.problem, res.reason, res.bad_line = TAMPERED, bad[0], bad[1], n
                return res
            if isinstance(rec.get("cast_sha256"), str) and isinstance(rec.get("cast_bytes"), int):
                points.append((n, rec["cast_bytes"], rec["cast_sha256"]))
            res.complete = res.complete or rec.get("event_type") == "session_end"
            prev = digest
            res.valid_lines, res.final_hash = n, digest
        _check_cast(c, sid, points, res)
    if res.status == INTACT and not res.complete:
        res.status, res.problem = INCOMPLETE, "no_end" if res.lines else "empty"
        res.reason = f"no session_end on the server: intact up to line {res.valid_lines}"
    return res


def _check_cast(c: Any, sid: str, points: list[tuple[int, int, str]], res: VerifyResult) -> None:
    """Confirm each digest the chain pins against the cast chunks the server holds."""
    sha = hashlib.sha256()
    done = 0
    pending = sorted(points, key=lambda p: p[1])
    chunks = _cast(c, sid)
    for line, size, digest in pending:
        while done < size:
            chunk = next(chunks, None)
            if chunk is None:
                break
            take = chunk[: size - done]
            sha.update(take)
            done += len(take)
            if len(take) < len(chunk):  # keep the rest for the next digest
                rest = chunk[len(take):]
                chunks = _prepend(rest, chunks)
        if done < size:
            if res.complete or line < res.valid_lines:
                # The cast has not all arrived yet (shipped after the lines): not tampering.
                res.reason = f"the server holds {done} of the {size} .cast bytes line {line} pins"
            return
        if sha.copy().hexdigest() != digest:
            res.status, res.problem, res.bad_line = TAMPERED, "cast_mismatch", line
            res.reason = f"line {line} pins the first {size} bytes of the cast; the server's differ"
            return
        res.cast_checks += 1


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
