"""The derived SQLite index ``<home>/index.sqlite``: a cache for list, search and stats.

It is never the source of truth (DESIGN.md §3): deleting it loses nothing and
:meth:`Index.catch_up` brings it up to date from the JSONL files before every answer,
cheaply (how: :mod:`cfsession.index_catchup`). This module opens it and answers queries.

Writers take ``BEGIN IMMEDIATE`` and re-check under the lock, so concurrent readers and a
recorder appending are safe; WAL lets readers answer while another process catches up.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfsession import store
from cfsession.actor import sql_filter
from cfsession.index_catchup import RACY_NS, SUFFIX, CatchUp
from cfsession.paths import FILE_MODE, ensure_dir, index_path, sessions_dir
from cfsession.store import StoreWarning

__all__ = ["INDEX_VERSION", "RACY_NS", "SUFFIX", "Index"]

INDEX_VERSION = 4  # bump on any schema change: older indexes are rebuilt

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER);
CREATE TABLE files(
  name TEXT PRIMARY KEY, session_id TEXT, ino INTEGER, size INTEGER, mtime_ns INTEGER,
  offset INTEGER NOT NULL, lines INTEGER NOT NULL, tail INTEGER NOT NULL,
  live INTEGER NOT NULL, state TEXT NOT NULL);
CREATE INDEX files_live ON files(live) WHERE live = 1;
CREATE TABLE problems(name TEXT NOT NULL, line INTEGER, message TEXT NOT NULL);
CREATE INDEX problems_name ON problems(name);
CREATE TABLE sessions(
  session_id TEXT PRIMARY KEY, file TEXT NOT NULL, name TEXT, session_type TEXT,
  started_at TEXT, start_epoch REAL, last_ts TEXT, ended_at TEXT, duration_ms REAL,
  command_count INTEGER NOT NULL DEFAULT 0, failed_count INTEGER NOT NULL DEFAULT 0,
  shell TEXT, shell_kind TEXT, host TEXT, user TEXT, pid INTEGER, cwd TEXT,
  parent_session_id TEXT, correlation_id TEXT, integration TEXT, exit_code INTEGER,
  reason TEXT, complete INTEGER NOT NULL DEFAULT 0, actor TEXT);
CREATE INDEX sessions_start ON sessions(start_epoch);
CREATE INDEX sessions_corr ON sessions(correlation_id);
CREATE TABLE commands(
  id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER, line INTEGER,
  command TEXT, program TEXT, exit_code INTEGER, failed INTEGER NOT NULL, status_kind TEXT,
  cwd TEXT, started_at TEXT, start_epoch REAL, ended_at TEXT, duration_ms REAL,
  cast_start REAL, cast_end REAL, actor TEXT);
CREATE INDEX commands_session ON commands(session_id, seq);
CREATE INDEX commands_start ON commands(start_epoch);
CREATE INDEX commands_duration ON commands(duration_ms);
CREATE INDEX commands_program ON commands(program, failed);
CREATE INDEX commands_actor ON commands(actor);
CREATE VIRTUAL TABLE commands_fts USING fts5(command, output, tokenize = 'unicode61 remove_diacritics 2');
"""
_TABLES = ("meta", "files", "problems", "sessions", "commands", "commands_fts")


