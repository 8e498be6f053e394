"""Realistic recorded sessions without the recorder: written through the real JSONL and cast sinks.

Import from a test module with::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sessions_factory import Cmd, make_session
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cfsession.paths import cast_path, ensure_dir, jsonl_path, sessions_dir
from cfsession.records import utc_ts
from cfsession.sinks.cast import CastWriter
from cfsession.sinks.jsonl import JsonlSink

DEAD_PID = 99_999_999  # above any pid_max: never a live process
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc).timestamp()


@dataclass
class Cmd:
    command: str | None
    output: str = ""
    exit_code: int | None = 0
    cwd: str = "/home/u/proj"
    duration: float = 0.5  # seconds
    gap: float = 0.25  # seconds from the previous command's end to this one's start
    raw: str | None = None  # what the terminal showed (default: output with \r\n)
    extra: dict[str, Any] = field(default_factory=dict)  # more terminal_capture fields


def make_session(
    home: Path,
    commands: list[Cmd] | tuple[Cmd, ...] = (),
    *,
    name: str | None = "test",
    session_id: str | None = None,
    started: float = T0,
    complete: bool = True,
    pid: int | None = None,
    host: str | None = None,
    shell: str = "/bin/bash",
    cwd: str = "/home/u/proj",
    parent: str | None = None,
    correlation_id: str | None = None,
    exit_code: int = 0,
    cast: bool = True,
    cols: int = 80,
    rows: int = 24,
    events_after: list[dict[str, Any]] | None = None,
    actor: str | None = None,
) -> str:
    """Write ``<home>/sessions/<id>.jsonl`` (+ ``.cast``) and return the session id."""
    sid = session_id or str(uuid.uuid4())
    ensure_dir(sessions_dir(home))
    sink = JsonlSink(jsonl_path(sid, home), sid)
    writer = (
        CastWriter(cast_path(sid, home), cols=cols, rows=rows, timestamp=int(started),
                   title=f"cfsession {sid}", env={"SHELL": shell, "TERM": "xterm-256color"})
        if cast else None
    )
    sink.write({
        "event_type": "session_start", "ts": utc_ts(started), "schema_version": 1,
        "session_type": "interactive", "name": name, "parent_session_id": parent,
        "correlation_id": correlation_id or sid, "started_at": utc_ts(started),
        "host": host or ("elsewhere" if pid is None and not complete else socket.gethostname()),
        "user": "u", "pid": DEAD_PID if pid is None else pid, "shell": shell,
        "shell_kind": os.path.basename(shell), "cwd": cwd, "cols": cols, "rows": rows,
        "term": "xterm-256color", "platform": "linux", "cfsession_version": "0.1.0",
        "etw": "unavailable: not windows", "integration": "active", "command_argv": None,
        **({"actor": actor} if actor is not None else {}),
    })
    t = 0.1
    if writer:
        writer.output(b"\x1b[1m$\x1b[0m ", t)
    failed = 0
    for n, c in enumerate(commands, start=1):
        t += c.gap
        if writer:
            writer.output(((c.command or "") + "\r\n").encode(), t - 0.05)
            writer.marker(f"$ {c.command}" if c.command is not None else "$ ", t)
            raw = c.raw if c.raw is not None else c.output.replace("\n", "\r\n")
            writer.output(raw.encode(), t + 0.01)
        start, end = t, t + c.duration
        t = end
        if writer:
            writer.output(b"\x1b[1m$\x1b[0m ", t + 0.01)
            writer.flush(t)
        failed += c.exit_code not in (0, None)
        digest = writer.digest if writer else ("", 0)
        rec = {
            "event_type": "terminal_capture", "ts": utc_ts(started + end),
            "correlation_id": correlation_id or sid, "command_seq": n, "command": c.command,
            "command_source": "history", "cwd": c.cwd, "cwd_end": c.cwd, "exit_code": c.exit_code,
            "status_kind": "exited" if c.exit_code is not None else "unknown", "pipestatus": None,
            "started_at": utc_ts(started + start), "ended_at": utc_ts(started + end),
            "duration_ms": round(c.duration * 1000, 3), "output": c.output,
            "output_length": len(raw.encode()) if writer else len(c.output),
            "output_truncated": False, "alt_screen": False, "cast_start": round(start, 6),
            "cast_end": round(end, 6), "redactions": 0, "anomalies": [],
            "cast_sha256": digest[0], "cast_bytes": digest[1],
        }
        rec.update(c.extra)
        sink.write(rec)
    for ev in events_after or []:
        sink.write(dict(ev))
    t += 0.2
    if writer:
        writer.output(b"exit\r\n", t)
        writer.close()
    if complete:
        digest = writer.digest if writer else ("", 0)
        sink.write({
            "event_type": "session_end", "ts": utc_ts(started + t), "ended_at": utc_ts(started + t),
            "duration_ms": round(t * 1000, 3), "command_count": len(commands),
            "failed_count": failed, "exit_code": exit_code, "reason": "exit",
            "cast_sha256": digest[0], "cast_bytes": digest[1],
        })
    sink.close()
    return sid


def append_lines(path: Path, *lines: bytes | str | dict[str, Any]) -> None:
    """Append raw lines (damage, foreign data) to a file."""
    with open(path, "ab") as f:
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line)
            f.write(line.encode() if isinstance(line, str) else line)


def session_file(home: Path, sid: str) -> Path:
    return jsonl_path(sid, home)
