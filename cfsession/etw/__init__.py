"""The ETW facade: provider constants and :func:`open_emitter`, the one platform branch.

cfsession is the TraceLogging provider ``ContextForge.LoggingInfrastructure`` (DESIGN.md
§5). An *emitter* takes encoded events and hands them to ETW (Windows, through
:mod:`cfsession.etw._advapi32`), to the capture seam (any OS, ``CFSESSION_ETW_CAPTURE``),
or nowhere. This module stays light to import: the encoder, ctypes and the capture
writer are loaded only when an emitter that needs them is opened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cfsession.etw._tracelogging import EventType

PROVIDER_NAME = "ContextForge.LoggingInfrastructure"
# guid_from_name(PROVIDER_NAME), FORMAT.md §2; a test keeps the two in step.
PROVIDER_GUID = "c2c708fe-52f2-5085-bf82-c9c2c3c2d198"

KEYWORD_SESSION = 0x1
KEYWORD_ACHIEVEMENT = 0x2
KEYWORD_TERMINAL = 0x4
KEYWORD_VALIDATION = 0x8
KEYWORDS = {
    "SESSION": KEYWORD_SESSION,
    "ACHIEVEMENT": KEYWORD_ACHIEVEMENT,
    "TERMINAL": KEYWORD_TERMINAL,
    "VALIDATION": KEYWORD_VALIDATION,
}
EMITTED_KEYWORDS = KEYWORD_SESSION | KEYWORD_TERMINAL  # what cfsession actually sends today
LEVEL = 4  # Informational; a session must enable level ≥ 4 to see the events
CHANNEL = 11  # TraceLogging

CAPTURE_ENV = "CFSESSION_ETW_CAPTURE"

# Status strings (they go into session_start.etw).
STATUS_ENABLED = "enabled"
STATUS_CAPTURE = "enabled (capture)"
STATUS_NO_LISTENER = "no-listener"
STATUS_DISABLED = "disabled"
STATUS_NOT_WINDOWS = "unavailable: not Windows"


class Emitter(Protocol):
    """Hands encoded events to a consumer; ``write`` may raise, the sink contains it."""

    status: str

    def is_enabled(self, level: int, keyword: int) -> bool:
        """Whether an event of this level and keyword would reach anyone (cheap)."""
        ...

    def write(
        self, event: EventType, payload: bytes, activity_id: bytes, related_id: bytes | None
    ) -> None: ...

    def close(self) -> None: ...


class NullEmitter:
    """Emits nothing: ETW disabled or unavailable. ``status`` says which and why."""

    def __init__(self, status: str) -> None:
        self.status = status

    def is_enabled(self, level: int, keyword: int) -> bool:
        return False

    def write(
        self, event: EventType, payload: bytes, activity_id: bytes, related_id: bytes | None
    ) -> None:
        return None

    def close(self) -> None:
        return None


def _open_windows(dll: Any = None) -> Emitter:
    try:
        from cfsession.etw._advapi32 import Advapi32Emitter

        return Advapi32Emitter(dll)
    except Exception as exc:  # noqa: BLE001 - any failure to bind ETW only means "unavailable"
        return NullEmitter(f"unavailable: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def open_emitter(
    enabled: bool,
    platform: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    dll: Any = None,
) -> Emitter:
    """The emitter for this process: ETW on Windows, the capture seam if asked, else nothing.

    Args:
        enabled: False for ``--no-etw``: nothing is emitted, status ``disabled``.
        platform: ``sys.platform`` unless a test says otherwise.
        env: where to look for ``CFSESSION_ETW_CAPTURE`` (default ``os.environ``).
        dll: a ``WinDLL``-like advapi32 to bind instead of the real one (tests).
    """
    if not enabled:
        return NullEmitter(STATUS_DISABLED)
    platform = sys.platform if platform is None else platform
    etw = _open_windows(dll) if platform == "win32" else NullEmitter(STATUS_NOT_WINDOWS)
    capture = (os.environ if env is None else env).get(CAPTURE_ENV)
    if not capture:
        return etw
    from cfsession.etw.capture import CaptureEmitter

    try:
        return CaptureEmitter(capture, tee=None if isinstance(etw, NullEmitter) else etw)
    except OSError as exc:
        etw.close()
        return NullEmitter(f"unavailable: cannot open {CAPTURE_ENV}={capture}: {_reason(exc)}")


def probe(platform: str | None = None, *, dll: Any = None) -> str:
    """ETW's status on this machine (registers and unregisters the provider on Windows)."""
    emitter = open_emitter(True, platform, env={}, dll=dll)
    try:
        return emitter.status
    finally:
        emitter.close()
