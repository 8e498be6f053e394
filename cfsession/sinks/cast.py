"""The asciicast v2 stream (ANCHORS.md §5.1): header line, then ``[t, code, data]`` events.

Output is decoded with an incremental UTF-8 decoder (replacement) because multibyte
characters straddle reads. Chunks that arrive close together are coalesced into one
``"o"`` event (``COALESCE_S``) so bulk output does not cost one JSON line per read; the
file is written at most every ``FLUSH_S`` seconds and at every command boundary.
A running SHA-256 over the bytes written lets the JSONL chain pin the .cast (DESIGN.md §6).
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import os
from json.encoder import encode_basestring
from pathlib import Path
from typing import Protocol

from cfsession.paths import ensure_dir, open_private
from cfsession.sinks import WarningCallback

COALESCE_S = 0.010
FLUSH_S = 0.25
MAX_PENDING = 256 * 1024  # characters; bounds memory under a flood of output
MAX_BUFFERED = 256 * 1024  # bytes of encoded events held before a write (and joined for it)
# On a filling disk the .cast (the replay) stops while this much is still free, so that
# the .jsonl (the record: commands, statuses, session_end) keeps the room: a JSONL line
# holds at most ~100 KiB of output, so this is room for hundreds of commands.
CAST_RESERVE = 8 << 20
CHECK_EVERY = 1 << 20  # bytes written between two looks at the free space (one fstatvfs)

class StreamRedact(Protocol):
    """Redaction of text that arrives in pieces (``cfsession.redact_stream.StreamRedactor``)."""

    def feed(self, text: str) -> str: ...

    def flush(self) -> str: ...


# Bytes that printable-ASCII-plus-newlines output never contains: controls other than
# CR/LF, '"', '\\', DEL and every non-ASCII byte map to 0.
_PLAIN = bytes(
    0 if (b < 0x20 and b not in (0x0A, 0x0D)) or b in (0x22, 0x5C) or b >= 0x7F else 1
    for b in range(256)
)


def _json_string(text: str) -> bytes:
    """``json.dumps(text, ensure_ascii=False)`` as UTF-8, faster for plain output.

    Most bulk output is printable ASCII with CR/LF; for that, two ``bytes.replace`` calls
    beat the general encoder by about 2x (it is the largest per-byte cost of recording).
    """
    raw = text.encode("utf-8", "surrogatepass")
    if raw.translate(_PLAIN).find(0) < 0:
        return b'"' + raw.replace(b"\r", b"\\r").replace(b"\n", b"\\n") + b'"'
    return encode_basestring(text).encode("utf-8", "replace")


def _event(t: float, code: str, data: str) -> bytes:
    return b"[%.6f, \"%s\", %s]\n" % (t, code.encode(), _json_string(data))


class CastWriter:
    def __init__(
        self,
        path: Path,
        *,
        cols: int,
        rows: int,
        timestamp: int,
        title: str,
        env: dict[str, str],
        on_warning: WarningCallback | None = None,
        redact: StreamRedact | None = None,
    ) -> None:
        self.path = path
        self._fd: int | None = open_private(path, "wb")
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._sha = hashlib.sha256()
        self._bytes = 0
        self._buf: list[bytes] = []  # encoded lines waiting for the next flush
        self._buf_len = 0
        self._pending: list[str] = []  # output text not yet turned into an event
        self._pending_len = 0
        self._pending_t = 0.0
        self._last_flush = 0.0
        self._on_warning = on_warning
        self._redact = redact
        self.failed: str | None = None
        self._unchecked = CHECK_EVERY  # bytes written since the free space was looked at
        self.cols, self.rows = int(cols), int(rows)  # the size now (echo redraw, a new file)
        header: dict[str, object] = {"version": 2, "width": int(cols), "height": int(rows), "timestamp": int(timestamp)}
        header["title"] = title
        header["env"] = env
        self._header = header
        self._buf.append(self._header_line())
        self.restarts = 0  # times the file was deleted and made anew
        self.flush()

    # -- events ---------------------------------------------------------------------------
    def output(self, data: bytes, t: float) -> None:
        text = self._decoder.decode(data)
        if self._redact is not None and text:
            # Redacted before it is buffered: a secret never reaches the file, even when
            # it arrives one key per read (the redactor holds back a partial word).
            text = self._redact.feed(text)
        if not text:
            return
        if self._pending and (t - self._pending_t > COALESCE_S or self._pending_len > MAX_PENDING):
            self._emit_pending()
        if not self._pending:
            self._pending_t = t
        self._pending.append(text)
        self._pending_len += len(text)
        if t - self._last_flush >= FLUSH_S or self._buf_len > MAX_BUFFERED:
            self.flush(t)

    def _release(self, t: float) -> None:
        """Hand over what the redactor held back (a command boundary, the end)."""
        if self._redact is not None:
            rest = self._redact.flush()
            if rest:
                if not self._pending:
                    self._pending_t = t
                self._pending.append(rest)
                self._pending_len += len(rest)

    def marker(self, label: str, t: float) -> None:
        self._release(t)
        self._emit_pending()
        self._buf.append(_event(max(t, self._pending_t), "m", label))

    def resize(self, cols: int, rows: int, t: float) -> None:
        self.cols, self.rows = int(cols), int(rows)
        self._emit_pending()
        self._buf.append(_event(max(t, self._pending_t), "r", f"{cols}x{rows}"))

    def _emit_pending(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._pending_len = 0
        line = _event(self._pending_t, "o", text)
        self._buf.append(line)
        self._buf_len += len(line)

    # -- persistence ----------------------------------------------------------------------
    def tick(self, t: float) -> None:
        """The periodic timer: write what waits if the last write is ``FLUSH_S`` old."""
        if t - self._last_flush >= FLUSH_S and (self._pending or self._buf):
            self.flush(t)

    def flush(self, t: float | None = None) -> None:
        """Write everything pending (command boundary, timer, close)."""
        if t is not None:
            self._last_flush = t
        self._emit_pending()
        if not self._buf or self._fd is None:
            self._buf.clear()
            self._buf_len = 0
            return
        if self._deleted():
            self._reopen(t if t is not None else self._pending_t)
        data = b"".join(self._buf)
        self._buf.clear()
        self._buf_len = 0
        if self._fd is None:
            return
        self._unchecked += len(data)
        if self._unchecked >= CHECK_EVERY and not self._room(len(data)):
            return
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as exc:
            self._write_failed(os.strerror(exc.errno) if exc.errno else str(exc))
            return
        self._sha.update(data)
        self._bytes += len(data)

    def _room(self, size: int) -> bool:
        """Whether ``size`` more bytes leave CAST_RESERVE free; if not, the .cast ends here
        (what it has stays whole and matches the digest the records carry)."""
        assert self._fd is not None
        try:
            st = os.fstatvfs(self._fd)
        except (OSError, AttributeError):  # no statvfs (Windows): write, as before
            return True
        free = st.f_bavail * st.f_frsize
        # Looked at again after CHECK_EVERY bytes, or sooner as the reserve nears.
        self._unchecked = max(0, CHECK_EVERY - max(0, free - CAST_RESERVE - size) // 2)
        if free - size >= CAST_RESERVE:
            return True
        if free < size:  # the write would fail, maybe half-way: say it as a failed write does
            self._write_failed(os.strerror(errno.ENOSPC))
        else:
            self._stop(
                "the disk is nearly full",
                "cast_stopped_disk_full",
                f"the disk holding {self.path.parent} has {free >> 20} MiB free: the replay (.cast) stops here to"
                " leave the room to the commands (.jsonl); free some space for the next sessions",
            )
        return False

    def _write_failed(self, reason: str) -> None:
        # Same code as the JSONL sink: one full disk is one warning.
        self._stop(reason, "store_write_failed", f"cannot write {self.path}: {reason}; recording stopped, your shell goes on")

    def _stop(self, failed: str, code: str, message: str) -> None:
        """The .cast ends here, whole (its digest says what it holds); one warning."""
        self.failed = failed
        if self._on_warning:
            self._on_warning(code, message)
        self._close_fd(sync=False)

    def _header_line(self) -> bytes:
        return (json.dumps(self._header, ensure_ascii=False) + "\n").encode("utf-8", "replace")

    def _deleted(self) -> bool:
        try:
            return self._fd is not None and os.fstat(self._fd).st_nlink == 0
        except OSError:
            return False

    def _reopen(self, t: float) -> None:
        """The .cast was deleted while recording: start it anew at the same path (header,
        then a marker saying the earlier part is lost); the digest covers the new file."""
        self._close_fd(sync=False)
        try:
            for d in (self.path.parent.parent, self.path.parent):
                if not d.is_dir():
                    ensure_dir(d)  # 0700, and refused if someone else owns it
            self._fd = open_private(self.path, "wb")
        except Exception as exc:  # OSError, or CfsessionError from ensure_dir
            errno_ = getattr(exc, "errno", None)
            self._write_failed(os.strerror(errno_) if errno_ else str(exc))
            return
        self._sha = hashlib.sha256()
        self._bytes = 0
        self.restarts += 1
        note = _event(t, "m", "[cfsession: the recording before this point was lost: its file was deleted]")
        self._header.update(width=self.cols, height=self.rows)  # the new file starts at today's size
        self._buf[:0] = [self._header_line(), note]
        if self._on_warning:
            self._on_warning("cast_deleted", f"{self.path} was deleted while recording; the rest goes to a new file of the same name")

    @property
    def digest(self) -> tuple[str, int]:
        """(SHA-256 hex, byte count) of what has been written so far."""
        return self._sha.hexdigest(), self._bytes

    def close(self) -> None:
        tail = self._decoder.decode(b"", final=True)
        if tail:
            if self._redact is not None:
                tail = self._redact.feed(tail)
            self._pending.append(tail)
        self._release(self._pending_t)
        self.flush()
        self._close_fd(sync=True)

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
