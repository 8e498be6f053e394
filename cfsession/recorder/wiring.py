"""What a recording is built from, shared by ``cfsession record`` and the recording API
(api_record.py): the warning line, lazy redaction, the config, the ETW sink, ids."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from cfsession import log, paths
from cfsession.errors import CfsessionError


class Warner:
    """One line on stderr per kind of problem, and a ``warning`` event while it can be written."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.session: Any = None
        self.raw = False
        self.t0 = time.monotonic()  # replaced by the session's start

    def __call__(self, code: str, message: str) -> None:
        if code in self.seen:
            return
        self.seen.add(code)
        log.warning("recorder warning", code=code)  # the code only: messages may quote data
        end = "\r\n" if self.raw else "\n"
        try:
            sys.stderr.write(f"cfsession: warning: {message}{end}")
            sys.stderr.flush()
        except OSError:
            pass
        if self.session is not None and code != "store_write_failed":
            try:
                self.session.event("warning", self.session_now(), code=code, message=message)
            except Exception:  # the warning path itself must never fail the recording
                pass

    def session_now(self) -> float:
        return time.monotonic() - self.t0


class LazyRedactor:
    """The session's redactor, built on first use rather than before the first prompt.

    Compiling the default shapes costs ~8 ms; built here on first use, that happens on the
    .cast writer's thread when the first output arrives, while the prompt is already
    on its way to the terminal. User patterns are compiled at start instead, so a bad one
    is reported at once.
    """

    def __init__(self, build: Any) -> None:
        import threading

        self._build = build
        self._lock = threading.Lock()
        self._real: Any = None

    def get(self) -> Any:
        if self._real is None:
            with self._lock:  # the loop and the .cast thread may both ask first
                if self._real is None:
                    self._real = self._build()
        return self._real

    def redact(self, text: str) -> tuple[str, int]:
        return self.get().redact(text)  # type: ignore[no-any-return]


class LazyStreamRedactor:
    """``StreamRedactor`` over a :class:`LazyRedactor`, made on the first chunk."""

    def __init__(self, redactor: LazyRedactor) -> None:
        self._redactor = redactor
        self._stream: Any = None

    def _get(self) -> Any:
        if self._stream is None:
            from cfsession.redact_stream import StreamRedactor

            self._stream = StreamRedactor(self._redactor.get())
        return self._stream

    def feed(self, text: str) -> str:
        return self._get().feed(text)  # type: ignore[no-any-return]

    def flush(self) -> str:
        return self._get().flush()  # type: ignore[no-any-return]


def load_redact(root: Path, warn: Warner) -> tuple[Any, LazyRedactor]:
    try:
        from cfsession.config import load_config

        cfg = load_config(paths.config_path(root))
    except CfsessionError as exc:
        warn("config", f"{exc}; using defaults")
        from cfsession.config import Config

        cfg = Config()

    def build(config: Any) -> Any:
        from cfsession.redact import load_redactor

        return load_redactor(config)

    if not cfg.redact_patterns:
        return cfg, LazyRedactor(lambda: build(cfg))
    try:
        built = build(cfg)
    except Exception as exc:  # a bad user pattern must not stop recording…
        warn("redact", f"redaction patterns not usable ({exc}); recording without user patterns")
        # …nor switch off the default shapes.
        built = build(cfg._replace(redact_patterns=()))
    return cfg, LazyRedactor(lambda: built)


def open_etw(session_id: str, parent: str | None, enabled: bool, warn: Warner) -> Any:
    try:
        from cfsession.sinks.etw import EtwSink
    except ImportError:
        return None
    try:
        return EtwSink(session_id=session_id, parent_session_id=parent, enabled=enabled, on_warning=warn)
    except Exception as exc:
        warn("etw_failed", f"ETW unavailable: {exc}")
        return None


def uuid4() -> str:
    """A random (version 4) UUID without importing ``uuid`` on the way to the first prompt."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def host_name() -> str:
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)  # what socket.gethostname() returns, without socket
    import socket

    return socket.gethostname()


def user_name() -> str | None:
    """getpass.getuser() without importing getpass: the environment, then the password db."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except Exception:
        return None
