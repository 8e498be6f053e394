"""What the recorder remembers of a session outside its files: the anchor.

A hash chain proves a file was not edited *inside*; it cannot tell that a whole file was
swapped for another session's (``cp A.jsonl B.jsonl``), cut short at a line boundary, or
rebuilt from some line on. So as it writes, the recorder keeps a small file per session,
``<home>/anchors/<id>.anchor`` (0600, in a 0700 directory): the session id, the hash of
the chain's first line and the ``seq`` and ``hash`` of the last line it sealed.
``verify`` holds the session file against it (docs/TRUST.md says what that catches and
what only an anchor off this machine can).

The anchor is one fixed-size record rewritten in place with a single write at offset 0
(renaming a new file over it costs a journal flush on ext4, ~1.5 ms a line); it carries
a checksum, so a reader that meets a half-written one reads again. Failing to write it
never stops a recording.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import NamedTuple

SUFFIX = ".anchor"
SIZE = 320  # bytes: the record, padded with spaces, so each write covers the last one


def _check(body: dict[str, object]) -> str:
    return hashlib.sha256(_SORTED.encode(body).encode()).hexdigest()[:16]


# json.dumps(…, sort_keys=True) and json.dumps(…, separators=(",", ":")), built once:
# the anchor is rewritten after every line.
_SORTED = json.JSONEncoder(sort_keys=True)
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def anchors_dir(root: Path | None = None) -> Path:
    from cfsession import paths

    return (root or paths.home()) / "anchors"


def anchor_path(session_id: str, root: Path | None = None) -> Path:
    return anchors_dir(root) / f"{session_id}{SUFFIX}"


class Anchor(NamedTuple):
    # A NamedTuple, not a dataclass: the recorder imports this module before the shell's
    # first prompt, and `dataclasses` brings `inspect` (~8 ms of start-up here).
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
        self._fd: int | None = None
        self.failed = False

    def note(self, seq: int, line_hash: str) -> None:
        if seq == 1:  # a chain starts (again, if the store was deleted and made anew)
            self._first = line_hash
            self.close()  # (re)open by name: the old file may have been deleted with the store
        if self._first is None or self.failed:
            return
        body: dict[str, object] = {"session_id": self.session_id, "first_hash": self._first,
                                   "seq": seq, "hash": line_hash}
        body["check"] = _check(body)
        data = _COMPACT.encode(body).encode().ljust(SIZE)
        try:
            if self._fd is None:
                self._fd = self._open()
            if hasattr(os, "pwrite"):
                os.pwrite(self._fd, data, 0)
            else:  # Windows
                os.lseek(self._fd, 0, os.SEEK_SET)
                os.write(self._fd, data)
        except Exception:  # the anchor is a help, never a reason to stop recording
            self.failed = True
            self.close()

    def _open(self) -> int:
        from cfsession.paths import ensure_dir

        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileNotFoundError:
            ensure_dir(self.path.parent)  # the first anchor, or the store was deleted
            fd = os.open(self.path, flags, 0o600)
        os.ftruncate(fd, 0)  # a new chain: nothing of an older record may remain
        return fd

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass


def read_anchor(path: Path, tries: int = 5) -> Anchor | None:
    """The anchor at ``path``, or None when there is none or it is not one. A record
    caught half-written (its checksum fails) is read again a few times."""
    for attempt in range(tries):
        try:
            raw = json.loads(path.read_bytes()[:4096])
            check = raw.pop("check")
            anchor = Anchor(str(raw["session_id"]), str(raw["first_hash"]), int(raw["seq"]),
                            str(raw["hash"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            check, anchor = None, None
        if anchor is not None and check == _check(raw):
            return anchor if anchor.seq >= 1 else None
        if attempt + 1 < tries:
            time.sleep(0.01)  # being rewritten right now (a live session): a moment later
    return None


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
