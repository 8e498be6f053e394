# Over ~400 lines: every reader of the two file formats and their damage tolerance, so schema upgrades live in one place (STYLE.md §3).
"""Reading recorded sessions back from their files (DESIGN.md §3), tolerating damage (§6).

The JSONL file is the source of truth. Readers never crash on bad data: a corrupt line,
a truncated last line, a foreign or empty file or an unknown ``schema_version`` becomes a
:class:`StoreWarning` naming the file and the line, and everything else still reads.
Schema upgrades, when a version 2 exists, live here and only here (STYLE.md §3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cfsession.errors import AmbiguousSessionId, SchemaError, SessionNotFound, UsageError

SCHEMA_VERSION = 1
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PREFIX_RE = re.compile(r"^[0-9a-f-]+$")
MIN_PREFIX = 4  # hex digits: fewer would match half the store
CHUNK = 4 * 1024 * 1024

Record = dict[str, Any]


@dataclass(frozen=True)
class StoreWarning:
    """One problem with one file (and line), for a one-line message on stderr."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class LineReader:
    """Complete lines of a file from ``offset``; a last line without ``\\n`` is the tail.

    The tail is not yielded: the recorder writes each line with one ``write`` so a partial
    line is either being written right now or the file was cut (disk full, crash).
    """

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self.tail = 0  # bytes after the last newline

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        """Yield ``(line, offset after its newline)``."""
        pos = self.offset
        buf = b""
        with open(self.path, "rb") as f:
            f.seek(pos)
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                buf = buf + chunk if buf else chunk
                start = 0
                while True:
                    nl = buf.find(b"\n", start)
                    if nl < 0:
                        break
                    pos += nl + 1 - start
                    yield buf[start:nl], pos
                    start = nl + 1
                buf = buf[start:]
        self.tail = len(buf)


def parse_line(raw: bytes) -> Record | str:
    """The record on one line, or a short reason why it is not one."""
    try:
        rec = json.loads(raw)
    except (ValueError, RecursionError):
        return "corrupt line (not JSON), skipped"
    if not isinstance(rec, dict) or not isinstance(rec.get("event_type"), str):
        return "not an event (no event_type), skipped"
    return rec


def check_start(rec: Record | str) -> str | None:
    """Why a first line does not open a session this version reads (None when it does)."""
    if isinstance(rec, str) or rec.get("event_type") != "session_start":
        return "not a cfsession session file (line 1 is not a session_start), ignored"
    version = rec.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return "not a cfsession session file (no schema_version), ignored"
    if version > SCHEMA_VERSION:
        return (
            f"schema_version {version} is newer than this cfsession reads ({SCHEMA_VERSION}),"
            " ignored; upgrade cfsession"
        )
    if version < 1:
        return f"unknown schema_version {version}, ignored"
    sid = rec.get("session_id")
    if not isinstance(sid, str) or not GUID_RE.match(sid):
        return "session_start has no valid session_id, ignored"
    return None


# -- field helpers: recorded values are untrusted, so every read is typed -------------------
def as_int(v: object) -> int | None:
    # JSON integers have no range; one past SQLite's 64 bits would stop the index (and so
    # every listing) on a single file: such a value is no value.
    if isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63:
        return v
    return None


def as_float(v: object) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return None


def as_str(v: object) -> str | None:
    return v if isinstance(v, str) else None


def is_failed(exit_code: object, status_kind: object = None) -> bool:
    """Non-zero and not a stopped job (Ctrl-Z): the one rule for every count of failures."""
    code = as_int(exit_code)
    return code is not None and code != 0 and status_kind != "stopped"


