# Over ~400 lines: one Shipper whose parts (read-ahead, refusals, casts, follow) share its connection, cursor and checkpoints.
"""``cfsession ship``: send the local JSONL lines and casts to the fleet server.

It reads the files the recorder writes (never the recorder's hot path: a server that is
down slows nothing but this process) and sends batches of lines to
``cfsession.ingest_lines()`` (:mod:`cfsession.fleet.batch`), which checks the hash chain
server-side and skips lines it already holds. Each line goes as its canonical JSON (what
its ``hash`` covers) so the server can recompute the hash itself. Casts follow as bytea
chunks once their session is on the server. Only complete lines (ending in a newline)
are sent; a live session's last line waits for the next pass.
"""

from __future__ import annotations

import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfsession import paths
from cfsession.errors import CfsessionError
from cfsession.fleet import batch, config
from cfsession.fleet.checkpoint import Checkpoints, Position
from cfsession.fleet.encode import canonical_line
from cfsession.fleet.errors import first_line as _first_line
from cfsession.fleet.errors import retryable as _retryable
from cfsession.fleet.errors import server_error as _server_error

BATCH_LINES = 5000
BATCH_BYTES = 16 << 20
CAST_CHUNK = 1 << 20
_GUID_IN_MESSAGE = re.compile(r"session ([0-9a-f-]{36})")
# Test hook: "N[:FILE]" holds batch N (read, encoded, its transaction begun; not yet
# ingested) until FILE exists (forever without FILE), so tests can kill the shipper or
# restart the server at a known point mid-batch.
_STALL = os.environ.get("CFSESSION_SHIP_TEST_STALL", "")


@dataclass
class Report:
    lines: int = 0  # lines the server stored (not counting resent ones it skipped)
    sent: int = 0  # lines sent
    cast_bytes: int = 0
    sessions: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # session id -> reason
    indexed: int = 0


@dataclass
class _Row:
    pos: Position
    line: str  # the canonical JSON: exactly what ``hash`` covers
    offset: int  # file offset after the line
    seq: int  # its line number in the file, which the server checks against the line's own
    hash: str
    prev: str  # what the line says: its prev_hash and event_type ("" if not a string)
    kind: str
    started: str  # a command's start (for the server's month partitions), else ""

    @property
    def session_id(self) -> str:
        return self.pos.session_id


