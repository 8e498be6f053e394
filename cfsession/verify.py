"""Check one recorded session against its hash chain and its .cast digests (DESIGN.md §6).

The JSONL file is read line by line, never trusted: each line must be valid JSON written
exactly as the recorder writes it, carry ``hash`` = SHA-256 of its canonical form
(:func:`cfsession.integrity.canonical`), link to the previous line through ``prev_hash``,
number itself ``seq`` = its line number and keep the first line's ``session_id``; the
first line is ``session_start`` and nothing follows ``session_end``. Lines that pin the
.cast (``terminal_capture``: ``cast_sha256``/``cast_bytes`` of the file up to that
command; ``session_end``: of the whole file) are checked against the .cast in one pass.

What this proves and what it does not is in docs/TRUST.md: a chain can be rebuilt by
anyone able to rewrite the whole file, and cutting whole lines off the end looks like a
crash (``incomplete``); comparing :attr:`VerifyResult.final_hash` with a copy kept
elsewhere (printed at session end, sent in the ETW SessionEnd event) closes both gaps.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfsession.integrity import GENESIS, canonical

if TYPE_CHECKING:
    from cfsession.anchor import Anchor

INTACT = "intact"
INCOMPLETE = "incomplete"
TAMPERED = "tampered"
_READ = 1 << 20

Alive = Callable[[dict[str, Any]], bool]  # session_start record -> is its recorder running?


@dataclass
class VerifyResult:
    """The verdict on one session; ``bad_line`` is 1-based, ``problem`` a stable code."""

    path: str
    cast_path: str
    session_id: str | None = None
    status: str = INTACT
    lines: int = 0  # complete lines in the file
    valid_lines: int = 0  # lines that passed, from the top, before the first problem
    bad_line: int | None = None
    problem: str | None = None
    reason: str | None = None
    final_hash: str | None = None  # hash of the last valid line: the value to anchor
    cast_checks: int = 0  # .cast digests confirmed
    complete: bool = False  # a valid session_end was found
    anchored: bool = False  # held against the recorder's anchor (cfsession.anchor)

    @property
    def ok(self) -> bool:
        """Intact, or incomplete (intact up to its last line): exit 0."""
        return self.status != TAMPERED

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


@dataclass
class _Checkpoint:
    line: int
    size: int
    sha: str
    whole: bool  # session_end: the digest must cover the whole file


class _Bad(Exception):
    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


def _lines(path: Path) -> Iterator[bytes]:
    """Raw lines with their newline (the last one may lack it)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        # A FIFO would block the open, a device (a link to /dev/zero) never end.
        raise OSError(errno.EINVAL, "not a regular file")
    with open(path, "rb") as f:
        yield from f


def _writer_form(record: dict[str, Any]) -> bytes:
    # Byte-for-byte what JsonlSink writes; a reformatted line (spaces, key order, escapes)
    # is an edit even when its values, and so its hash, are unchanged.
    from cfsession.records import dumps

    return dumps(record)