class Index(CatchUp):
    """One connection to the index of one store (``home``)."""

    def __init__(self, home: Path, *, memory: bool = False) -> None:
        self.home = home
        self.sdir = sessions_dir(home)
        self.path = index_path(home)
        self.notes: list[StoreWarning] = []  # problems with the index itself
        self.conn = self._connect(memory)

    # -- opening ------------------------------------------------------------------------
    def _connect(self, memory: bool) -> sqlite3.Connection:
        if not memory:
            try:
                return self._open_file()
            except (OSError, sqlite3.Error) as exc:
                # Only a cache: answer from a throw-away one rather than fail.
                self.notes.append(
                    StoreWarning(str(self.path), None, f"index unusable ({exc}); using a temporary one")
                )
        conn = sqlite3.connect(":memory:", isolation_level=None)
        self._init(conn)
        return conn

    def _open_file(self) -> sqlite3.Connection:
        ensure_dir(self.home)
        if not self.path.exists():
            # Create it 0600 ourselves: sqlite would honour the umask. WAL/SHM files copy it.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        try:
            conn = self._connect_file()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise  # locked or unreadable, not damaged: never delete a healthy cache
            self.notes.append(StoreWarning(str(self.path), None, f"index damaged ({exc}); rebuilt"))
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
            conn = self._connect_file()
        return conn

    def _connect_file(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_VERSION:
                self._init(conn)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _init(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the lock: another process may have just created it.
            if conn.execute("PRAGMA user_version").fetchone()[0] == INDEX_VERSION:
                conn.execute("COMMIT")
                return
            for table in _TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            # Statement by statement: executescript() would COMMIT our BEGIN IMMEDIATE.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {INDEX_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answering ----------------------------------------------------------------------
    def problems(self) -> list[StoreWarning]:
        """Every known problem, file by file (repeated on each run until the file is fixed)."""
        out = list(self.notes)
        for name, line, message in self.conn.execute("SELECT name, line, message FROM problems ORDER BY name, line"):
            out.append(StoreWarning(str(self.sdir / name), line, message))
        for name, lines, tail, sid in self.conn.execute(
            "SELECT name, lines, tail, session_id FROM files WHERE tail > 0"
        ):
            s = self.session(sid) if sid else None
            if s is not None and store.recorder_alive(s["pid"], s["host"], s["started_at"]):
                continue  # being written right now, not damage
            out.append(store.tail_warning(self.sdir / name, lines + 1, tail))
        return out

    def session(self, session_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.query(
            "SELECT * FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        return row

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        """Run a read query whose rows are ``sqlite3.Row`` (columns by name)."""
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(sql, params)

    def sessions(self, *, limit: int | None = None, since: float | None = None,
                 failed: bool = False, correlation_id: str | None = None,
                 columns: tuple[str, ...] | None = None, actor: str | None = None,
                 cwd: str | None = None) -> list[Any]:
        """Rows newest first: ``sqlite3.Row``, or plain tuples of ``columns`` (faster for 10k)."""
        where: list[str] = ["1"]
        params: list[Any] = []
        if since is not None:
            where.append("start_epoch >= ?")
            params.append(since)
        if failed:
            where.append("failed_count > 0")
        if correlation_id is not None:
            where.append("(correlation_id = ? OR session_id = ?)")
            params += [correlation_id, correlation_id]
        if actor is not None:
            clause, args = sql_filter("actor", actor)
            where.append(clause)
            params += args
        if cwd is not None:
            base = cwd.rstrip("/") or "/"
            where.append("(cwd = ? OR cwd LIKE ? ESCAPE '\\')")
            params += [base, _like_prefix(base.rstrip("/") + "/")]
        cols = ", ".join(columns) if columns else "*"
        sql = f"SELECT {cols} FROM sessions WHERE {' AND '.join(where)} ORDER BY start_epoch DESC, session_id"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        if columns:
            return self.conn.execute(sql, params).fetchall()
        return self.query(sql, params).fetchall()

    def children(self, session_id: str) -> list[str]:
        """Sessions recorded inside this one (nested ``cfsession record``), oldest first."""
        rows = self.conn.execute(
            "SELECT session_id FROM sessions WHERE parent_session_id = ? ORDER BY start_epoch",
            (session_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def count_sessions(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM sessions").fetchone()[0])

    def ids_with_prefix(self, prefix: str, limit: int = 10) -> list[str]:
        # A range scan on the primary key: 'abcd' <= id < 'abce'.
        hi = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self.conn.execute(
            "SELECT session_id FROM sessions WHERE session_id >= ? AND session_id < ? LIMIT ?",
            (prefix, hi, limit),
        )
        return [r[0] for r in rows]

    def last_id(self, inside: str | None = None) -> str | None:
        """``last``: the top-level session that ended last (one without an end — recorder
        killed, or still running elsewhere — by its last line). Inside a recorded shell
        (``inside`` = its id), that shell's own nested sessions count as top-level and the
        shell itself is skipped."""
        row = self.conn.execute(
            "SELECT session_id FROM sessions WHERE (parent_session_id IS NULL OR parent_session_id = ?)"
            " AND session_id IS NOT ? ORDER BY coalesce(ended_at, last_ts) DESC, start_epoch DESC"
            " LIMIT 1", (inside, inside),
        ).fetchone()
        if row is None:  # only nested sessions whose parents are gone: the newest
            row = self.conn.execute(
                "SELECT session_id FROM sessions ORDER BY start_epoch DESC LIMIT 1"
            ).fetchone()
        return row[0] if row else None

    def search(self, query: str, *, session_id: str | None = None, failed: bool = False,
               cwd: str | None = None, limit: int = 20, actor: str | None = None,
               contains: list[str] | None = None) -> list[sqlite3.Row]:
        """FTS5 matches, newest first (rowid order, so the LIMIT stops the scan early).

        ``contains``: instead, the commands whose command line or output holds each of
        these strings; a scan, for text the tokenizer keeps whole (CJK runs: no spaces).
        Their ``snippet`` is NULL and ``command_text``/``output_text`` come with them.
        """
        where: list[str] = ["commands_fts MATCH ?"]
        params: list[Any] = [query]
        found = " snippet(commands_fts, -1, char(2), char(3), '…', 16) AS snippet"
        if contains is not None:
            where, params = [], []
            for word in contains:
                pattern = "%" + _like_prefix(word)
                where.append("(commands_fts.command LIKE ? ESCAPE '\\' OR commands_fts.output LIKE ? ESCAPE '\\')")
                params += [pattern, pattern]
            found = (" NULL AS snippet, commands_fts.command AS command_text,"
                     " commands_fts.output AS output_text")
        if session_id is not None:
            lo, hi = self.conn.execute(
                "SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM commands WHERE session_id = ?",
                (session_id,),
            ).fetchone()
            # The rowid range lets FTS5 skip other sessions' postings.
            where.append("commands_fts.rowid BETWEEN ? AND ? AND c.session_id = ?")
            params += [lo, hi, session_id]
        if failed:
            where.append("c.failed = 1")
        if cwd is not None:
            where.append("(c.cwd = ? OR c.cwd LIKE ? ESCAPE '\\')")
            base = cwd.rstrip("/") or "/"
            params += [base, _like_prefix(base.rstrip("/") + "/")]
        if actor is not None:
            clause, args = sql_filter("c.actor", actor)
            where.append(clause)
            params += args
        sql = (
            "SELECT c.session_id, c.seq, c.command, c.exit_code, c.started_at, c.actor,"
            f"{found}"
            " FROM commands_fts JOIN commands c ON c.id = commands_fts.rowid"
            f" WHERE {' AND '.join(where)} ORDER BY commands_fts.rowid DESC LIMIT ?"
        )
        params.append(limit)
        return self.query(sql, params).fetchall()

    def commands(self, *, session_id: str | None = None, failed: bool = False,
                 cwd: str | None = None, since: float | None = None, until: float | None = None,
                 limit: int | None = None, with_output: bool = False,
                 actor: str | None = None) -> Iterator[sqlite3.Row]:
        where: list[str] = ["1"]
        params: list[Any] = []
        if actor is not None:
            clause, args = sql_filter("c.actor", actor)
            where.append(clause)
            params += args
        if session_id is not None:
            where.append("c.session_id = ?")
            params.append(session_id)
        if failed:
            where.append("c.failed = 1")
        if cwd is not None:
            base = cwd.rstrip("/") or "/"
            where.append("(c.cwd = ? OR c.cwd LIKE ? ESCAPE '\\')")
            params += [base, _like_prefix(base.rstrip("/") + "/")]
        if since is not None:
            where.append("c.start_epoch >= ?")
            params.append(since)
        if until is not None:
            where.append("c.start_epoch < ?")
            params.append(until)
        out = ", f.output AS output" if with_output else ", NULL AS output"
        join = " JOIN commands_fts f ON f.rowid = c.id" if with_output else ""
        order = "c.session_id, c.seq" if session_id is not None else "c.start_epoch, c.id"
        sql = f"SELECT c.*{out} FROM commands c{join} WHERE {' AND '.join(where)} ORDER BY {order}"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        yield from self.query(sql, params)


def contains_snippet(row: sqlite3.Row, words: list[str], width: int = 32) -> str:
    """FTS5's snippet for a :meth:`Index.search` ``contains`` row: the text around the first
    word found (the command line, else the output), each word marked with \\x02…\\x03."""
    for text in (row["command_text"] or "", row["output_text"] or ""):
        at = min((i for w in words if (i := text.lower().find(w.lower())) >= 0), default=-1)
        if at < 0:
            continue
        lo, hi = max(0, at - width), min(len(text), at + width * 2)
        part = text[lo:hi]
        for w in sorted(set(words), key=len, reverse=True):
            part = re.sub(re.escape(w), lambda m: f"\x02{m.group()}\x03", part, flags=re.IGNORECASE)
        return ("…" if lo else "") + part + ("…" if hi < len(text) else "")
    return ""


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
