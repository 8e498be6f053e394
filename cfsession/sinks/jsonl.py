"""The JSONL event file: the source of truth, append-only, one hash-chained line per event."""

from __future__ import annotations

import errno
import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfsession.integrity import GENESIS, seal
from cfsession.paths import open_private
from cfsession.sinks import Record, WarningCallback

if TYPE_CHECKING:
    from cfsession.anchor import AnchorWriter


def utc_ts(t: float | None = None) -> str:
    """RFC 3339 UTC with microseconds and ``Z`` (``time`` only: ``datetime`` costs ~2 ms
    of imports before the first prompt)."""
    if t is None:
        t = time.time()
    frac, whole = math.modf(t)  # the rounding datetime.fromtimestamp does
    micro = round(frac * 1e6)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    elif micro < 0:
        whole, micro = whole - 1, micro + 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micro:06d}Z"


def dumps(record: Record) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _clean(value: Any) -> Any:
    """Undo surrogateescape (non-UTF-8 paths, command bytes) into U+FFFD, recursively."""
    if isinstance(value, str):
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
        self._deleted_reported = False

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
        line: dict[str, Any] = {
            "event_type": record["event_type"],
            "session_id": self.session_id,
            "seq": self._seq + 1,
            "ts": record.get("ts") or utc_ts(),
        }
        line.update((k, v) for k, v in record.items() if k not in line)
        line = sealed(line, self._prev)
        data = dumps(line) + b"\n"
        try:
            before = os.lseek(self._fd, 0, os.SEEK_END)
        except OSError:
            before = -1
        try:
            written = os.write(self._fd, data)
            if written != len(data):  # short write: only on a full disk
                raise OSError(errno.ENOSPC, "short write")
        except OSError as exc:
            # Never leave half a line: cut back to the last whole one so the file still
            # verifies up to there.
            if before >= 0:
                try:
                    os.ftruncate(self._fd, before)
                except OSError:
                    pass
            self._fail(exc)
            return
        self._seq += 1
        self._prev = line["hash"]
        if self.anchor is not None:
            self.anchor.note(self._seq, self._prev)
        if not self._deleted_reported:
            try:
                gone = os.fstat(self._fd).st_nlink == 0
            except OSError:
                gone = False
            if gone:  # writes to an unlinked file succeed and vanish at close: say so once
                self._deleted_reported = True
                if self._on_warning:
                    self._on_warning(
                        "store_deleted",
                        f"{self.path} was deleted while recording; this session will not be "
                        "kept — your shell goes on",
                    )

    def _fail(self, exc: OSError) -> None:
        self.failed = os.strerror(exc.errno) if exc.errno else str(exc)
        if self._on_warning:
            self._on_warning(
                "store_write_failed",
                f"cannot write {self.path}: {self.failed}; recording stopped, your shell goes on",
            )
        self.close(sync=False)

    def close(self, sync: bool = True) -> None:
        if self.anchor is not None:
            self.anchor.close()
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
