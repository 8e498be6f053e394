"""Hash chain over JSONL lines (DESIGN.md §6).

Every line carries ``prev_hash`` (the previous line's ``hash``; 64 zeros for the first)
and ``hash`` = SHA-256 hex over :func:`canonical` of the line without ``hash``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
# json.dumps(…, sort_keys=True, separators=(",", ":"), ensure_ascii=False), built once
# rather than per call (a record is sealed per command).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(record: dict[str, Any], strict: bool = False) -> bytes:
    """The bytes that are hashed: sorted keys, no spaces, UTF-8, no ``hash`` key.

    ``strict``: raise UnicodeEncodeError on a lone surrogate instead of passing it (the
    writer cleans such text first, so that what it hashes is what it writes).
    """
    body = {k: v for k, v in record.items() if k != "hash"} if "hash" in record else record
    return _CANONICAL.encode(body).encode("utf-8", "strict" if strict else "surrogatepass")


def seal(record: dict[str, Any], prev_hash: str, strict: bool = False) -> dict[str, Any]:
    """Set ``prev_hash`` and ``hash`` on ``record`` (in place) and return it.

    ``strict``: as for :func:`canonical`; the error then leaves no ``hash`` set."""
    record["prev_hash"] = prev_hash
    record.pop("hash", None)
    record["hash"] = hashlib.sha256(canonical(record, strict)).hexdigest()
    return record
