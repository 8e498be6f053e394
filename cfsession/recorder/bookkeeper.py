"""The session's bookkeeping in a child process (POSIX), so the relay never waits for it.

The loop passes output through, strips markers and hands every piece to the session
object. In one process that costs the relay twice: interactive commands wait while their
record is built (state machine, redaction, two JSON encodings, SHA-256, .cast events),
and under a flood of output the .cast work holds the GIL against the loop's reads. So the
recorder forks once, after the files are open and the shell is running: the child owns
the :class:`~cfsession.session.Session` and its sinks, and the loop writes what it would
have called on it into a pipe (:class:`Remote` has the same methods). Order is the pipe's
order. Nothing comes back until ``finish``, whose reply carries what the exit line
prints.

If the parent dies (SIGKILL), the child reads EOF, closes the files as they are (no
``session_end``, exactly as a killed single process would leave them) and exits. If the
child dies, the parent warns once and goes on passing the stream through. Windows has
no fork: there the session stays in the recorder's process.
"""

from __future__ import annotations

import marshal  # builtin: pickle would add ~1.6 ms of imports before the first prompt
import os
import select
import signal
import struct
import sys
from typing import Any

# A frame: tag, kind, time, payload length | payload | tag. The tag is 8 random bytes
# drawn at fork time, so no output can forge it; the trailing copy proves the payload was
# not cut into by another write. A frame that does not check out is a framing error: the
# child says so in the JSONL, looks for the next tag and goes on (recorder/framing.py).
_HEAD = struct.Struct("<8scdI")
# output, stderr apart (pipes mode), a call, a marker's body (its fields parsed here)
_DATA, _ERR, _CALL, _MARK = b"o", b"e", b"c", b"m"
MAX_FRAME = 64 << 20  # no frame is this large (a burst is 256 KiB): a longer one is corrupt
PIPE_SIZE = 1 << 20  # room for 4 bursts of output before the loop waits for the child
REPLY_TIMEOUT_S = 30.0
BATCH_FLUSH = 64 * 1024  # a piece of output this large is sent at once
_IGNORED = ("SIGINT", "SIGHUP", "SIGTERM", "SIGQUIT", "SIGTSTP", "SIGTTOU", "SIGTTIN", "SIGUSR1", "SIGUSR2", "SIGWINCH")


def available() -> bool:
    return hasattr(os, "fork") and os.environ.get("CFSESSION_BOOKKEEPING", "process") != "inline"


def start(session: Any, sinks: list[Any], close_fds: list[int], warn: Any, raw: bool) -> Remote | None:
    """Fork the bookkeeper; returns the parent's handle (the child never returns), or
    None if it cannot (no processes or fds left): then the session stays in-process."""
    try:
        req_r, req_w = os.pipe()
    except OSError:
        return None
    try:
        rep_r, rep_w = os.pipe()
    except OSError:
        os.close(req_r)
        os.close(req_w)
        return None
    try:
        import fcntl

        fcntl.fcntl(req_w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # the default 64 KiB also works
    except (ImportError, AttributeError, OSError):  # F_SETPIPE_SZ is Linux-only
        pass
    tag = os.urandom(8)
    # The child ignores the terminal's signals (the parent decides when the session ends,
    # and says so). Held back across the fork, they reach it only once it does: a hang-up
    # in the child's first moments, before it is set up, would end it with no
    # session_end written.
    ignored = {sig for name in _IGNORED if (sig := getattr(signal, name, None)) is not None}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, ignored)  # POSIX, as fork is
    try:
        pid = os.fork()
    except OSError:
        pid = -1
    if pid == 0:  # pragma: no cover - runs in the child; covered by the e2e tests
        code = 0
        try:
            for sig in ignored:  # a signal that came meanwhile is dropped with it
                signal.signal(sig, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            os.close(req_w)
            os.close(rep_r)
            for fd in close_fds:
                try:
                    os.close(fd)  # the PTY: the shell must see a hang-up when the parent goes
                except OSError:
                    pass
            warn.raw = raw
            from cfsession.recorder import profiling

            profiling.run(lambda: _serve(session, sinks, req_r, rep_w, tag), ".keeper")
        except BaseException:
            code = 70
        finally:
            os._exit(code)  # no atexit handlers, no finalizers of the parent's objects
    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    if pid < 0:
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)
        return None
    os.close(req_r)
    os.close(rep_w)
    warn.session = None  # the child writes the files from now on; never both
    return Remote(pid, req_w, rep_r, session.cast is not None, warn, tag)