def epoch(ts: object) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (``Z`` or an offset), None if unreadable."""
    if not isinstance(ts, str) or not ts:
        return None
    s = ts[:-1] + "+00:00" if ts.endswith(("Z", "z")) else ts
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if not 1 < dt.year < 9999:
        # Readable, but not a time a recorder wrote: near datetime's ends, the float (and
        # any local time made of it) falls outside what datetime can hold.
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def program_of(command: str | None) -> str | None:
    """The program a command line runs (``FOO=1 /usr/bin/git push`` → ``git``), for stats."""
    if not command:
        return None
    for word in command.split():
        if "=" in word and not word.startswith(("=", "-")) and word.split("=", 1)[0].isidentifier():
            continue  # a leading environment assignment
        return word.rsplit("/", 1)[-1] or word
    return None


# -- one session ------------------------------------------------------------------------
@dataclass
class LoadedSession:
    """Everything one JSONL file holds, read to its last complete line."""

    path: Path
    start: Record
    events: list[Record] = field(default_factory=list)  # after session_start, in file order
    raw_lines: list[bytes] = field(default_factory=list)  # the valid lines, byte-exact
    warnings: list[StoreWarning] = field(default_factory=list)
    tail: int = 0  # bytes of an incomplete last line
    lines: int = 0  # complete lines read
    light: bool = False  # events hold no ``output``: read it again with full_commands()

    @property
    def session_id(self) -> str:
        return str(self.start["session_id"])

    def full_commands(self) -> Iterator[Record]:
        """The commands with their output, one at a time (read again from the file when
        the session was loaded light, so memory does not grow with the recording)."""
        if not self.light:
            yield from self.commands
            return
        for _n, _raw, rec in _accepted(self.path):
            if isinstance(rec, dict) and rec.get("event_type") == "terminal_capture":
                yield rec

    def iter_raw(self) -> Iterator[bytes]:
        """The valid lines, byte-exact (``raw_lines`` when kept, else read again)."""
        if self.raw_lines:
            yield from self.raw_lines
            return
        for _n, raw, rec in _accepted(self.path):
            if isinstance(rec, dict):
                yield raw

    @property
    def commands(self) -> list[Record]:
        return [e for e in self.events if e.get("event_type") == "terminal_capture"]

    @property
    def end(self) -> Record | None:
        for e in reversed(self.events):
            if e.get("event_type") == "session_end":
                return e
        return None


def _accepted(path: Path, reader: LineReader | None = None) -> Iterator[tuple[int, bytes, Record | str]]:
    """Each line of a session file in order: the record, or why it is skipped (a str).

    Raises SchemaError when line 1 does not open a session this version reads."""
    sid: object = None
    for lineno, (raw, _end) in enumerate(reader or LineReader(path), start=1):
        rec = parse_line(raw)
        if lineno == 1:
            problem = check_start(rec)
            if problem:
                raise SchemaError(f"{path}:1: {problem}", "run `cfsession list` to see the others")
            assert isinstance(rec, dict)
            sid = rec["session_id"]
        elif isinstance(rec, dict) and rec.get("session_id") not in (None, sid):
            rec = "line of another session, skipped"
        yield lineno, raw, rec


def load_session(path: Path, *, keep_raw: bool = False, light: bool = False) -> LoadedSession:
    """Read one session file; damage becomes warnings, an unusable file a SchemaError.

    ``light``: leave each command's ``output`` out (export and replay read it again as
    they go, see :meth:`LoadedSession.full_commands`)."""
    reader = LineReader(path)
    loaded: LoadedSession | None = None
    lineno = 0
    try:
        for lineno, raw, rec in _accepted(path, reader):
            if isinstance(rec, str):
                assert loaded is not None
                loaded.warnings.append(StoreWarning(str(path), lineno, rec))
                continue
            if loaded is None:
                loaded = LoadedSession(path=path, start=rec, light=light)
            else:
                if light and "output" in rec:
                    del rec["output"]
                loaded.events.append(rec)
            if keep_raw:
                loaded.raw_lines.append(raw)
    except OSError as exc:
        raise SchemaError(f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions") from exc
    if loaded is None:
        what = "truncated session_start" if reader.tail else "empty file"
        raise SchemaError(f"{path}:1: {what}, ignored", "run `cfsession list` to see the others")
    loaded.tail = reader.tail
    loaded.lines = lineno
    return loaded


def tail_warning(path: Path | str, line: int, tail: int) -> StoreWarning:
    return StoreWarning(str(path), line, f"truncated last line ({tail} bytes, no newline), ignored")


def summarise(loaded: LoadedSession) -> Record:
    """The listing fields of a session, computed exactly as the index computes them."""
    start, end = loaded.start, loaded.end
    commands = loaded.commands
    last_ts = loaded.events[-1].get("ts") if loaded.events else start.get("ts")
    started_at = as_str(start.get("started_at")) or as_str(start.get("ts"))
    return {
        "ended_at": as_str(end.get("ended_at")) if end else None,
        "duration_ms": session_duration(started_at, end, last_ts),
        "command_count": len(commands),
        "failed_count": sum(1 for c in commands if is_failed(c.get("exit_code"), c.get("status_kind"))),
        "exit_code": as_int(end.get("exit_code")) if end else None,
        "reason": as_str(end.get("reason")) if end else None,
        "complete": end is not None,
    }


def gaps(loaded: LoadedSession) -> list[Record]:
    """The pauses in capture from the ``gap`` events: paused_at, resumed_at (None: the
    session ended paused), paused_ms, skipped_commands, after_command (the seq of the last
    command recorded before the pause; 0 for none)."""
    out: list[Record] = []
    open_at: str | None = None
    seq = 0
    for ev in loaded.events:
        kind = ev.get("event_type")
        if kind == "terminal_capture":
            seq = as_int(ev.get("command_seq")) or seq
        elif kind == "gap" and ev.get("state") == "paused":
            open_at = as_str(ev.get("ts"))
        elif kind == "gap" and ev.get("state") == "resumed":
            out.append({"paused_at": open_at, "resumed_at": as_str(ev.get("ts")),
                        "paused_ms": as_float(ev.get("paused_ms")),
                        "skipped_commands": as_int(ev.get("skipped_commands")), "after_command": seq})
            open_at = None
    if open_at is not None:
        out.append({"paused_at": open_at, "resumed_at": None, "paused_ms": None,
                    "skipped_commands": None, "after_command": seq})
    return out


def gap_text(gap: Record) -> str:
    """One line for people: ``[capture paused 2.5 s; 1 command not recorded]``."""
    ms = as_float(gap.get("paused_ms"))
    n = as_int(gap.get("skipped_commands"))
    what = "capture paused" + (f" {ms / 1000:.1f} s" if ms is not None else " until the end")
    if n:
        what += f"; {n} command{'' if n == 1 else 's'} not recorded"
    return f"[{what}]"


def session_duration(started_at: object, end: Record | None, last_ts: object) -> float | None:
    """session_end's duration, else time from start to the last line written."""
    if end is not None and as_float(end.get("duration_ms")) is not None:
        return as_float(end.get("duration_ms"))
    t0, t1 = epoch(started_at), epoch(last_ts)
    if t0 is None or t1 is None:
        return None
    return round(max(0.0, t1 - t0) * 1000.0, 3)


