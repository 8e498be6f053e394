"""The shipper's local position per session and server, in ``<home>/ship.sqlite``.

A checkpoint is written only after the server committed the lines it covers, so a crash
between the two resends lines the server already holds; the server skips them (ingest is
idempotent on (session_guid, seq)), which makes the stored result exactly-once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cfsession.integrity import GENESIS
from cfsession.paths import FILE_MODE, ensure_dir

_OPEN = threading.Lock()


@dataclass
class Position:
    session_id: str
    offset: int = 0  # bytes of the JSONL file shipped
    seq: int = 0  # last line shipped
    hash: str = GENESIS  # its hash
    cast_offset: int = 0  # bytes of the .cast shipped
    complete: bool = False  # session_end shipped
    refused: str | None = None  # why the server (or the file) stopped this session


class Checkpoints:
    def __init__(self, home: Path, server: str) -> None:
        ensure_dir(home)
        path = home / "ship.sqlite"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        os.close(fd)
        os.chmod(path, FILE_MODE)
        self.server = server
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        # Switching to WAL takes an exclusive lock and does not wait on the busy timeout:
        # two streams (threads) opening at once would see "database is locked". One at a
        # time in this process, and a retry for another process doing the same.
        deadline = time.monotonic() + 30
        with _OPEN:
            while True:
                try:
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self.db.execute("PRAGMA synchronous=NORMAL")
                    self.db.execute(
                        "CREATE TABLE IF NOT EXISTS position (server TEXT NOT NULL,"
                        " session_id TEXT NOT NULL, offset INTEGER NOT NULL, seq INTEGER NOT NULL,"
                        " hash TEXT NOT NULL, cast_offset INTEGER NOT NULL,"
                        " complete INTEGER NOT NULL, refused TEXT, PRIMARY KEY (server, session_id))"
                    )
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def load(self) -> dict[str, Position]:
        rows = self.db.execute(
            "SELECT session_id, offset, seq, hash, cast_offset, complete, refused FROM position"
            " WHERE server = ?", (self.server,),
        )
        return {r[0]: Position(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows}

    def save(self, positions: list[Position]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO position VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(self.server, p.session_id, p.offset, p.seq, p.hash, p.cast_offset,
                  int(p.complete), p.refused) for p in positions],
            )

    def close(self) -> None:
        self.db.close()
