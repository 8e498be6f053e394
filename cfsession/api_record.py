"""Recording API: a program runs commands and they are kept as a session, as if typed.

::

    from cfsession import api

    with api.record("nightly build", actor="agent:ci") as rec:
        r = rec.run("make test", timeout=600)      # a shell string (sh -c / cmd /c)
        r = rec.run(["git", "status"], pty=False)  # an argv list, through pipes
        print(r.exit_code, r.output)

Each ``run`` goes through the same :class:`cfsession.session.Session` state machine and
the same sinks as ``cfsession record`` (JSONL hash chain, ``.cast``, ETW), with the same
redaction: the command is announced with a ``C`` mark, its output fed as data, and its
end with ``D`` and ``P`` marks, exactly what a shell integration sends. So ``verify``,
``list``, ``show``, ``search``, ``replay`` and ``export`` need nothing special for it.

Decisions: a command that cannot start is recorded as exit 127 with the reason as its
output (what a shell does), not raised; ``env`` replaces the environment, as in
``subprocess.run``; the child gets ``CFSESSION_ID`` and ``CFSESSION_ACTOR`` so a recorder
nested inside knows its parent and its actor; a timeout kills the command's process group,
records ``anomalies: ["timeout"]`` and the kill's status (137 on POSIX).
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cfsession import paths
from cfsession.errors import CfsessionError, UsageError
from cfsession.recorder.wiring import Warner

__all__ = ["CommandRecord", "RecordingSession", "record"]

COLS, ROWS = 120, 40
TIMEOUT_EXIT = 128 + 9  # SIGKILL, as a shell reports it


@dataclass(frozen=True)
class CommandRecord:
    """One command run by :meth:`RecordingSession.run`, as recorded (output redacted)."""

    session_id: str
    seq: int
    command: str | None
    exit_code: int | None
    status_kind: str
    output: str
    output_length: int
    output_truncated: bool
    duration_ms: float
    started_at: str
    ended_at: str
    cwd: str | None
    actor: str
    timed_out: bool
    redactions: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Collecting(Warner):
    """The recorder's warnings, kept on the session instead of printed."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def __call__(self, code: str, message: str) -> None:
        if code in self.seen:
            return
        self.seen.add(code)
        self.messages.append(message)
        if self.session is not None and code != "store_write_failed":
            try:
                self.session.event("warning", self.session_now(), code=code, message=message)
            except Exception:
                pass


class _LastCommand:
    """A sink that remembers the last ``terminal_capture`` record as written."""

    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None

    def write(self, record: dict[str, Any]) -> None:
        if record.get("event_type") == "terminal_capture":
            self.record = record

    def close(self) -> None:
        pass


