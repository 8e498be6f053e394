"""The capture seam (DESIGN.md §5): every event write as one JSON line, on any OS.

With ``CFSESSION_ETW_CAPTURE=<file>`` set, each event is appended to ``<file>`` exactly as
it is (or would be) handed to ``EventWriteTransfer``: provider GUID, EVENT_DESCRIPTOR
fields, activity ids, and the three data blobs in hex. ``cfsession etw decode FILE``
reads it back. On Windows the real ETW write still happens (the seam is a tee).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from cfsession.etw import PROVIDER_GUID, PROVIDER_NAME, STATUS_CAPTURE, Emitter
from cfsession.etw._tracelogging import EventType, provider_traits
from cfsession.paths import open_private

TRAITS_HEX = provider_traits(PROVIDER_NAME).hex()


def _guid(raw: bytes | None) -> str | None:
    return None if raw is None else str(uuid.UUID(bytes_le=raw))


def capture_record(
    event: EventType, payload: bytes, activity_id: bytes, related_id: bytes | None
) -> dict[str, Any]:
    """The JSON object the seam writes for one event."""
    return {
        "provider_guid": PROVIDER_GUID,
        "descriptor": event.descriptor_fields(),
        "activity_id": _guid(activity_id),
        "related_activity_id": _guid(related_id),
        "traits_hex": TRAITS_HEX,
        "metadata_hex": event.metadata.hex(),
        "payload_hex": payload.hex(),
    }


class CaptureEmitter:
    """Appends each event to a file (0600) in one ``write``, then passes it to ``tee``."""

    def __init__(self, path: str | os.PathLike[str], tee: Emitter | None = None) -> None:
        self.path = Path(path)
        self._fd: int | None = open_private(self.path, "ab")
        self._tee = tee
        self._lock = threading.Lock()
        self.status = STATUS_CAPTURE if tee is None else f"{STATUS_CAPTURE}, etw {tee.status}"

    def is_enabled(self, level: int, keyword: int) -> bool:
        return self._fd is not None  # the seam listens to every level and keyword

    def write(
        self, event: EventType, payload: bytes, activity_id: bytes, related_id: bytes | None
    ) -> None:
        line = json.dumps(capture_record(event, payload, activity_id, related_id)) + "\n"
        data = line.encode("ascii")
        with self._lock:
            if self._fd is None:
                return
            # O_APPEND + one write: concurrent recorders (nested sessions) never interleave lines.
            if os.write(self._fd, data) != len(data):
                raise OSError(f"short write to {self.path}")
        if self._tee is not None and self._tee.is_enabled(event.level, event.keyword):
            self._tee.write(event, payload, activity_id, related_id)

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if self._tee is not None:
            self._tee.close()