def _serve(session: Any, sinks: list[Any], rfd: int, wfd: int, tag: bytes) -> None:
    from cfsession.recorder.framing import Lost, read_frames
    from cfsession.segmenter import Mark, from_body

    failed = False
    lost_frames = lost_bytes = 0
    t_last = 0.0
    # The JSONL sink holds its lines while frames are at hand and writes them in one go
    # when the pipe has no more (one write, one deletion check, one anchor rewrite per
    # batch rather than per record); never across a wait, so a killed recorder loses no
    # record the child had made.
    held = [s for s in sinks if hasattr(s, "hold")]
    for s in held:
        s.hold = True

    def flush() -> None:
        for s in held:
            try:
                s.flush()
            except Exception:  # a sink never stops the recording (it reports its own failures)
                pass

    for frame in read_frames(rfd, tag, _HEAD, (_DATA, _ERR, _CALL, _MARK), MAX_FRAME, flush if held else None):
        if isinstance(frame, Lost):
            # Never apply bytes that did not come in a whole frame: they would reach the
            # .cast as screen output. Say in the JSONL what was lost, and go on.
            lost_frames += 1
            lost_bytes += frame.size
            _framing_warning(session, t_last, lost_frames, lost_bytes)
            continue
        kind, t, payload = frame
        try:
            if kind == _DATA:
                t_last = t
                session.data(payload, t)
                continue
            if kind == _MARK:
                session.mark(from_body(payload), t)
                continue
            if kind == _ERR:
                t_last = t
                session.data_err(payload, t)
                continue
            name, args = marshal.loads(payload)
            if name == "mark":
                session.mark(Mark(*args[0]), args[1])
            elif name == "finish":
                session.finish(*args)
                _close(sinks)
                _reply(wfd, session, sinks)
                return
            elif name == "no_hello":
                if not session.active:
                    session.no_hello(*args)
            else:
                getattr(session, name)(*args)
        except Exception as exc:  # a bug here must not stop the recording of the rest
            if not failed and session.on_warning is not None:
                failed = True
                session.on_warning("bookkeeping", f"internal error while recording: {type(exc).__name__}: {exc}")
    if session.cast is not None:
        session.cast.close()
    _close(sinks)


def _framing_warning(session: Any, t: float, frames: int, size: int) -> None:
    """A ``warning`` record per framing error (the Warner would keep only the first)."""
    msg = f"the recorder's pipe to its bookkeeper lost {size} bytes ({frames} frame(s) so far); that output is missing"
    try:
        session.event("warning", t, code="bookkeeping_framing", message=msg, lost_bytes=size)
    except Exception:  # the warning path itself must never stop the recording
        pass
    if frames == 1:  # one line on the terminal (the record above has the detail)
        end = "\r\n" if getattr(session.on_warning, "raw", False) else "\n"
        try:
            sys.stderr.write(f"cfsession: warning: {msg}{end}")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _close(sinks: list[Any]) -> None:
    for s in sinks:
        s.close()


def summary(session: Any, sinks: list[Any]) -> dict[str, Any]:
    """What the recorder's exit line prints, from the (finished) session and its sinks."""
    jsonl = next((s for s in sinks if hasattr(s, "last_hash")), None)
    return {
        "command_count": session.command_count,
        "failed_count": session.failed_count,
        "saved": jsonl is not None and jsonl.failed is None,
        "path": str(jsonl.path) if jsonl is not None else None,
        "last_hash": jsonl.last_hash if jsonl is not None else None,
        "lost_records": getattr(jsonl, "lost_records", 0),
    }


def _reply(wfd: int, session: Any, sinks: list[Any]) -> None:
    data = marshal.dumps(summary(session, sinks))
    view = memoryview(data)
    while view:
        view = view[os.write(wfd, view) :]
    os.close(wfd)