class Shipper:
    """Ships one store to one server; ``run_once`` and ``follow`` resume from checkpoints."""

    def __init__(self, url: str, *, home: Path | None = None, batch: int = BATCH_LINES,
                 index: bool = True, on_progress: Callable[[Report], None] | None = None,
                 part: tuple[int, int] = (0, 1)) -> None:
        self.url = url
        self.home = home or paths.home()
        self.batch = max(1, batch)
        self.index = index
        self.on_progress = on_progress
        self.part = part  # (k, n): ship only the sessions whose id hashes to k of n streams
        self.report = Report()
        self.checkpoints = Checkpoints(self.home, config.redact(url).replace(":***@", "@"))
        self.positions = self.checkpoints.load()
        self.conn: Any = None
        self._lines_api = True  # set per connection: False for a server before schema 4
        self.batches = 0
        # Read position per session, ahead of the checkpoints while a batch is in flight.
        self._cursor: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()  # checkpoint writes from the read-ahead thread

    # -- connection ------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self.conn is None or self.conn.closed:
            conn = config.connect(self.url)
            try:
                self._lines_api = batch.prepare(conn)
            except Exception as exc:
                conn.close()
                raise _server_error(exc) from None
            self.conn = conn
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.checkpoints.close()

    # -- one pass --------------------------------------------------------------------------
    def run_once(self) -> Report:
        """Ship everything there is now (what was done is in :attr:`report`).

        The next batch is read and encoded in a second thread while the server ingests the
        current one: on two cores the client's JSON work and the server's run side by side.
        """
        from concurrent.futures import ThreadPoolExecutor

        self._cursor.clear()
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="cfsession-read") as pool:
                ahead = pool.submit(self._collect)
                while rows := ahead.result():
                    ahead = pool.submit(self._collect)
                    self._send(rows)
        except BaseException:
            # The pool has waited for the read-ahead by now: the next run re-reads from
            # the checkpoints, never from a position the server did not confirm.
            self._cursor.clear()
            raise
        self._ship_casts()
        if self.index:
            self.index_pending()
        return self.report

    def _pass(self) -> bool:
        """Send one batch; False when there was nothing left to send."""
        self._cursor.clear()
        rows = self._collect()
        if not rows:
            return False
        self._send(rows)
        return True

    def _files(self) -> list[Path]:
        sdir = paths.sessions_dir(self.home)
        files = sorted(sdir.glob("*.jsonl")) if sdir.is_dir() else []
        k, n = self.part
        return files if n == 1 else [f for f in files if int(f.stem[:8], 16) % n == k]

    def _collect(self) -> list[_Row]:
        rows: list[_Row] = []
        size = 0
        for path in self._files():
            sid = path.stem.lower()
            pos = self.positions.get(sid) or Position(sid)
            if pos.refused:
                continue
            try:
                st_size = path.stat().st_size
            except OSError:
                continue
            offset = self._cursor.get(sid, (pos.offset, pos.seq))[0]
            if st_size == offset:
                continue
            if st_size < offset:
                self._refuse(pos, f"{path.name} is shorter than the {pos.offset} bytes already shipped (truncated or replaced)")
                continue
            self.positions.setdefault(sid, pos)
            for row in self._read(path, pos, self.batch - len(rows)):
                rows.append(row)
                size += len(row.line)
            if len(rows) >= self.batch or size >= BATCH_BYTES:
                break
        return rows

    def _read(self, path: Path, pos: Position, budget: int) -> list[_Row]:
        out: list[_Row] = []
        offset, seq = self._cursor.get(pos.session_id, (pos.offset, pos.seq))
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                for raw in f:
                    if not raw.endswith(b"\n") or len(out) >= budget:
                        break  # a line still being written waits for the next pass
                    offset += len(raw)
                    seq += 1
                    try:
                        rec, line = canonical_line(raw)
                    except (ValueError, UnicodeError) as exc:
                        if not out:
                            self._refuse(pos, f"{path.name}:{seq} cannot be read ({exc}); it was damaged")
                        # Ship the lines before it first, refuse on the next pass: which
                        # must read this line again, not go on with the line after it.
                        offset, seq = offset - len(raw), seq - 1
                        break
                    kind, prev = rec.get("event_type"), rec.get("prev_hash")
                    started = rec.get("started_at") or rec.get("ts") if kind == "terminal_capture" else ""
                    out.append(_Row(pos, line, offset, seq, str(rec.get("hash") or ""),
                                    prev if isinstance(prev, str) else "",
                                    kind if isinstance(kind, str) else "",
                                    started if isinstance(started, str) else ""))
        except OSError as exc:
            self._refuse(pos, f"cannot read {path.name}: {exc.strerror or exc}")
            return []
        self._cursor[pos.session_id] = (offset, seq)
        return out

    def _send(self, rows: list[_Row]) -> None:
        """COPY + ingest in one transaction; a session the server refuses is set aside."""
        rows = [r for r in rows if not r.pos.refused]  # refused while this batch was read
        while rows:
            conn = self._connect()
            try:
                self.batches += 1
                stored = batch.send(conn, rows, self._lines_api, self._before_ingest)
            except Exception as exc:
                state = getattr(getattr(exc, "diag", None), "sqlstate", None) or ""
                guid = _GUID_IN_MESSAGE.search(str(exc))
                if state.startswith("CF") and guid:
                    bad = guid.group(1)
                    for r in rows:
                        if r.pos.session_id == bad:
                            self._refuse(r.pos, "the server refused it: " + _first_line(exc))
                            break
                    kept = [r for r in rows if r.pos.session_id != bad]
                    if len(kept) < len(rows):
                        rows = kept
                        continue
                if state == "CF003" and len({r.pos.session_id for r in rows}) > 1:
                    self._send_each(rows)
                    return
                if state.startswith("22"):
                    # Data the server cannot take (a value of the wrong type, text that is
                    # not UTF-8): find the session by sending each alone, refuse only it.
                    sessions = {r.pos.session_id: r.pos for r in rows}
                    if len(sessions) == 1:
                        self._refuse(rows[0].pos, "the server refused it: " + _first_line(exc))
                        return
                    for sid in sessions:
                        self._send([r for r in rows if r.pos.session_id == sid])
                    return
                if config.is_connection_lost(exc):
                    self._drop()
                raise _server_error(exc) from None
            self._advance(rows, stored)
            return

    def _send_each(self, rows: list[_Row]) -> None:
        """A batch refused for a host that ships as another login: each session alone.

        A session id the server holds for another login's host (a cloned machine) is set
        aside and the others go; if none goes, this login is wrong for the host itself,
        which stops the run as before (nothing is set aside for a fixable login).
        """
        parts: dict[str, list[_Row]] = {}
        for r in rows:
            parts.setdefault(r.pos.session_id, []).append(r)
        held: list[tuple[Position, Exception]] = []
        went = 0
        for part in parts.values():
            conn = self._connect()
            try:
                self.batches += 1
                stored = batch.send(conn, part, self._lines_api, self._before_ingest)
            except Exception as exc:
                if (getattr(getattr(exc, "diag", None), "sqlstate", None) or "") != "CF003":
                    self._send(part)  # anything else as any batch (the server skips resent lines)
                    went += not part[0].pos.refused
                    continue
                held.append((part[0].pos, exc))
                continue
            self._advance(part, stored)
            went += 1
        if held and not went:
            raise _server_error(held[0][1])
        for pos, why in held:
            self._refuse(pos, "the server refused it: " + _first_line(why))

    def _before_ingest(self) -> None:
        if _STALL:
            _stall(self.batches)

    def _advance(self, rows: list[_Row], stored: int) -> None:
        touched: dict[str, Position] = {}
        for r in rows:
            r.pos.offset, r.pos.seq, r.pos.hash = r.offset, r.seq, r.hash
            r.pos.complete = r.pos.complete or r.kind == "session_end"
            touched[r.pos.session_id] = r.pos
        with self._lock:
            self.checkpoints.save(list(touched.values()))
        self.report.sent += len(rows)
        self.report.lines += stored
        self.report.sessions.update(touched)
        if self.on_progress:
            self.on_progress(self.report)

    def _refuse(self, pos: Position, reason: str) -> None:
        with self._lock:
            pos.refused = reason
            self.positions[pos.session_id] = pos
            self.checkpoints.save([pos])
            self.report.refused[pos.session_id] = reason
        sys.stderr.write(f"cfsession: session {pos.session_id} not shipped: {reason}\n")

    def _drop(self) -> None:
        try:
            if self.conn is not None:
                self.conn.close()
        except Exception:
            pass
        self.conn = None

    # -- casts and indexing ----------------------------------------------------------------
    def _ship_casts(self) -> None:
        for pos in list(self.positions.values()):
            if pos.refused or pos.seq == 0:
                continue  # the server has no session to attach the cast to yet
            cast = paths.cast_path(pos.session_id, self.home)
            try:
                size = cast.stat().st_size
            except OSError:
                continue
            if size <= pos.cast_offset:
                continue
            conn = self._connect()
            with open(cast, "rb") as f:
                f.seek(pos.cast_offset)
                while pos.cast_offset < size:
                    chunk = f.read(min(CAST_CHUNK, size - pos.cast_offset))
                    if not chunk:
                        break
                    try:
                        with conn.transaction():
                            held = conn.execute("SELECT cfsession.ingest_cast(%s, %s, %s)",
                                                (pos.session_id, pos.cast_offset, chunk)).fetchone()
                    except Exception as exc:
                        state = getattr(getattr(exc, "diag", None), "sqlstate", None) or ""
                        if state.startswith("CF"):
                            self._refuse(pos, "the server refused its cast: " + _first_line(exc))
                            break
                        if config.is_connection_lost(exc):
                            self._drop()
                        raise _server_error(exc) from None
                    self.report.cast_bytes += len(chunk)
                    pos.cast_offset = int(held[0]) if held else pos.cast_offset + len(chunk)
                    f.seek(pos.cast_offset)
                    self.checkpoints.save([pos])

    def index_pending(self, step: int = 20000) -> int:
        """Run the deferred text indexing until nothing is pending."""
        conn = self._connect()
        total = 0
        while True:
            try:
                with conn.transaction():
                    row = conn.execute("SELECT cfsession.index_pending(%s)", (step,)).fetchone()
            except Exception as exc:
                if config.is_connection_lost(exc):
                    self._drop()
                raise _server_error(exc) from None
            n = int(row[0]) if row else 0
            total += n
            if n < step:
                break
        self.report.indexed += total
        return total

    # -- following -------------------------------------------------------------------------
    def follow(self, *, poll: float = 0.5, give_up: float | None = None,
               stop: Callable[[], bool] = lambda: False) -> Report:
        """Ship as sessions grow, until ``stop()``; reconnects with back-off on failures.

        ``give_up``: seconds without reaching the server before raising (None: never).
        """
        delay = 0.25
        down_since: float | None = None
        while not stop():
            try:
                busy = self._pass()
                if not busy:
                    self._ship_casts()
                    if self.index:
                        self.index_pending()
                down_since, delay = None, 0.25
                if not busy:
                    _sleep(poll, stop)
            except CfsessionError as exc:
                if not _retryable(exc):
                    raise
                now = time.monotonic()
                down_since = down_since or now
                if give_up is not None and now - down_since > give_up:
                    raise
                self._drop()
                _sleep(delay * (0.5 + random.random()), stop)
                delay = min(delay * 2, 30.0)
        return self.report


