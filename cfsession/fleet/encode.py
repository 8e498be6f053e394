"""One local JSONL line -> what the server ingests: its canonical JSON (and the record).

The hash covers the canonical encoding (sorted keys, no spaces, no ``hash`` key;
``integrity.canonical``), so the shipper re-encodes every line it sends — on a busy
host the largest part of its CPU time. With ``orjson`` installed (the ``fleet`` extra) a
line is parsed and re-encoded several times faster; that encoding is used only when it
hashes to the line's own ``hash``, i.e. when it is byte for byte what the recorder
hashed. Anything else (floats or escapes orjson writes differently, a changed line) goes
through the standard library exactly as before, and the server decides.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the fleet extra installs it
    _orjson = None  # type: ignore[assignment]


def _slow(raw: bytes) -> tuple[dict[str, Any], str]:
    try:
        rec = json.loads(raw)
    except RecursionError:  # nested deeper than the parser goes: damaged, like bad JSON
        raise ValueError("nested too deeply") from None
    if not isinstance(rec, dict):
        raise ValueError("not an object")
    digest = rec.pop("hash", None)
    line = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    rec["hash"] = digest
    # A lone surrogate escape (\ud800) is JSON but no UTF-8 text: the server could never
    # take the batch, so it is refused here (UnicodeEncodeError), with its session alone.
    line.encode("utf-8")
    return rec, line


def canonical_line(raw: bytes) -> tuple[dict[str, Any], str]:
    """(the record, its canonical JSON text); ValueError/UnicodeError if it is not JSON."""
    if _orjson is not None:
        try:
            rec = _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            return _slow(raw)
        if not isinstance(rec, dict):
            raise ValueError("not an object")
        digest = rec.pop("hash", None)
        try:
            body = _orjson.dumps(rec, option=_orjson.OPT_SORT_KEYS)
        except TypeError:
            body = b""
        rec["hash"] = digest
        if body and isinstance(digest, str) and hashlib.sha256(body).hexdigest() == digest:
            return rec, body.decode("utf-8")
    return _slow(raw)
