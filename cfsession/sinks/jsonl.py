"""The JSONL event file: the source of truth, append-only, one hash-chained line per event."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfsession.integrity import GENESIS, seal
from cfsession.paths import open_private
from cfsession.records import Record, dumps, utc_ts
from cfsession.sinks import WarningCallback

if TYPE_CHECKING:
    from cfsession.anchor import AnchorWriter

# Records held at most before a flush (``hold``): what a killed bookkeeper could lose, and
# the size of one write, stay bounded under a flood of short commands. 64 records already
# spread the write, the deletion check and the anchor's rewrite over a few dozen commands.
HOLD_MAX = 64


def _clean(value: Any) -> Any:
    """Undo surrogateescape (non-UTF-8 paths, command bytes) into U+FFFD, recursively."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            # A lone surrogate no byte became (json.loads of "\ud800", an API caller's
            # text): U+FFFD as well, else the record could not be written at all.
            import re  # (this rare path only: the recorder's start imports no more)

            value = re.sub("[\ud800-\udc7f\udd00-\udfff]", "\ufffd", value)  # all but surrogateescape's
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def sealed(record: Record, prev_hash: str) -> Record:
    """``record`` (or a cleaned copy) with ``prev_hash`` and ``hash`` set.

    The hash must be computed over exactly what is written, so text that does not encode
    as UTF-8 (surrogate-escaped bytes) is cleaned before sealing, never during the final
    encode. The canonical encoding doubles as the check: one JSON pass fewer per record
    than checking first.
    """
    try:
        return seal(record, prev_hash, strict=True)
    except UnicodeEncodeError:
        return seal(_clean(record), prev_hash, strict=True)


