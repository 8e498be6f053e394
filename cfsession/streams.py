"""Text output that survives a narrow code page (cp1252, cp437 …).

On Windows a pipe or a file gets the ANSI code page (cp1252 here), and ``cfsession etw info
| more`` died on a ``≤``. Rather than guard every ``print``, the standard streams get an
encoding error handler that writes an ASCII stand-in (``≤`` → ``<=``, ``✓`` → ``ok``) or
``?`` for what the stream's encoding cannot hold. UTF-8 streams (POSIX terminals, the
Windows console itself — PEP 528) are left alone, and so is a stream whose error handling
the user chose (``PYTHONIOENCODING=cp437:replace``; the defaults are strict and
surrogateescape, and the latter's bytes are kept). Files cfsession writes (JSONL, .cast)
always name UTF-8 and never go through this.
"""

from __future__ import annotations

import codecs
import sys
from typing import Any

HANDLER = "cfsession-fallback"

# What a reader of a narrow console should see in place of the characters the CLI uses.
_STAND_INS = {
    "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u2713": "ok", "\u2714": "ok",
    "\u2717": "x", "\u2718": "x", "\u2014": "-", "\u2013": "-", "\u2026": "...",
    "\u00b7": "-", "\u2022": "*", "\u2192": "->", "\u2190": "<-", "\u2191": "^",
    "\u2193": "v", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u00d7": "x", "\u2502": "|", "\u2500": "-", "\u250c": "+", "\u2510": "+",
    "\u2514": "+", "\u2518": "+", "\u251c": "+", "\u2524": "+", "\u252c": "+",
    "\u2534": "+", "\u253c": "+", "\u2501": "-", "\u2503": "|",
}


def _fallback(exc: UnicodeError) -> tuple[str | bytes, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    escaped = [("\udc80" <= c <= "\udcff") for c in bad]
    # One kind per answer (a handler returns str or bytes): the run that starts here.
    n = next((i for i, e in enumerate(escaped) if e != escaped[0]), len(bad))
    if escaped[0]:
        # What surrogateescape would do (the Windows default for stdout): the original bytes.
        return bytes(ord(c) - 0xDC00 for c in bad[:n]), exc.start + n
    return "".join(_STAND_INS.get(c, "?") for c in bad[:n]), exc.start + n


codecs.register_error(HANDLER, _fallback)


def is_utf(stream: Any) -> bool:
    """Whether ``stream`` encodes all of Unicode (so nothing needs a stand-in)."""
    enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    return enc.startswith("utf")


def make_safe(*streams: Any) -> None:
    """Give text streams that cannot encode everything the stand-in error handler."""
    for stream in streams or (sys.stdout, sys.stderr):
        # strict and surrogateescape are the defaults; anything else the user chose.
        errors = getattr(stream, "errors", None)
        if stream is None or is_utf(stream) or errors not in ("strict", "surrogateescape"):
            continue
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=HANDLER)
            except (ValueError, OSError):  # a detached or closed stream: leave it
                pass