class Remote:
    """The parent's side: the Session methods the loop calls, written to the child."""

    def __init__(self, pid: int, wfd: int, rfd: int, has_cast: bool, warn: Any, tag: bytes = b"\0" * 8) -> None:
        self.pid, self._wfd, self._rfd = pid, wfd, rfd
        self._warn = warn
        self._tag = tag
        self.broken = False
        self._writing = False  # a write is under way: nothing else may reach the pipe
        self._batch: list[bytes] = []  # data and marks of one settle of the loop, sent at once
        self._has_cast = has_cast

    # -- what Loop uses ------------------------------------------------------------------------
    active = False  # the child checks: no_hello is sent and applied only if still inactive

    def data(self, data: bytes, t: float) -> None:
        self._batch += (_HEAD.pack(self._tag, _DATA, t, len(data)), data, self._tag)
        if len(data) >= BATCH_FLUSH:  # volume: no point holding it back
            self.end_batch()

    def data_err(self, data: bytes, t: float) -> None:
        self._batch += (_HEAD.pack(self._tag, _ERR, t, len(data)), data, self._tag)
        if len(data) >= BATCH_FLUSH:
            self.end_batch()

    def mark(self, m: Any, t: float) -> None:
        if m.raw is not None:  # the body as the shell wrote it: the child parses it
            self._batch += (_HEAD.pack(self._tag, _MARK, t, len(m.raw)), m.raw, self._tag)
            return
        payload = marshal.dumps(("mark", ((m.event, m.seq, dict(m.fields)), t)))
        self._batch += (_HEAD.pack(self._tag, _CALL, 0.0, len(payload)), payload, self._tag)

    def end_batch(self) -> None:
        """One write for what the loop's bookkeeping pass handed over (one wake-up of the
        child per pass rather than per piece).

        Frames never interleave: a call made while a write is under way (only a signal
        handler could make one, and the loop's handlers do no I/O) joins the batch that
        this write sends next, after the frame being written is complete."""
        if self._writing:
            return
        self._writing = True
        try:
            while self._batch and not self.broken:
                batch, self._batch = self._batch, []
                self._write(batch)
        finally:
            self._writing = False

    def resize(self, cols: int, rows: int, t: float) -> None:
        self._call("resize", cols, rows, t)

    def pause(self, t: float) -> None:
        self._call("pause", t)

    def resume(self, t: float) -> None:
        self._call("resume", t)

    def toggle_pause(self, t: float) -> None:
        self._call("toggle_pause", t)

    def typeahead(self, t: float) -> None:
        self._call("typeahead", t)

    def no_hello(self, t: float, reason: str) -> None:
        self._call("no_hello", t, reason)

    def hangup(self, t: float) -> None:
        self._call("hangup", t)

    def tick(self, t: float) -> None:
        if self._has_cast:
            self._call("tick", t)

    # -- the end -------------------------------------------------------------------------------
    def finish(self, t: float, exit_code: int | None, reason: str) -> dict[str, Any] | None:
        """End the session in the child; its summary, or None if it did not answer."""
        self.end_batch()
        self._call("finish", t, exit_code, reason)
        os.close(self._wfd)
        summary = None
        stuck = False
        try:
            chunks = []
            while True:
                r, _, _ = select.select([self._rfd], [], [], REPLY_TIMEOUT_S)
                if not r:
                    stuck = True
                    break
                chunk = os.read(self._rfd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            if chunks:
                summary = marshal.loads(b"".join(chunks))
        except (OSError, ValueError, EOFError, TypeError):
            summary = None
        finally:
            os.close(self._rfd)
            self._reap(kill=stuck)
        if stuck:
            self._warn(
                "bookkeeping",
                f"the recording did not finish within {REPLY_TIMEOUT_S:.0f} s and was stopped; its files keep what"
                " was written (a [redact] pattern in config.toml that backtracks, such as (a+)+$, can cause this)",
            )
        return summary

    def _reap(self, kill: bool = False) -> None:
        """Wait for the child; ``kill``: it has not answered in time (stuck in a runaway
        redaction pattern, say): end it first, or the recorder would wait for ever and
        the child spin on as an orphan."""
        if kill:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def _call(self, name: str, *args: Any) -> None:
        try:
            payload = marshal.dumps((name, args))
        except Exception as exc:  # a bug: lose this call, not the session
            self._warn("bookkeeping", f"internal error while recording: {type(exc).__name__}: {exc}")
            return
        self._batch += (_HEAD.pack(self._tag, _CALL, 0.0, len(payload)), payload, self._tag)
        self.end_batch()  # resize, pause, tick, …: now, after what came before them

    def _write(self, parts: list[bytes]) -> None:
        if self.broken:
            return
        try:
            for i in range(0, len(parts), 512):  # writev takes at most IOV_MAX (1024) pieces
                group = parts[i : i + 512]
                n = os.writev(self._wfd, group)
                total = sum(map(len, group))
                if n < total:  # a signal or a full pipe cut the write short: finish it
                    rest = memoryview(b"".join(group))[n:]
                    while rest:
                        rest = rest[os.write(self._wfd, rest) :]
        except OSError as exc:
            self.broken = True
            self._warn("bookkeeping", f"the recording stopped ({exc}); your shell goes on")