# -- status -----------------------------------------------------------------------------
_HOSTS: set[str] | None = None


def _local_hosts() -> set[str]:
    global _HOSTS
    if _HOSTS is None:
        import platform
        import socket  # here: only an unfinished session on a named host needs it (3 ms)

        _HOSTS = {h.lower() for h in (socket.gethostname(), platform.node()) if h}
    return _HOSTS


def recorder_alive(pid: object, host: object, started_at: object) -> bool:
    """Is the process that wrote session_start still running (here, and not a reused pid)?"""
    pid_i = as_int(pid)
    if pid_i is None or pid_i <= 0:
        return False
    if isinstance(host, str) and host and host.lower() not in _local_hosts():
        return False  # another machine's recorder: we cannot know, so it is not "recording"
    import psutil  # type: ignore[import-untyped,unused-ignore]  # no stubs installed

    try:
        created = psutil.Process(pid_i).create_time()
    except (psutil.Error, OSError):
        return False
    t0 = epoch(started_at)
    # A pid reused by a process born after the session started is not our recorder.
    return t0 is None or created <= t0 + 2.0


def status(complete: bool, pid: object, host: object, started_at: object) -> str:
    if complete:
        return "complete"
    return "recording" if recorder_alive(pid, host, started_at) else "incomplete"


