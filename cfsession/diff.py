"""``cfsession diff`` and the MCP ``diff_output`` tool: a unified diff of two commands' outputs.

A command is named ``SESSION:SEQ`` (an id, a unique prefix or ``last``, and the command's
number in that session). One argument that is not such a reference is a command line:
its last two runs are compared, older first. Both outputs are sanitised before they are
compared (nothing recorded acts on the terminal that shows the diff), and the diff is
bounded: at most ``MAX_LINES`` lines of input per side and ``MAX_DIFF`` characters out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfsession.errors import SessionNotFound, UsageError
from cfsession.text import sanitize

MAX_LINES = 20_000  # per side: difflib is quadratic in the worst case
MAX_DIFF = 64 * 1024
_REF = re.compile(r"^(?P<session>[0-9A-Za-z-]{4,36}|last):(?P<seq>\d+)$")


@dataclass(frozen=True)
class Side:
    ref: str  # SESSION:SEQ with the full session id
    session_id: str
    seq: int
    command: str | None
    exit_code: int | None
    started_at: str | None
    actor: str | None
    output_length: int  # characters of the recorded output

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DiffResult:
    a: Side
    b: Side
    identical: bool
    added: int  # lines only in b
    removed: int  # lines only in a
    diff: str  # unified diff text (sanitised), cut at MAX_DIFF
    truncated: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.to_dict(), "b": self.b.to_dict(), "identical": self.identical,
                "added": self.added, "removed": self.removed, "diff": self.diff,
                "truncated": self.truncated, "notes": list(self.notes)}


def parse_ref(text: str) -> tuple[str, int] | None:
    """``SESSION:SEQ`` → (session query, seq); None when ``text`` is not a reference."""
    m = _REF.match(text.strip())
    if not m:
        return None
    return m.group("session"), int(m.group("seq"))


def fetch(ix: Any, session: str, seq: int) -> tuple[Side, str]:
    """One command's facts and recorded output, from a caught-up index."""
    from cfsession.api import resolve_session_id
    from cfsession.store import as_int

    sid = resolve_session_id(session, index=ix)
    row = ix.query(
        "SELECT c.session_id, c.seq, c.command, c.exit_code, c.started_at, c.actor, f.output"
        " FROM commands c JOIN commands_fts f ON f.rowid = c.id"
        " WHERE c.session_id = ? AND c.seq = ?", (sid, seq),
    ).fetchone() if as_int(seq) is not None else None  # past SQLite's 64 bits: no such command
    if row is None:
        raise SessionNotFound(f"command {seq} not found in session {sid}",
                              f"run `cfsession show {sid[:8]}` to see its commands")
    output = row["output"] or ""
    side = Side(f"{sid}:{seq}", sid, int(row["seq"]), row["command"], row["exit_code"],
                row["started_at"], row["actor"], len(output))
    return side, output


def last_two_runs(ix: Any, command: str) -> list[tuple[str, int]]:
    """The last two runs of exactly ``command`` (older first)."""
    rows = ix.conn.execute(
        "SELECT session_id, seq FROM commands WHERE command = ? ORDER BY start_epoch DESC, id DESC"
        " LIMIT 2", (command,),
    ).fetchall()
    return two_runs(command, [(str(r[0]), int(r[1])) for r in rows])


def two_runs(command: str, rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The newest two of ``rows`` (newest first) as (older, newer), or the CLI's error."""
    if not rows:
        raise UsageError(f"no command {command!r} recorded (nor is it a SESSION:SEQ reference)",
                         "give the exact command line, or two references such as 3f2a:4 3f2a:9")
    if len(rows) < 2:
        raise UsageError(f"{command!r} was run only once: nothing to compare",
                         "give two references, e.g. `cfsession diff 3f2a:4 3f2a:9`")
    return [(rows[1][0], int(rows[1][1])), (rows[0][0], int(rows[0][1]))]


def resolve_pair(ix: Any, a: str, b: str | None,
                 last_two: Callable[[Any, str], list[tuple[str, int]]] = last_two_runs,
                 ) -> list[tuple[str, int]]:
    """The two (session, seq) to compare; ``last_two`` finds a command line's last runs."""
    ra = parse_ref(a)
    if b is None:
        if ra is not None:
            raise UsageError(f"{a} is one command", "give a second one, or a command line to compare its last two runs")
        return last_two(ix, a)
    rb = parse_ref(b)
    for text, ref in ((a, ra), (b, rb)):
        if ref is None:
            raise UsageError(f"{text!r} is not a SESSION:SEQ reference", "e.g. 3f2a:4 or last:2")
    assert ra is not None and rb is not None
    return [ra, rb]


def _lines(text: str) -> tuple[list[str], bool]:
    lines = sanitize(text).split("\n")
    if len(lines) > MAX_LINES:
        return lines[:MAX_LINES], True
    return lines, False


def diff_outputs(a: str, b: str | None = None, *, context: int = 3,
                 home: Path | None = None) -> DiffResult:
    """The unified diff of two commands' outputs (see the module doc for ``a``/``b``)."""
    from cfsession.api import open_index

    with open_index(home) as ix:
        (sa, qa), (sb, qb) = resolve_pair(ix, a, b)
        side_a, out_a = fetch(ix, sa, qa)
        side_b, out_b = fetch(ix, sb, qb)
    return diff_sides(side_a, out_a, side_b, out_b, context=context)


def diff_sides(side_a: Side, out_a: str, side_b: Side, out_b: str, *,
               context: int = 3) -> DiffResult:
    """The bounded unified diff of two fetched outputs (a local or a fleet store's)."""
    import difflib

    la, cut_a = _lines(out_a)
    lb, cut_b = _lines(out_b)
    notes = [f"only the first {MAX_LINES} lines of {s.ref} were compared"
             for s, cut in ((side_a, cut_a), (side_b, cut_b)) if cut]
    added = removed = 0
    parts: list[str] = []
    size = 0
    truncated = False
    for line in difflib.unified_diff(la, lb, side_a.ref, side_b.ref, n=max(0, context), lineterm=""):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
        if not truncated:
            if size + len(line) + 1 > MAX_DIFF:
                truncated = True
                continue
            parts.append(line)
            size += len(line) + 1
    return DiffResult(side_a, side_b, identical=not (added or removed), added=added,
                      removed=removed, diff="\n".join(parts), truncated=truncated, notes=notes)
