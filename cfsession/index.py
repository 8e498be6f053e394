"""The derived SQLite index ``<home>/index.sqlite``: a cache for list, search and stats.

It is never the source of truth (DESIGN.md §3): deleting it loses nothing and
:meth:`Index.catch_up` brings it up to date from the JSONL files before every answer.
Catch-up must be cheap on a warm index with 10,000 sessions (DESIGN.md §7), so:

* when the sessions directory's mtime has not changed since the last full scan, no file
  was added or removed, and only files still *live* (no ``session_end`` yet) can have
  grown: only those are stat'ed. A directory mtime younger than ``RACY_NS`` at scan time
  is not trusted (a file created in the same clock tick would be missed; git's "racy
  clean" problem);
* a file that grew is read from the byte offset where the last read stopped, so a
  session being recorded is indexed incrementally; a file that shrank, was replaced
  (inode) or rewritten in place (same size, new mtime) is re-read from the start.

Writers take ``BEGIN IMMEDIATE`` and re-check under the lock, so concurrent readers and a
recorder appending are safe; WAL lets readers answer while another process catches up.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfsession import store
from cfsession.paths import FILE_MODE, ensure_dir, index_path, sessions_dir
from cfsession.store import StoreWarning, as_float, as_int, as_str

INDEX_VERSION = 2  # bump on any schema change: older indexes are rebuilt
RACY_NS = 1_000_000_000
SUFFIX = ".jsonl"

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
  reason TEXT, complete INTEGER NOT NULL DEFAULT 0);
CREATE INDEX sessions_start ON sessions(start_epoch);
CREATE INDEX sessions_corr ON sessions(correlation_id);
CREATE TABLE commands(
  id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER, line INTEGER,
  command TEXT, program TEXT, exit_code INTEGER, failed INTEGER NOT NULL, status_kind TEXT,
  cwd TEXT, started_at TEXT, start_epoch REAL, ended_at TEXT, duration_ms REAL,
  cast_start REAL, cast_end REAL);
CREATE INDEX commands_session ON commands(session_id, seq);
CREATE INDEX commands_start ON commands(start_epoch);
CREATE INDEX commands_duration ON commands(duration_ms);
CREATE INDEX commands_program ON commands(program, failed);
CREATE VIRTUAL TABLE commands_fts USING fts5(command, output, tokenize = 'unicode61 remove_diacritics 2');
"""
_TABLES = ("meta", "files", "problems", "sessions", "commands", "commands_fts")


@dataclass
class _FileRow:
    name: str
    session_id: str | None
    ino: int
    size: int
    mtime_ns: int
    offset: int
    lines: int
    tail: int
    live: int
    state: str


@dataclass
class _Acc:
    """Per-file running totals, written once per file instead of once per line."""

    session_id: str
    commands: int = 0
    failed: int = 0
    last_ts: str | None = None
    end: dict[str, Any] | None = None
    integration: str | None = None