# -- ids --------------------------------------------------------------------------------
def parse_id_query(query: str) -> tuple[str, str]:
    """``("last", "")``, ``("full", guid)`` or ``("prefix", p)``; a UsageError otherwise."""
    q = query.strip().lower()
    if q == "last":
        return "last", ""
    if GUID_RE.match(q):
        return "full", q
    if PREFIX_RE.match(q) and len(q.replace("-", "")) >= MIN_PREFIX:
        return "prefix", q
    raise UsageError(
        f"'{query}' is not a session id",
        f"give the full id, a prefix of at least {MIN_PREFIX} hex digits, or `last`",
    )


def no_sessions() -> SessionNotFound:
    return SessionNotFound("no sessions recorded yet", "record one with `cfsession record`")


def pick_id(query: str, kind: str, value: str, ids: list[str], *, capped: int = 0) -> str:
    """The one id among ``ids`` (the candidates for prefix ``value``) that ``query`` names,
    or the error every command gives. ``capped``: the caller fetched at most that many."""
    matches = [i for i in ids if i.lower() == value] if kind == "full" else ids
    if not matches:
        raise SessionNotFound(f"session {query} not found", "run `cfsession list` to see the ids")
    if len(matches) > 1:
        shown = ", ".join(m[:13] for m in matches[:5])
        more = "+" if capped and len(matches) >= capped else ""
        raise AmbiguousSessionId(
            f"'{query}' matches {len(matches)}{more} sessions ({shown}…)", "give more of the id"
        )
    return matches[0]


# -- the .cast file ---------------------------------------------------------------------
Frame = tuple[float, str, str]  # (seconds since start, event code, data)
_RESIZE_RE = re.compile(r"^\d+x\d+$")


def read_cast(path: Path) -> tuple[Record, list[Frame], list[StoreWarning]]:
    """Header and events of an asciicast v2 file; bad lines are skipped with a warning.

    Times are made non-decreasing (players require it) and malformed ``"r"`` events are
    dropped because asciinema 3 treats them as a hard error (ANCHORS.md §5.3).
    """
    warnings: list[StoreWarning] = []
    header, frames = iter_cast(path, warnings)
    return header, list(frames), warnings


def iter_cast(path: Path, warnings: list[StoreWarning]) -> tuple[Record, Iterator[Frame]]:
    """:func:`read_cast` one frame at a time: the header now, the frames as they are
    read (warnings are added as the lines are met). Memory does not grow with the file."""
    items = _cast_items(path, warnings)
    first = next(items, None)
    if first is None:
        return {}, iter(())
    if isinstance(first, dict):
        return first, items  # type: ignore[return-value]
    return {}, _chain(first, items)


def _chain(first: Frame, rest: Iterator[Record | Frame]) -> Iterator[Frame]:
    yield first
    yield from rest  # type: ignore[misc]


def _cast_items(path: Path, warnings: list[StoreWarning]) -> Iterator[Record | Frame]:
    """The header (a dict, only ever first) and then the frames of a .cast."""
    reader = LineReader(path)
    last = 0.0
    lineno = 0
    for lineno, (raw, _end) in enumerate(reader, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except (ValueError, RecursionError):
            warnings.append(StoreWarning(str(path), lineno, "corrupt line (not JSON), skipped"))
            continue
        if lineno == 1:
            if isinstance(item, dict):
                yield item
                continue
            warnings.append(StoreWarning(str(path), 1, "no asciicast header, using the session's"))
        ok = (
            isinstance(item, list)
            and len(item) == 3
            and as_float(item[0]) is not None
            and isinstance(item[1], str)
            and isinstance(item[2], str)
        )
        if not ok or (item[1] == "r" and not _RESIZE_RE.match(item[2])):
            warnings.append(StoreWarning(str(path), lineno, "not an asciicast event, skipped"))
            continue
        last = max(last, float(item[0]))
        yield (last, item[1], item[2])
    if reader.tail:
        warnings.append(tail_warning(path, lineno + 1, reader.tail))
