"""Diagnostics through loguru: off unless asked for, metadata only.

Logging is off by default and then costs one boolean test per call (loguru is not even
imported). ``--debug`` or ``CFSESSION_LOG=debug`` (or ``info``/``warning``) turns it on:
records go to a rotating file under the store (``<home>/logs/cfsession.log``, 0600 in a
0700 directory, 1 MB per file, 3 old files kept) and, except while ``record`` owns the
terminal, to stderr.

Never payloads: callers pass an event name and metadata — ids, codes, counts, sizes,
paths, exception *types* — never command text, output, keystrokes or exception
messages that could quote them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

LEVELS = ("trace", "debug", "info", "success", "warning", "error", "critical")
_OFF = ("", "0", "off", "no", "none", "false")
ROTATION = "1 MB"
RETENTION = 3

_on = False
_logger: Any = None


def enabled() -> bool:
    return _on


def requested(debug: bool = False) -> str | None:
    """The level asked for by ``--debug`` or ``CFSESSION_LOG``, or None for off."""
    if debug:
        return "debug"
    value = os.environ.get("CFSESSION_LOG", "").strip().lower()
    if value in _OFF:
        return None
    return value if value in LEVELS else "debug"


def configure(level: str | None, *, stderr: bool = True, root: Path | None = None) -> bool:
    """Turn logging on at ``level`` (None: leave it off). Returns whether it is on.

    A log directory that cannot be written costs the file sink only, with one line on
    stderr; logging must never stop a command."""
    global _on, _logger
    if not level:
        return _on
    from loguru import logger

    from cfsession import paths

    logger.remove()
    fmt = "{time:YYYY-MM-DDTHH:mm:ss.SSSSSS!UTC}Z {level: <7} {name}: {message} {extra}"
    if stderr:
        logger.add(sys.stderr, level=level.upper(), format=_stderr_format)
    try:
        logs = paths.ensure_dir(paths.logs_dir(root))
        logger.add(
            logs / "cfsession.log",
            level=level.upper(),
            format=fmt,
            rotation=ROTATION,
            retention=RETENTION,
            encoding="utf-8",
            opener=_private_opener,
        )
    except Exception as exc:  # noqa: BLE001 - no log file is no reason to fail a command
        try:
            sys.stderr.write(f"cfsession: warning: no log file ({type(exc).__name__}); logging to stderr only\n")
        except OSError:
            pass
    _logger = logger
    _on = True
    return True


def _stderr_format(record: Any) -> str:
    return f"cfsession: {record['level'].name.lower()}: {{message}} {{extra}}\n"


def _private_opener(path: str, flags: int) -> int:
    # 0600 whatever the umask, for the first file and every rotated one.
    fd = os.open(path, flags, 0o600)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)
    return fd


def debug(event: str, **meta: Any) -> None:
    if _on:
        _logger.bind(**meta).opt(depth=1).debug(event)


def info(event: str, **meta: Any) -> None:
    if _on:
        _logger.bind(**meta).opt(depth=1).info(event)


def warning(event: str, **meta: Any) -> None:
    if _on:
        _logger.bind(**meta).opt(depth=1).warning(event)
