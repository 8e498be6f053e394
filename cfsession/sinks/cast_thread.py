"""The .cast writer on its own thread, so recording a flood of output uses the second core.

Used when the session stays in the recorder's process (Windows, or
``CFSESSION_BOOKKEEPING=inline``); on POSIX the bookkeeping child
(``recorder/bookkeeper.py``) calls the plain writer, on a core of its own.

Decoding, redaction, JSON encoding, hashing and writing the asciicast (the per-byte work of
recording) run on a worker thread fed through a bounded queue; the PTY loop only hands
over chunks and gets back to passing output through. Order is kept: every call is one
queue item. ``flush`` is a barrier (a command's record needs the digest of the .cast up to
that command); ``tick`` is not (the 250 ms timer must never stall the loop). Warnings
raised on the worker are reported on the caller's thread, at the next call that returns
to it, so the JSONL sink is only ever written from one thread.

The thread pays off only under volume. For interactive work (a few hundred bytes per
command) each hand-over wakes the worker, and on two cores the two threads then trade
the GIL at every write the loop makes; the per-command barrier adds a round trip. So
after a barrier that followed little output the writer is called on the caller's thread
("inline") until more than INLINE_MAX bytes arrive without a barrier, and goes back to
the worker from there. The session starts threaded: the first output compiles the
redaction patterns, which must not hold up the first keystrokes.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from cfsession.sinks import WarningCallback
from cfsession.sinks.cast import CastWriter

QUEUE_ITEMS = 8  # with <= 256 KiB bursts: at most ~2 MiB in flight, then the loop waits
INLINE_MAX = 64 * 1024  # bytes between two barriers written on the caller's thread


class ThreadedCast:
    def __init__(
        self,
        writer: CastWriter,
        on_warning: WarningCallback | None = None,
        inline_max: int = INLINE_MAX,
    ) -> None:
        self._w = writer
        self._inline_max = inline_max
        self._inline = False  # see the module docstring: threaded until the first barrier
        self._since_barrier = 0
        self._on_warning = on_warning
        self._warnings: list[tuple[str, str]] = []
        writer._on_warning = lambda code, msg: self._warnings.append((code, msg))
        self._q: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=QUEUE_ITEMS)
        self._thread = threading.Thread(target=self._run, name="cfsession-cast", daemon=True)
        self._thread.start()
        self._closed = False
        self.cols = writer.cols  # kept on the caller's side: the worker may lag behind

    @property
    def path(self) -> Any:
        return self._w.path

    @property
    def failed(self) -> str | None:
        return self._w.failed

    @property
    def digest(self) -> tuple[str, int]:
        """Digest of what was written; call :meth:`flush` first for an up-to-date value."""
        return self._w.digest

    # -- calls from the loop's thread ----------------------------------------------------------
    def output(self, data: bytes, t: float) -> None:
        self._since_barrier += len(data)
        if self._inline:
            if self._since_barrier <= self._inline_max:
                self._call(self._w.output, data, t)
                return
            self._inline = False  # volume: hand the per-byte work to the worker again
        self._q.put(("o", data, t))

    def marker(self, label: str, t: float) -> None:
        if self._inline:
            self._call(self._w.marker, label, t)
        else:
            self._q.put(("m", label, t))

    def resize(self, cols: int, rows: int, t: float) -> None:
        self.cols = cols
        if self._inline:
            self._call(self._w.resize, cols, rows, t)
        else:
            self._q.put(("r", cols, rows, t))

    def tick(self, t: float) -> None:
        if self._inline:
            self._call(self._w.tick, t)
        else:
            self._q.put(("t", t))
        self._report()

    def flush(self, t: float | None = None) -> None:
        if self._inline:
            self._call(self._w.flush, t)
        else:
            done = threading.Event()
            self._q.put(("f", t, done))
            done.wait()
            # The queue is empty and the worker waits on it: the writer is ours again.
        self._inline = self._since_barrier <= self._inline_max
        self._since_barrier = 0
        self._report()

    def _call(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # the recording must survive its writer (DESIGN.md §6)
            self._warnings.append(("cast_failed", f"the .cast writer failed: {exc}"))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._inline = False  # the worker closes the writer, after anything queued
        self._q.put(("c",))
        self._thread.join()
        self._report()

    def _report(self) -> None:
        while self._warnings and self._on_warning is not None:
            code, msg = self._warnings.pop(0)
            self._on_warning(code, msg)

    # -- the worker ------------------------------------------------------------------------------
    def _run(self) -> None:
        w = self._w
        while True:
            item = self._q.get()
            kind = item[0]
            try:
                if kind == "o":
                    w.output(item[1], item[2])
                elif kind == "m":
                    w.marker(item[1], item[2])
                elif kind == "r":
                    w.resize(item[1], item[2], item[3])
                elif kind == "t":
                    w.tick(item[1])
                elif kind == "f":
                    w.flush(item[1])
                elif kind == "c":
                    w.close()
                    return
            except Exception as exc:  # the recording must survive its writer (DESIGN.md §6)
                self._warnings.append(("cast_failed", f"the .cast writer failed: {exc}"))
            finally:
                if kind == "f":
                    item[2].set()