class RecordingSession:
    """One recorded session; use as a context manager (see :func:`record`)."""

    def __init__(self, name: str | None = None, *, actor: str | None = None,
                 home: Path | None = None) -> None:
        from cfsession.actor import clean, detect

        if actor is not None and clean(actor) is None:
            raise UsageError(f"actor {actor!r} is empty", "give a name such as agent:ci")
        self.name = name
        self.actor = detect(actor, interactive=False)
        self.home = home or paths.home()
        self.warnings = _Collecting()
        self.session_id = ""
        self.closed = False
        self._session: Any = None
        self._sinks: list[Any] = []
        self._last = _LastCommand()
        self._lock = threading.Lock()
        self._open()

    # -- opening and closing ------------------------------------------------------------
    def _open(self) -> None:
        from cfsession import __version__
        from cfsession.recorder.wiring import (
            LazyStreamRedactor,
            host_name,
            load_redact,
            open_etw,
            user_name,
            uuid4,
        )
        from cfsession.records import utc_ts
        from cfsession.session import Session
        from cfsession.sinks.cast import CastWriter
        from cfsession.sinks.jsonl import JsonlSink

        root = self.home
        if root.exists():
            paths.check_owner(root)
        paths.ensure_dir(root)
        sdir = paths.ensure_dir(paths.sessions_dir(root))
        self.session_id = sid = uuid4()
        parent = os.environ.get("CFSESSION_ID") or None
        warn = self.warnings
        jsonl = JsonlSink(sdir / f"{sid}.jsonl", sid, on_warning=warn)
        cfg, redactor = load_redact(root, warn)
        self._cfg = cfg
        cast = None
        try:
            cast = CastWriter(sdir / f"{sid}.cast", cols=COLS, rows=ROWS, timestamp=int(time.time()),
                              title=f"cfsession {sid}" + (f" {self.name}" if self.name else ""),
                              env={"SHELL": "", "TERM": "xterm-256color"}, on_warning=warn,
                              redact=LazyStreamRedactor(redactor))
        except OSError as exc:
            warn("cast", f"cannot write the .cast file ({exc})")
        etw = open_etw(sid, parent, bool(cfg.etw) if cfg.etw is not None else True, warn)
        self._sinks = [s for s in (jsonl, etw) if s is not None]
        start_epoch = time.time()
        self._t0 = time.monotonic()
        warn.t0 = self._t0
        session = Session(session_id=sid, start_epoch=start_epoch, cast=cast,
                          sinks=[*self._sinks, self._last], output_cap=cfg.output_cap,
                          redact=redactor.redact, on_warning=warn)
        session.command_fields = {"actor": self.actor}
        warn.session = session
        session.cwd = paths.working_dir()  # $PWD when the directory was removed
        self._session = session
        session.emit({
            "event_type": "session_start", "ts": utc_ts(start_epoch), "schema_version": 1,
            "session_type": "api", "name": self.name, "parent_session_id": parent,
            "correlation_id": sid, "started_at": utc_ts(start_epoch), "host": host_name(),
            "user": user_name(), "pid": os.getpid(), "shell": None, "shell_kind": None,
            "cwd": session.cwd, "cols": COLS, "rows": ROWS, "term": None,
            "platform": sys.platform, "cfsession_version": __version__,
            "etw": getattr(etw, "status", "unavailable: emitter not installed"),
            "integration": "active", "command_argv": None, "actor": self.actor,
        })

    def close(self, reason: str = "exit", exit_code: int | None = 0) -> None:
        """Write ``session_end`` and close the files (the ``with`` block does this)."""
        if self.closed:
            return
        self.closed = True
        self._session.finish(self._now(), exit_code, reason)
        for sink in self._sinks:
            sink.close()

    def __enter__(self) -> RecordingSession:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close("error" if exc_type is not None else "exit", None if exc_type else 0)

    def _now(self) -> float:
        return time.monotonic() - self._t0

    @property
    def path(self) -> Path:
        """The session's JSONL file."""
        return paths.sessions_dir(self.home) / f"{self.session_id}.jsonl"

    # -- running ----------------------------------------------------------------------------
    def run(self, cmd: str | list[str], *, cwd: str | os.PathLike[str] | None = None,
            env: dict[str, str] | None = None, timeout: float | None = None,
            pty: bool = True) -> CommandRecord:
        """Run ``cmd`` (an argv list, or a string for the shell), record it, return the record."""
        from cfsession.recorder import pty as platform_io
        from cfsession.segmenter import Mark
        from cfsession.session import argv_text

        if self.closed:
            raise UsageError("this recording is closed", "run commands inside the `with api.record()` block")
        if isinstance(cmd, str):
            if not cmd.strip():
                raise UsageError("empty command", "give a command to run")
            text = cmd
        else:
            if not cmd or not all(isinstance(a, str) for a in cmd):
                raise UsageError("the command must be a non-empty list of strings or a string",
                                 'e.g. run(["make", "test"]) or run("make test")')
            text = argv_text(list(cmd))
        if timeout is not None and timeout <= 0:
            raise UsageError(f"timeout {timeout!r} is not positive", "give seconds, e.g. timeout=60")
        _check_passable([cmd] if isinstance(cmd, str) else list(cmd), env)
        # No cwd: the command starts where we are, even in a directory removed from under
        # us (as subprocess.run does); the record says where that is.
        spawn_cwd = os.path.abspath(os.fspath(cwd)) if cwd is not None else None
        run_cwd = spawn_cwd or paths.working_dir()
        child_env = dict(os.environ if env is None else env)
        child_env["CFSESSION_ID"] = self.session_id
        child_env["CFSESSION_ACTOR"] = self.actor
        argv = platform_io.command_argv(cmd, child_env) if isinstance(cmd, str) else list(cmd)
        session = self._session
        self._last.record = None
        t = self._now()
        session.mark(Mark("P", 0, {"cwd": run_cwd}), t)
        session.mark(Mark("C", 0, {"cmd": text, "src": "api"}), t)
        try:
            runner = _run_pty if pty else _run_pipes
            code, timed_out = runner(self, argv, child_env, spawn_cwd, timeout)
        except OSError as exc:
            self._feed(f"cfsession: cannot start {argv[0]}: {exc.strerror or exc}\r\n".encode())
            code, timed_out = 127, False
        if timed_out and session.current is not None:
            session.current.anomalies.append("timeout")
        t_end = self._now()
        with self._lock:
            session.mark(Mark("D", 0, {"st": str(code)}), t_end)
            session.mark(Mark("P", 0, {"cwd": run_cwd}), t_end)
        rec = self._last.record
        if rec is None:  # a sink failed before ours: report what ran all the same
            raise CfsessionError("the command ran but its record was not written", "see the warnings")
        return CommandRecord(
            session_id=self.session_id, seq=int(rec["command_seq"]), command=rec.get("command"),
            exit_code=rec.get("exit_code"), status_kind=str(rec.get("status_kind")),
            output=str(rec.get("output") or ""), output_length=int(rec.get("output_length") or 0),
            output_truncated=bool(rec.get("output_truncated")),
            duration_ms=float(rec.get("duration_ms") or 0.0), started_at=str(rec.get("started_at")),
            ended_at=str(rec.get("ended_at")), cwd=rec.get("cwd"), actor=self.actor,
            timed_out=timed_out, redactions=int(rec.get("redactions") or 0),
        )

    def _feed(self, data: bytes) -> None:
        with self._lock:
            self._session.data(data, self._now())


