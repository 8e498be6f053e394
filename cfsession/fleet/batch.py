"""One batch on the wire: ``cfsession.ingest_lines()`` (schema 4), or COPY + ``ingest()``.

Schema 4 takes a batch as the arguments of one call — per line its canonical JSON, its
hash, and what the shipper read in it (session id and line number from the file it came
from, ``prev_hash`` and ``event_type`` from the line): the server checks the chain on
those, then parses each line once, as it stores it, verifying that the line says what
was sent with it — no staging table, one parse. A server not yet migrated to 4 still gets
the version-2 protocol (COPY into the connection's staging table, then ``ingest()``), so
hosts can be upgraded before their server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

_LINES = "cfsession.ingest_lines(text[], text[], text[], integer[], text[], text[], text[])"
_CALL = ("SELECT cfsession.ingest_lines(%b::text[], %b::text[], %b::text[], %b::integer[], %b::text[],"
         " %b::text[], %b::text[])")


class Line(Protocol):
    line: str  # canonical JSON, what ``hash`` covers
    hash: str
    seq: int  # line number in its session's file
    prev: str  # the line's prev_hash ("" if it has none)
    kind: str  # the line's event_type ("" if it has none)
    started: str  # a command's started_at, else its ts ("" for other lines): its month partition

    @property
    def session_id(self) -> str: ...


def prepare(conn: Any) -> bool:
    """Ready a new connection for batches; True when the server has ``ingest_lines``."""
    with conn.transaction():
        row = conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (_LINES,)).fetchone()
        if row and row[0]:
            return True
        # Room for a whole batch in the staging tables (must precede their first use in
        # the session); the default 8 MB spills a 5,000-line batch to disk.
        conn.execute("SET temp_buffers = '64MB'")
        conn.execute("SELECT cfsession.open_batch()")
    return False


def send(conn: Any, rows: Sequence[Line], lines_api: bool, before_ingest: Callable[[], None]) -> int:
    """Store ``rows`` in one transaction; the number of lines the server did not hold yet."""
    with conn.transaction(), conn.cursor() as cur:
        if lines_api:
            before_ingest()
            got = cur.execute(_CALL, ([r.line for r in rows], [r.hash for r in rows],
                                      [r.session_id for r in rows], [r.seq for r in rows],
                                      [r.prev for r in rows], [r.kind for r in rows],
                                      [r.started for r in rows])).fetchone()
        else:
            with cur.copy("COPY pg_temp.cfs_stage (line, hash) FROM STDIN") as copy:
                copy.write(b"".join(copy_text(r.line, r.hash) for r in rows))
            before_ingest()
            got = cur.execute("SELECT cfsession.ingest()").fetchone()
    return int(got[0]) if got else 0


def copy_text(line: str, digest: str) -> bytes:
    """One COPY text row: canonical JSON holds no raw tab, newline or carriage return, so
    only backslashes need COPY's escaping."""
    return (line.replace("\\", "\\\\") + "\t" + digest + "\n").encode("utf-8")