class JsonlSink:
    """Writes each record as one line with ``session_id``, ``seq``, ``ts`` and the chain.

    Each line goes out in a single ``os.write`` on an ``O_APPEND`` fd, so a reader (or a
    crash) never sees half a line unless the disk filled mid-write.

    If the file is deleted while the session runs (``rm -r`` of the store), writes to the
    open fd would succeed and vanish at close. So before each line the sink checks the
    file is still linked; if not, it recreates the directory and a new file at the same
    path that starts a new chain: a copy of ``session_start``, then a ``gap`` record
    (``state: "lost"``) saying how many records and which chain head were lost. Only what
    was written before the deletion is lost, and the exit line names a file that exists.

    With ``hold`` set (the bookkeeping child sets it: it knows when it is about to wait
    for more), records wait for :meth:`flush`, which writes them all in one ``os.write``
    (whole lines; a short write is cut back to its last whole line), checks the deletion
    once and rewrites the anchor once, with the batch's last line; ``HOLD_MAX`` records
    are written at once.
    """

    def __init__(
        self, path: Path, session_id: str, on_warning: WarningCallback | None = None,
        anchor: AnchorWriter | None = None,
    ):
        self.path = path
        self.anchor = anchor  # told each sealed line (cfsession.anchor)
        self.session_id = session_id
        self._fd: int | None = open_private(path, "ab")
        self._seq = 0
        self._prev = GENESIS
        self._on_warning = on_warning
        self.failed: str | None = None
        self._start: Record | None = None  # session_start, repeated at the top of a new file
        self.lost_records = 0  # records lost with deleted files, over the session
        self.hold = False  # True: records wait for flush() (see the class docstring)
        self._held: list[Record] = []

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def last_hash(self) -> str:
        """The chain's head: keep it elsewhere and a rewritten file can be told apart."""
        return self._prev

    def write(self, record: Record) -> None:
        if self._fd is None:
            return
        if self._start is None and record.get("event_type") == "session_start":
            self._start = dict(record)
        if self.hold:
            self._held.append(record)
            if len(self._held) >= HOLD_MAX:
                self.flush()
            return
        self._write((record,))

    def flush(self) -> None:
        """Write the records held since the last flush (a warning about them is held in
        turn, and written by the same call)."""
        while self._held:
            held, self._held = self._held, []
            if self._fd is not None:
                self._write(held)

    def _write(self, records: Sequence[Record]) -> None:
        lost = self._deleted() and self._reopen()
        if self._fd is None:
            return
        self._append(records)
        if lost and self._on_warning:  # after the lines: the warning itself is a record
            self._on_warning(
                "store_deleted",
                f"{self.path} was deleted while recording; the {lost} records before are lost, "
                "the rest of the session goes to a new file of the same name",
            )

    def _append(self, records: Sequence[Record]) -> None:
        assert self._fd is not None
        seq, prev = self._seq, self._prev
        lines: list[bytes] = []
        hashes: list[str] = []
        for record in records:
            seq += 1
            ts = record.get("ts") or utc_ts()
            line: dict[str, Any] = {"event_type": None, "session_id": None, "seq": None, "ts": None}
            line.update(record)  # the record's keys after these four, in its order …
            # … and these four set last (a key set again keeps its place)
            line["event_type"], line["session_id"], line["seq"], line["ts"] = (
                record["event_type"], self.session_id, seq, ts)
            line = sealed(line, prev)
            prev = line["hash"]
            hashes.append(prev)
            lines.append(dumps(line) + b"\n")
        data = b"".join(lines)  # one line: the line itself, not a copy
        try:
            before = os.lseek(self._fd, 0, os.SEEK_END)
        except OSError:
            before = -1
        written = 0
        try:
            written = os.write(self._fd, data)
            if written != len(data):  # short write: only on a full disk
                raise OSError(errno.ENOSPC, "short write")
        except OSError as exc:
            # Never leave half a line: cut back to the last whole one so the file still
            # verifies up to there.
            whole = size = 0
            while whole < len(lines) and size + len(lines[whole]) <= written:
                size += len(lines[whole])
                whole += 1
            if before >= 0:
                try:
                    os.ftruncate(self._fd, before + size)
                except OSError:
                    pass
            else:
                whole = 0
            self._written(whole, hashes)
            self._fail(exc)
            return
        self._written(len(lines), hashes)

    def _written(self, count: int, hashes: list[str]) -> None:
        """``count`` lines of a batch are in the file: advance the chain and the anchor."""
        if not count:
            return
        first = self._seq + 1
        self._seq += count
        self._prev = hashes[count - 1]
        if self.anchor is not None:
            if first == 1 and count > 1:
                self.anchor.note(1, hashes[0])  # a chain starts: the anchor keeps its head
            self.anchor.note(self._seq, self._prev)

    def _deleted(self) -> bool:
        """The open file has no name any more (one fstat per record: records are few)."""
        try:
            return self._fd is not None and os.fstat(self._fd).st_nlink == 0
        except OSError:
            return False

    def _reopen(self) -> int:
        """A new file in place of the deleted one; how many records were lost (0: none, or
        it could not be made — then the sink has failed and says so)."""
        lost, lost_hash = self._seq, self._prev
        self._close_fd(sync=False)
        from cfsession.paths import ensure_dir

        try:
            for d in (self.path.parent.parent, self.path.parent):
                if not d.is_dir():
                    ensure_dir(d)  # 0700, and refused if someone else owns it
            self._fd = open_private(self.path, "ab")
        except Exception as exc:  # OSError, or CfsessionError from ensure_dir
            self._fail(exc if isinstance(exc, OSError) else OSError(str(exc)))
            return 0
        self._seq, self._prev = 0, GENESIS
        self.lost_records += lost
        head = [self._start] if self._start is not None else []
        self._append(
            [*head, {
                "event_type": "gap",
                "ts": utc_ts(),
                "state": "lost",
                "reason": "the session's file was deleted while recording",
                "lost_records": lost,
                "lost_last_hash": lost_hash,
            }]
        )
        return lost if self._fd is not None else 0

    def _fail(self, exc: OSError) -> None:
        self.failed = os.strerror(exc.errno) if exc.errno else str(exc)
        self._held.clear()  # the recording has stopped: nothing more is written
        if self._on_warning:
            self._on_warning(
                "store_write_failed",
                f"cannot write {self.path}: {self.failed}; recording stopped, your shell goes on",
            )
        self.close(sync=False)

    def close(self, sync: bool = True) -> None:
        if self.failed is None:
            self.flush()
        if self.anchor is not None:
            self.anchor.close()
        if self._fd is None:
            return
        if self._deleted() and self.failed is None:
            # Deleted after the last line: nothing of it will be kept. Never claim a save.
            self.failed = "deleted while recording"
        self._close_fd(sync)

    def _close_fd(self, sync: bool) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if sync:
                os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