def _check_passable(args: list[str], env: dict[str, str] | None) -> None:
    """Refuse, before anything is recorded, text no program can be given: a NUL byte (it
    ends a C string) or a lone surrogate (it encodes to no bytes at all)."""
    for text in [*args, *(env or {}).keys(), *(env or {}).values()]:
        if not isinstance(text, str):
            continue  # (bytes in env, a wrong type: left to subprocess as before)
        if "\x00" in text:
            raise UsageError("the command or its environment holds a NUL byte",
                             "no program can be given one: remove it")
        try:
            text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise UsageError("the command or its environment holds a lone surrogate (not UTF-8 text)",
                             "pass text that encodes as UTF-8") from None


def _run_pty(rs: RecordingSession, argv: list[str], env: dict[str, str], cwd: str | None,
             timeout: float | None) -> tuple[int, bool]:
    from cfsession.recorder import pty as platform_io

    if cwd is not None and not os.path.isdir(cwd):
        raise FileNotFoundError(2, "no such directory", cwd)
    try:
        proc = platform_io.spawn(argv, env=env, cwd=cwd, cols=COLS, rows=ROWS)
    except FileNotFoundError as exc:
        raise FileNotFoundError(2, "command not found", argv[0]) from exc
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    try:
        fd = proc.fileno()
        while True:
            wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            ready = select.select([fd], [], [], wait)[0]
            if ready:
                data = proc.read(65536)
                if not data:
                    break
                rs._feed(data)
                continue
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                platform_io.kill_group(proc.pid, lambda: proc.terminate(force=True))
                _drain(rs, proc, fd)
                break
            if proc.poll() is not None:
                # Exited, but something it started in the background holds the terminal
                # open: keep what is already there and stop.
                _drain(rs, proc, fd)
                break
        code = proc.wait()
    except BaseException:  # Ctrl-C in the calling program: the command must not outlive it
        platform_io.kill_group(proc.pid, lambda: proc.terminate(force=True))
        raise
    finally:
        proc.close()
    return (TIMEOUT_EXIT if timed_out else code), timed_out


def _drain(rs: RecordingSession, proc: Any, fd: int) -> None:
    """Read what is already buffered (bounded: at most ~0.5 s)."""
    end = time.monotonic() + 0.5
    while time.monotonic() < end and select.select([fd], [], [], 0.05)[0]:
        try:
            data = proc.read(65536)
        except OSError:
            return
        if not data:
            return
        rs._feed(data)


def _run_pipes(rs: RecordingSession, argv: list[str], env: dict[str, str], cwd: str | None,
               timeout: float | None) -> tuple[int, bool]:
    import subprocess

    from cfsession.recorder import pty as platform_io

    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            **platform_io.new_group_kwargs())  # type: ignore[call-overload]
    stop = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        while True:
            data = proc.stdout.read1(65536)
            if not data or stop.is_set():
                return
            rs._feed(data)

    reader = threading.Thread(target=pump, name="cfsession-run-output", daemon=True)
    reader.start()
    timed_out = False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        platform_io.kill_group(proc.pid, proc.kill)
        code = proc.wait()
    except BaseException:  # Ctrl-C in the calling program: the command must not outlive it
        platform_io.kill_group(proc.pid, proc.kill)
        raise
    reader.join(timeout=None if not timed_out else 1.0)
    stop.set()  # a grandchild that left the group may still hold the pipe: stop listening
    if code < 0:
        code = 128 - code  # killed by signal N: 128+N, as a shell reports it
    return (TIMEOUT_EXIT if timed_out else code), timed_out


def record(name: str | None = None, *, actor: str | None = None,
           home: Path | None = None) -> RecordingSession:
    """Start a recorded session: ``with record("build") as rec: rec.run("make")``.

    ``actor``: who runs the commands (e.g. ``agent:ci``); default ``CFSESSION_ACTOR``, a
    known agent's environment signal, else ``unknown``. ``home``: the store (default
    ``$CFSESSION_HOME`` or the platform data dir).
    """
    return RecordingSession(name, actor=actor, home=home)