class Index:
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

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- catching up --------------------------------------------------------------------
    def catch_up(self) -> int:
        """Index new and grown files, forget deleted ones; returns how many files were read."""
        try:
            dir_mtime = os.stat(self.sdir).st_mtime_ns
        except FileNotFoundError:
            dir_mtime = None
        full = dir_mtime is None or dir_mtime != self._meta("dir_mtime_ns")
        if not self._changes(full):
            return 0
        with self._write():
            # Decide again under the lock: another reader may have done the work meanwhile.
            return self._sync(self._meta("dir_mtime_ns") != dir_mtime or dir_mtime is None)

    def reindex(self) -> int:
        """Forget everything and read every file again; returns the number of sessions."""
        with self._write() as conn:
            for table in ("meta", "files", "problems", "sessions", "commands", "commands_fts"):
                conn.execute(f"DELETE FROM {table}")
            self._sync(True)
        return int(self.conn.execute("SELECT count(*) FROM sessions").fetchone()[0])

    def _meta(self, key: str) -> int | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def _live(self) -> dict[str, _FileRow]:
        """Files that may still grow: no session_end yet, a partial last line, or empty."""
        return {r[0]: _FileRow(*r) for r in self.conn.execute("SELECT * FROM files WHERE live = 1")}

    def _scan(self, full: bool, live: dict[str, _FileRow]) -> tuple[dict[str, os.stat_result], list[str]]:
        """(new or changed files with their stat, deleted names).

        A finished session file is append-only and done, so when the directory changed only
        new names and replaced files (another inode, from the directory entry: no stat) are
        looked at, plus the live files; 10,000 finished sessions cost one ``scandir``.
        Editing a finished file in place is not noticed: ``cfsession reindex`` is for that.
        """
        changed: dict[str, os.stat_result] = {}
        deleted: list[str] = []
        names: set[str] | None = None
        if full:
            known: dict[str, int] = dict(self.conn.execute("SELECT name, ino FROM files"))
            try:
                entries = [e for e in os.scandir(self.sdir) if e.name.endswith(SUFFIX)]
            except (FileNotFoundError, NotADirectoryError):
                entries = []
            names = {e.name for e in entries}
            for e in entries:
                try:
                    if e.name in live or known.get(e.name) == e.inode():
                        continue
                    st = e.stat()
                except OSError:
                    continue
                if _is_regular(st):
                    changed[e.name] = st
            deleted = [n for n in known if n not in names]
        for name, row in live.items():
            if names is not None and name not in names:
                continue  # already counted as deleted
            try:
                st = os.stat(self.sdir / name)
            except OSError:
                deleted.append(name)
                continue
            if _differs(row, st):
                changed[name] = st
        return changed, deleted

    def _changes(self, full: bool) -> bool:
        changed, deleted = self._scan(full, self._live())
        return bool(changed or deleted or full)

    def _sync(self, full: bool) -> int:
        scan_start = time.time_ns()
        try:
            dir_mtime: int | None = os.stat(self.sdir).st_mtime_ns
        except OSError:
            dir_mtime = None
        rows = self._live()
        changed, deleted = self._scan(full, rows)
        for name in deleted:
            self._forget(name)
        next_id = int(self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM commands").fetchone()[0])
        # Oldest first, so command rowids (the search order) follow time across sessions.
        for name, st in sorted(changed.items(), key=lambda kv: kv[1].st_mtime_ns):
            next_id = self._read_file(name, st, rows.get(name), next_id)
        if full:
            trusted = dir_mtime is not None and scan_start - dir_mtime > RACY_NS
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('dir_mtime_ns', ?)", (dir_mtime if trusted else -1,)
            )
        return len(changed)

    def _forget(self, name: str) -> None:
        row = self.conn.execute("SELECT session_id FROM files WHERE name = ?", (name,)).fetchone()
        sid = row[0] if row else None
        if sid is not None:
            self.conn.execute(
                "DELETE FROM commands_fts WHERE rowid IN (SELECT id FROM commands WHERE session_id = ?)",
                (sid,),
            )
            self.conn.execute("DELETE FROM commands WHERE session_id = ?", (sid,))
            self.conn.execute("DELETE FROM sessions WHERE session_id = ? AND file = ?", (sid, name))
        self.conn.execute("DELETE FROM problems WHERE name = ?", (name,))
        self.conn.execute("DELETE FROM files WHERE name = ?", (name,))

    def _read_file(self, name: str, st: os.stat_result, row: _FileRow | None, next_id: int) -> int:
        restart = (
            row is None
            or row.ino != st.st_ino
            or st.st_size < row.offset
            or (st.st_size == row.size and st.st_mtime_ns != row.mtime_ns)
            or row.state in ("skipped", "empty")
        )
        if restart:
            self._forget(name)
            row = _FileRow(name, None, st.st_ino, 0, 0, 0, 0, 0, 1, "new")
        assert row is not None
        path = self.sdir / name
        reader = store.LineReader(path, row.offset)
        acc = _Acc(row.session_id) if row.session_id else None
        cmds: list[tuple[Any, ...]] = []
        fts: list[tuple[Any, ...]] = []
        failed = False
        try:
            for raw, end in reader:
                row.lines += 1
                rec = store.parse_line(raw)
                if row.lines == 1:
                    acc = self._start(name, rec)
                    if acc is None:
                        row.state = "skipped"
                        break
                    row.session_id = acc.session_id
                elif isinstance(rec, str):
                    self._problem(name, row.lines, rec)
                elif acc is not None:
                    if rec.get("session_id") not in (None, acc.session_id):
                        self._problem(name, row.lines, "line of another session, skipped")
                    else:
                        next_id = self._event(acc, rec, row.lines, next_id, cmds, fts)
                row.offset = end
        except FileNotFoundError:
            if row.lines == 0:  # removed between the scan and now: simply gone
                self._forget(name)
                return next_id
            failed = True
            self._problem(name, None, "removed while being read")
        except OSError as exc:
            failed = True
            self._problem(name, None, f"cannot read ({exc.strerror or exc})")
        if row.state != "skipped":
            row.tail = reader.tail
            row.state = "ok" if acc is not None else "empty"
            if row.lines == 0 and not reader.tail and not failed:
                self._problem(name, None, "empty file, ignored")
        if cmds:
            self.conn.executemany(f"INSERT INTO commands VALUES ({','.join('?' * 16)})", cmds)
            self.conn.executemany("INSERT INTO commands_fts(rowid, command, output) VALUES (?,?,?)", fts)
        if acc is not None:
            self._finish(acc)
        row.live = 0 if (acc is not None and acc.end is not None and not row.tail) or row.state == "skipped" else 1
        self.conn.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)",
            (name, row.session_id, st.st_ino, st.st_size, st.st_mtime_ns, row.offset, row.lines,
             row.tail, row.live, row.state),
        )
        return next_id

    def _problem(self, name: str, line: int | None, message: str) -> None:
        self.conn.execute("INSERT INTO problems VALUES (?,?,?)", (name, line, message))

    def _start(self, name: str, rec: store.Record | str) -> _Acc | None:
        problem = store.check_start(rec)
        if problem:
            self._problem(name, 1, problem)
            return None
        assert isinstance(rec, dict)
        sid = rec["session_id"]
        other = self.conn.execute("SELECT file FROM sessions WHERE session_id = ?", (sid,)).fetchone()
        if other is not None:
            self._problem(name, 1, f"same session id as {other[0]} (a copy?), ignored")
            return None
        started = as_str(rec.get("started_at")) or as_str(rec.get("ts"))
        self.conn.execute(
            "INSERT INTO sessions (session_id, file, name, session_type, started_at, start_epoch,"
            " last_ts, shell, shell_kind, host, user, pid, cwd, parent_session_id, correlation_id,"
            " integration) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (sid, name, as_str(rec.get("name")), as_str(rec.get("session_type")), started,
             store.epoch(started), as_str(rec.get("ts")), as_str(rec.get("shell")),
             as_str(rec.get("shell_kind")), as_str(rec.get("host")), as_str(rec.get("user")),
             as_int(rec.get("pid")), as_str(rec.get("cwd")), as_str(rec.get("parent_session_id")),
             as_str(rec.get("correlation_id")) or sid, as_str(rec.get("integration"))),
        )
        return _Acc(sid, last_ts=as_str(rec.get("ts")))

    def _event(self, acc: _Acc, rec: store.Record, line: int, next_id: int,
               cmds: list[tuple[Any, ...]], fts: list[tuple[Any, ...]]) -> int:
        kind = rec.get("event_type")
        acc.last_ts = as_str(rec.get("ts")) or acc.last_ts
        if kind == "terminal_capture":
            command = as_str(rec.get("command"))
            exit_code = as_int(rec.get("exit_code"))
            failed = store.is_failed(exit_code)
            started = as_str(rec.get("started_at"))
            acc.commands += 1
            acc.failed += failed
            seq = as_int(rec.get("command_seq")) or acc.commands
            cmds.append((next_id, acc.session_id, seq, line, command, store.program_of(command),
                         exit_code, int(failed), as_str(rec.get("status_kind")), as_str(rec.get("cwd")),
                         started, store.epoch(started), as_str(rec.get("ended_at")),
                         as_float(rec.get("duration_ms")), as_float(rec.get("cast_start")),
                         as_float(rec.get("cast_end"))))
            fts.append((next_id, command or "", as_str(rec.get("output")) or ""))
            return next_id + 1
        if kind == "session_end":
            acc.end = rec
        elif kind == "integration":
            acc.integration = as_str(rec.get("status")) or acc.integration
        return next_id

    def _finish(self, acc: _Acc) -> None:
        row = self.conn.execute(
            "SELECT started_at, last_ts FROM sessions WHERE session_id = ?", (acc.session_id,)
        ).fetchone()
        end = acc.end
        last_ts = acc.last_ts or (row[1] if row else None)
        duration = store.session_duration(row[0] if row else None, end, last_ts)
        self.conn.execute(
            "UPDATE sessions SET command_count = command_count + ?, failed_count = failed_count + ?,"
            " last_ts = coalesce(?, last_ts), duration_ms = ?, integration = coalesce(?, integration)"
            " WHERE session_id = ?",
            (acc.commands, acc.failed, acc.last_ts, duration, acc.integration, acc.session_id),
        )
        if end is not None:
            self.conn.execute(
                "UPDATE sessions SET complete = 1, ended_at = ?, exit_code = ?, reason = ?"
                " WHERE session_id = ?",
                (as_str(end.get("ended_at")), as_int(end.get("exit_code")), as_str(end.get("reason")),
                 acc.session_id),
            )

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
                 columns: tuple[str, ...] | None = None) -> list[Any]:
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
        cols = ", ".join(columns) if columns else "*"
        sql = f"SELECT {cols} FROM sessions WHERE {' AND '.join(where)} ORDER BY start_epoch DESC, session_id"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        if columns:
            return self.conn.execute(sql, params).fetchall()
        return self.query(sql, params).fetchall()

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

    def last_id(self) -> str | None:
        row = self.conn.execute(
            "SELECT session_id FROM sessions ORDER BY start_epoch DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def search(self, query: str, *, session_id: str | None = None, failed: bool = False,
               cwd: str | None = None, limit: int = 20) -> list[sqlite3.Row]:
        """FTS5 matches, newest first (rowid order, so the LIMIT stops the scan early)."""
        where: list[str] = ["commands_fts MATCH ?"]
        params: list[Any] = [query]
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
        sql = (
            "SELECT c.session_id, c.seq, c.command, c.exit_code, c.started_at,"
            " snippet(commands_fts, -1, char(2), char(3), '…', 16) AS snippet"
            " FROM commands_fts JOIN commands c ON c.id = commands_fts.rowid"
            f" WHERE {' AND '.join(where)} ORDER BY commands_fts.rowid DESC LIMIT ?"
        )
        params.append(limit)
        return self.query(sql, params).fetchall()

    def commands(self, *, session_id: str | None = None, failed: bool = False,
                 cwd: str | None = None, since: float | None = None, until: float | None = None,
                 limit: int | None = None, with_output: bool = False) -> Iterator[sqlite3.Row]:
        where: list[str] = ["1"]
        params: list[Any] = []
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


def _is_regular(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode)


def _differs(row: _FileRow, st: os.stat_result) -> bool:
    return (row.ino, row.size, row.mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