def _check_line(raw: bytes, n: int, prev: str, first: dict[str, Any] | None) -> dict[str, Any]:
    """Validate line ``n`` (without its newline); raise _Bad or return the record."""
    try:
        rec = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # [[[[… nested past the stack
        raise _Bad("bad_json", f"line {n} is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(rec, dict):
        raise _Bad("bad_json", f"line {n} is not a JSON object")
    stored = rec.get("hash")
    if not isinstance(stored, str):
        raise _Bad("missing_hash", f"line {n} has no hash")
    if hashlib.sha256(canonical(rec)).hexdigest() != stored:
        raise _Bad("hash_mismatch", f"line {n} was changed after it was written (hash mismatch)")
    if _writer_form(rec) != raw:
        raise _Bad("reformatted", f"line {n} was rewritten (same values, different bytes)")
    if rec.get("prev_hash") != prev:
        if n == 1:
            raise _Bad("broken_link", "line 1 does not start a chain (lines before it removed?)")
        raise _Bad(
            "broken_link",
            f"line {n} does not follow line {n - 1} "
            "(a line was deleted, inserted or moved here, or the line before was edited)",
        )
    if rec.get("seq") != n:
        raise _Bad("seq", f"line {n} carries seq {rec.get('seq')!r}")
    if first is None:
        if rec.get("event_type") != "session_start":
            raise _Bad("first_line", "line 1 is not session_start")
    else:
        if rec.get("session_id") != first.get("session_id"):
            raise _Bad("session_id", f"line {n} belongs to another session")
        if rec.get("event_type") == "session_start":
            raise _Bad("duplicate_start", f"line {n} is a second session_start")
    return rec


def _checkpoint(rec: dict[str, Any], n: int) -> _Checkpoint | None:
    sha, size = rec.get("cast_sha256"), rec.get("cast_bytes")
    if sha is None and size is None:
        return None
    if not isinstance(sha, str) or not isinstance(size, int) or isinstance(size, bool):
        raise _Bad("cast_digest", f"line {n} has a malformed .cast digest")
    return _Checkpoint(n, size, sha, rec.get("event_type") == "session_end")


def _check_cast(
    path: Path, points: list[_Checkpoint], trailing_ok: bool
) -> tuple[int, _Bad | None, int]:
    """Confirm every checkpoint against the .cast; (confirmed, first failure, its line)."""
    if not points:
        return 0, None, 0
    if not path.exists():
        first = min(points, key=lambda p: p.line)
        return (
            0,
            _Bad("cast_missing", f"line {first.line} pins {path.name}, which is missing"),
            first.line,
        )
    ordered = sorted(points, key=lambda p: (p.size, p.line))
    sha = hashlib.sha256()
    done = 0
    failures: list[tuple[int, _Bad]] = []
    with open(path, "rb") as f:
        for p in ordered:
            while done < p.size:
                chunk = f.read(min(_READ, p.size - done))
                if not chunk:
                    break
                sha.update(chunk)
                done += len(chunk)
            if done < p.size:
                msg = f"line {p.line} pins {p.size} bytes of {path.name}, which now has {done}"
                failures.append((p.line, _Bad("cast_short", msg)))
                continue
            if sha.hexdigest() != p.sha:
                msg = f"line {p.line} pins the first {p.size} bytes of {path.name}; they changed"
                failures.append((p.line, _Bad("cast_mismatch", msg)))
        total = done + sum(len(c) for c in iter(lambda: f.read(_READ), b""))
    for p in points:
        if p.whole and total > p.size and not trailing_ok:
            msg = f"line {p.line} pins all of {path.name} ({p.size} bytes); it now has {total}"
            failures.append((p.line, _Bad("cast_size", msg)))
    if failures:
        line, bad = min(failures, key=lambda x: x[0])
        confirmed = sum(1 for p in points if p.line < line)
        return confirmed, bad, line
    return len(points), None, 0


def verify_session(
    jsonl_path: Path, cast_path: Path | None = None, *, alive: Alive | None = None,
    anchor: Anchor | None = None,
) -> VerifyResult:
    """Verify one session file (and its .cast, by default next to it).

    ``alive`` tells whether a session's recorder still runs: a half-written last line
    of a live session is "being written", not a tampered file. The file must hold the
    session its name says (every line's ``session_id``, the .cast header's title), and
    match ``anchor`` — what the recorder remembers of it — when there is one.
    """
    cast_path = cast_path or jsonl_path.with_suffix(".cast")
    res = VerifyResult(path=str(jsonl_path), cast_path=str(cast_path))
    prev = GENESIS
    first: dict[str, Any] | None = None
    points: list[_Checkpoint] = []
    cast_warned = False
    bad: _Bad | None = None
    bad_at = 0
    hashes: dict[int, str] = {}  # the lines the anchor names: 1 and its seq
    wanted = {1, anchor.seq} if anchor is not None else {1}
    try:
        for n, line in enumerate(_lines(jsonl_path), start=1):
            if not line.endswith(b"\n"):
                if first is not None and alive is not None and alive(first):
                    break  # the recorder is writing this line right now
                bad, bad_at = (
                    _Bad(
                        "partial_line",
                        f"line {n} is cut short (no newline): the recorder died or the disk "
                        "filled mid-write, or the file was truncated",
                    ),
                    n,
                )
                break
            res.lines = n
            if bad is not None:
                continue  # keep counting lines after the first problem
            try:
                rec = _check_line(line[:-1], n, prev, first)
                if res.complete:
                    raise _Bad("after_end", f"line {n} follows session_end")
                point = _checkpoint(rec, n)
            except _Bad as exc:
                bad, bad_at = exc, n
                continue
            if point is not None:
                points.append(point)
            if n in wanted:
                hashes[n] = rec["hash"]
            if first is None:
                first = rec
                res.session_id = rec.get("session_id")
            if rec.get("event_type") == "warning" and str(rec.get("code", "")).startswith("cast"):
                cast_warned = True  # the .cast stopped being written: bytes past the digest OK
            if rec.get("event_type") == "session_end":
                res.complete = True
            prev = rec["hash"]
            res.valid_lines = n
            res.final_hash = prev
    except OSError as exc:
        res.status, res.problem = TAMPERED, "unreadable"
        res.reason = f"cannot read {jsonl_path.name}: {exc.strerror or exc}"
        res.bad_line = None
        return res
    confirmed, cast_bad, cast_at = _check_cast(cast_path, points, cast_warned)
    res.cast_checks = confirmed
    if cast_bad is not None and (bad is None or cast_at < bad_at):
        bad, bad_at = cast_bad, cast_at
    for other, at in _identity(jsonl_path, cast_path, first, hashes, anchor, res, cast_bad is not None):
        if bad is None or at < bad_at:
            bad, bad_at = other, at
    if bad is not None:
        res.status, res.problem, res.reason, res.bad_line = (
            TAMPERED,
            bad.problem,
            bad.reason,
            bad_at,
        )
        if bad_at <= res.valid_lines:  # a .cast failure: lines from there on are not vouched for
            res.valid_lines = bad_at - 1
        return res
    if res.lines == 0:
        res.status, res.problem = INCOMPLETE, "empty"
        res.reason = "no lines: the recorder stopped before writing anything"
    elif not res.complete and first is not None and alive is not None and alive(first):
        res.status, res.problem = INCOMPLETE, "recording"
        res.reason = (f"still recording: intact up to line {res.valid_lines} so far; "
                      "verify again once it has ended")
    elif not res.complete:
        res.status, res.problem = INCOMPLETE, "no_end"
        res.reason = f"no session_end: intact up to line {res.valid_lines}"
    return res


def _cast_title_id(cast_path: Path) -> str | None:
    """The session id in the .cast header's title (``cfsession <id> [name]``), if any."""
    from cfsession.records import first_record

    title = first_record(cast_path, 65536).get("title")
    parts = title.split() if isinstance(title, str) else []
    return parts[1] if len(parts) >= 2 and parts[0] == "cfsession" else None


def _identity(
    jsonl_path: Path, cast_path: Path, first: dict[str, Any] | None, hashes: dict[int, str],
    anchor: Anchor | None, res: VerifyResult, cast_failed: bool,
) -> Iterator[tuple[_Bad, int]]:
    """Problems with *which* session the files hold: another session's file under this
    name, or a file the recorder's anchor does not recognise (replaced, cut, rebuilt)."""
    name = jsonl_path.stem
    sid = first.get("session_id") if first is not None else None
    if first is not None and sid != name:
        yield _Bad("wrong_session", f"{jsonl_path.name} holds session {sid}, not {name} "
                   "(a file was copied or moved over it)"), 1
    cast_sid = _cast_title_id(cast_path)
    # When the digests already failed, say "another session's" only if that session is
    # here: a damaged title is a damaged byte (cast_mismatch), not a swap.
    swapped = not cast_failed or (jsonl_path.parent / f"{cast_sid}.jsonl").exists()
    if cast_sid is not None and cast_sid != name and swapped:
        yield _Bad("wrong_cast", f"{cast_path.name} is the replay of session {cast_sid}, "
                   f"not {name} (a file was copied or moved over it)"), 1
    if anchor is None or anchor.session_id != name:
        return
    res.anchored = True
    if 1 in hashes and hashes[1] != anchor.first_hash:
        yield _Bad("replaced", f"line 1 is not the first line the recorder wrote for {name}: "
                   "the file was replaced"), 1
    elif anchor.seq not in hashes:
        yield _Bad("cut_short", f"the recorder wrote {anchor.seq} lines; {res.valid_lines} "
                   "remain (lines were removed from the end)"), res.valid_lines + 1
    elif hashes[anchor.seq] != anchor.hash:
        yield _Bad("rebuilt", f"line {anchor.seq} is not the line the recorder wrote there: "
                   "the chain was rebuilt"), anchor.seq


def session_files(sessions_dir: Path) -> list[Path]:
    """Every ``*.jsonl`` in the store, oldest file first (stable order for reports)."""
    if not sessions_dir.is_dir():
        return []
    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:  # a dangling link: verify_session says it cannot be read
            return 0.0

    return sorted(sessions_dir.glob("*.jsonl"), key=lambda p: (mtime(p), p.name))


def chain_problem(jsonl_path: Path) -> tuple[int, str] | None:
    """The first line whose hash chain is broken, as ``(line, reason)``; None when the
    JSONL chain holds (the .cast is not read: this is the cheap check ``show`` makes so
    an edited file is not shown as if nothing were wrong; ``verify`` does the whole)."""
    prev, first = GENESIS, None
    try:
        for n, line in enumerate(_lines(jsonl_path), start=1):
            if not line.endswith(b"\n"):
                return None  # being written, or cut by a crash: verify tells which
            try:
                rec = _check_line(line[:-1], n, prev, first)
            except _Bad as exc:
                return n, str(exc)
            first = first or rec
            prev = rec["hash"]
    except OSError:
        return None
    return None


def recorder_alive(start: dict[str, Any]) -> bool:
    """Default ``alive`` for live stores: the recorder's pid on this host still runs."""
    from cfsession.store import recorder_alive as _alive

    return _alive(start.get("pid"), start.get("host"), start.get("started_at"))
