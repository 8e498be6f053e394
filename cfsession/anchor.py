"""What the recorder remembers of a session outside its files: the anchor.

A hash chain proves a file was not edited *inside*; it cannot tell that a whole file was
swapped for another session's (``cp A.jsonl B.jsonl``), cut short at a line boundary, or
rebuilt from some line on. So as it writes, the recorder keeps a small file per session,
``<home>/anchors/<id>.anchor`` (0600, in a 0700 directory): the session id, the hash of
the chain's first line and the ``seq`` and ``hash`` of the last line it sealed.
``verify`` holds the session file against it (docs/TRUST.md says what that catches and
what only an anchor off this machine can).

The anchor is replaced whole (written aside, then renamed), so a reader sees the old or
the new one, never half. Failing to write it never stops a recording.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".anchor"


def anchors_dir(root: Path | None = None) -> Path:
    from cfsession import paths

    return (root or paths.home()) / "anchors"


def anchor_path(session_id: str, root: Path | None = None) -> Path:
    return anchors_dir(root) / f"{session_id}{SUFFIX}"


@dataclass(frozen=True)
class Anchor:
    session_id: str
    first_hash: str
    seq: int  # lines the recorder had sealed when it last wrote the anchor
    hash: str  # the hash of line ``seq``


class AnchorWriter:
    """Keeps ``<id>.anchor`` up to date; :class:`~cfsession.sinks.jsonl.JsonlSink` calls
    :meth:`note` after each line it writes."""

    def __init__(self, path: Path, session_id: str) -> None:
        self.path = path
        self.session_id = session_id
        self._first: str | None = None
        self.failed = False

    def note(self, seq: int, line_hash: str) -> None:
        if seq == 1:  # a chain starts (again, if the store was deleted and made anew)
            self._first = line_hash
        if self._first is None or self.failed:
            return
        body = json.dumps({"session_id": self.session_id, "first_hash": self._first,
                           "seq": seq, "hash": line_hash}, separators=(",", ":"))
        try:
            self._replace(body.encode())
        except OSError:
            try:
                from cfsession.paths import ensure_dir

                ensure_dir(self.path.parent)  # first anchor, or the store was deleted
                self._replace(body.encode())
            except Exception:  # the anchor is a help, never a reason to stop recording
                self.failed = True

    def _replace(self, data: bytes) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


def read_anchor(path: Path) -> Anchor | None:
    """The anchor at ``path``, or None when there is none or it is not one."""
    try:
        raw = json.loads(path.read_bytes()[:4096])
        anchor = Anchor(str(raw["session_id"]), str(raw["first_hash"]), int(raw["seq"]), str(raw["hash"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return anchor if anchor.seq >= 1 else None


def orphans(sessions_dir: Path, root: Path | None = None) -> list[Anchor]:
    """Anchors whose session file is gone: sessions the recorder wrote that were removed."""
    d = anchors_dir(root)
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.glob(f"*{SUFFIX}")):
        a = read_anchor(p)
        if a is not None and a.session_id == p.stem and not (sessions_dir / f"{p.stem}.jsonl").exists():
            out.append(a)
    return out
