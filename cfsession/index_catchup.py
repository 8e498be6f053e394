"""Catch-up: reads new and grown session files into the index's tables (Index's writer half).

Catch-up must be cheap on a warm index with 10,000 sessions (DESIGN.md §7), so:

* when the sessions directory's mtime has not changed since the last full scan, no file
  was added or removed, and only files still *live* (no ``session_end`` yet) can have
  grown: only those are stat'ed. A directory mtime younger than ``RACY_NS`` at scan time
  is not trusted (a file created in the same clock tick would be missed; git's "racy
  clean" problem);
* a file that grew is read from the byte offset where the last read stopped, so a
  session being recorded is indexed incrementally; a file that shrank, was replaced
  (inode) or rewritten in place (same size, new mtime) is re-read from the start.
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

from cfsession import log, store
from cfsession.store import as_float, as_int, as_str

RACY_NS = 1_000_000_000
SUFFIX = ".jsonl"


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
    actor: str | None = None  # the session's; a command's own ``actor`` field wins


class CatchUp:
    """``catch_up`` and ``reindex``: everything that writes, always under ``BEGIN IMMEDIATE``.

    A base of :class:`cfsession.index.Index`, which provides ``conn`` (the open index) and
    ``sdir`` (the sessions directory).
    """

    conn: sqlite3.Connection
    sdir: Path

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
        if changed or deleted:
            log.debug("index caught up", files_read=len(changed), files_forgotten=len(deleted), full=full)
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
        acc = _Acc(row.session_id, actor=self._actor_of(row.session_id)) if row.session_id else None
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
            self.conn.executemany(f"INSERT INTO commands VALUES ({','.join('?' * 17)})", cmds)
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
        log.warning("index: file not indexed in full", file=name, line=line)
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
            " integration, actor) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (sid, name, as_str(rec.get("name")), as_str(rec.get("session_type")), started,
             store.epoch(started), as_str(rec.get("ts")), as_str(rec.get("shell")),
             as_str(rec.get("shell_kind")), as_str(rec.get("host")), as_str(rec.get("user")),
             as_int(rec.get("pid")), as_str(rec.get("cwd")), as_str(rec.get("parent_session_id")),
             as_str(rec.get("correlation_id")) or sid, as_str(rec.get("integration")),
             as_str(rec.get("actor"))),
        )
        return _Acc(sid, last_ts=as_str(rec.get("ts")), actor=as_str(rec.get("actor")))

    def _actor_of(self, session_id: str) -> str | None:
        row = self.conn.execute("SELECT actor FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else as_str(row[0])

    def _event(self, acc: _Acc, rec: store.Record, line: int, next_id: int,
               cmds: list[tuple[Any, ...]], fts: list[tuple[Any, ...]]) -> int:
        kind = rec.get("event_type")
        acc.last_ts = as_str(rec.get("ts")) or acc.last_ts
        if kind == "terminal_capture":
            command = as_str(rec.get("command"))
            exit_code = as_int(rec.get("exit_code"))
            failed = store.is_failed(exit_code, rec.get("status_kind"))
            started = as_str(rec.get("started_at"))
            acc.commands += 1
            acc.failed += failed
            seq = as_int(rec.get("command_seq")) or acc.commands
            cmds.append((next_id, acc.session_id, seq, line, command, store.program_of(command),
                         exit_code, int(failed), as_str(rec.get("status_kind")), as_str(rec.get("cwd")),
                         started, store.epoch(started), as_str(rec.get("ended_at")),
                         as_float(rec.get("duration_ms")), as_float(rec.get("cast_start")),
                         as_float(rec.get("cast_end")), as_str(rec.get("actor")) or acc.actor))
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


def _is_regular(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode)


def _differs(row: _FileRow, st: os.stat_result) -> bool:
    return (row.ino, row.size, row.mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns)
