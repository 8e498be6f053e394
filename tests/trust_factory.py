"""Sessions for the trust tests, written through the real JsonlSink and CastWriter.

Each command pins the .cast with its running digest, as the recorder does, so a test can
edit any byte of either file and expect ``verify`` to say where.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

from cfsession.anchor import AnchorWriter, anchor_path
from cfsession.paths import cast_path, ensure_dir, jsonl_path, sessions_dir
from cfsession.records import utc_ts
from cfsession.sinks.cast import CastWriter
from cfsession.sinks.jsonl import JsonlSink

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
DEAD_PID = 99_999_999  # above any pid_max: never a live recorder


def write_session(
    home: Path,
    n_commands: int = 3,
    *,
    complete: bool = True,
    session_id: str | None = None,
    extra_events: list[dict[str, Any]] | None = None,
    pid: int = DEAD_PID,
    anchor: bool = False,
) -> str:
    """Write a session of ``n_commands`` commands under ``home``; return its id.

    ``anchor``: keep ``<home>/anchors/<id>.anchor`` as the recorder does."""
    sid = session_id or str(uuid.uuid4())
    ensure_dir(sessions_dir(home))
    sink = JsonlSink(jsonl_path(sid, home), sid,
                     anchor=AnchorWriter(anchor_path(sid, home), sid) if anchor else None)
    cast = CastWriter(
        cast_path(sid, home),
        cols=80,
        rows=24,
        timestamp=int(T0),
        title=f"cfsession {sid}",
        env={"SHELL": "/bin/bash", "TERM": "xterm-256color"},
    )
    sink.write(
        {
            "event_type": "session_start",
            "ts": utc_ts(T0),
            "schema_version": 1,
            "session_type": "interactive",
            "name": "trust",
            "parent_session_id": None,
            "correlation_id": sid,
            "started_at": utc_ts(T0),
            "host": socket.gethostname(),
            "user": "u",
            "pid": pid,
            "shell": "/bin/bash",
            "shell_kind": "bash",
            "cwd": "/home/u",
            "cols": 80,
            "rows": 24,
            "term": "xterm-256color",
            "platform": "linux",
            "cfsession_version": "0.1.0",
            "etw": "unavailable: not windows",
            "integration": "active",
            "command_argv": None,
        }
    )
    t = 0.1
    failed = 0
    for i in range(1, n_commands + 1):
        start = t
        cast.marker(f"$ echo {i}", start)
        cast.output(f"line {i} ✓ é\r\n".encode(), start + 0.01)
        t += 0.5
        cast.flush(t)
        sha, size = cast.digest
        code = 0 if i % 2 else 1
        failed += code != 0
        sink.write(
            {
                "event_type": "terminal_capture",
                "ts": utc_ts(T0 + t),
                "correlation_id": sid,
                "command_seq": i,
                "command": f"echo {i}",
                "command_source": "history",
                "cwd": "/home/u",
                "cwd_end": "/home/u",
                "exit_code": code,
                "status_kind": "exited",
                "pipestatus": [code],
                "started_at": utc_ts(T0 + start),
                "ended_at": utc_ts(T0 + t),
                "duration_ms": 500.0,
                "output": f"line {i} ✓ é\n",
                "output_length": 14,
                "output_truncated": False,
                "alt_screen": False,
                "cast_start": start,
                "cast_end": t,
                "redactions": 0,
                "anomalies": [],
                "cast_sha256": sha,
                "cast_bytes": size,
            }
        )
    for ev in extra_events or []:
        sink.write(ev)
    if complete:
        cast.close()
        sha, size = cast.digest
        sink.write(
            {
                "event_type": "session_end",
                "ts": utc_ts(T0 + t + 0.1),
                "ended_at": utc_ts(T0 + t + 0.1),
                "duration_ms": (t + 0.1) * 1000,
                "command_count": n_commands,
                "failed_count": failed,
                "exit_code": 0,
                "reason": "exit",
                "cast_sha256": sha,
                "cast_bytes": size,
            }
        )
    else:
        cast.flush()
        cast._close_fd(sync=False)  # the recorder was killed: no session_end, no final flush
    sink.close()
    return sid


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))