def ship(url: str, *, home: Path | None = None, batch: int = BATCH_LINES, index: bool = True,
         retry_for: float = 120.0, on_progress: Callable[[Report], None] | None = None,
         streams: int = 1) -> Report:
    """``ship --once``: everything there is now; connection failures retried for ``retry_for`` s.

    ``streams`` > 1 ships disjoint sets of sessions over that many connections at once
    (the order within a session is kept: a session always goes through one stream).
    """
    if streams <= 1:
        return _ship_part(url, home, batch, index, retry_for, on_progress, (0, 1))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(streams, thread_name_prefix="cfsession-ship") as pool:
        futures = [pool.submit(_ship_part, url, home, batch, False, retry_for, None, (k, streams))
                   for k in range(streams)]
        reports = [f.result() for f in futures]
    total = Report()
    for r in reports:
        total.lines += r.lines
        total.sent += r.sent
        total.cast_bytes += r.cast_bytes
        total.sessions |= r.sessions
        total.refused.update(r.refused)
    if index:
        total.indexed = _ship_part(url, home, batch, True, retry_for, None, (0, 1)).indexed
    if on_progress:
        on_progress(total)
    return total


def _ship_part(url: str, home: Path | None, batch: int, index: bool, retry_for: float,
               on_progress: Callable[[Report], None] | None, part: tuple[int, int]) -> Report:
    shipper = Shipper(url, home=home, batch=batch, index=index, on_progress=on_progress, part=part)
    try:
        done = False
        deadline = time.monotonic() + retry_for
        delay = 0.25
        while not done:
            try:
                shipper.run_once()
                done = True
            except CfsessionError as exc:
                if not _retryable(exc) or time.monotonic() > deadline:
                    raise
                shipper._drop()
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        return shipper.report
    finally:
        shipper.close()


def _stall(batch: int) -> None:
    number, _, release = _STALL.partition(":")
    if not number.isdigit() or int(number) != batch:
        return
    sys.stderr.write(f"cfsession: test hook: holding batch {batch}\n")
    sys.stderr.flush()
    while not (release and os.path.exists(release)):
        time.sleep(0.02)


def _sleep(seconds: float, stop: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while not stop() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))


__all__ = ["Report", "Shipper", "ship"]
