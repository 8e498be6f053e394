"""The threaded .cast writer produces exactly the bytes of the synchronous one."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cfsession.sinks.cast import CastWriter
from cfsession.sinks.cast_thread import ThreadedCast


def drive(cast: CastWriter | ThreadedCast) -> list[tuple[str, int]]:
    digests = []
    t = 0.0
    for i in range(300):
        t += 0.004
        cast.output(f"line {i} é\r\n".encode() * 50, t)
        if i % 50 == 0:
            cast.marker(f"$ cmd {i}", t)
        if i == 120:
            cast.resize(100, 40, t)
        if i % 77 == 0:
            cast.tick(t)
        if i % 60 == 59:
            cast.flush(t)
            digests.append(cast.digest)
    cast.close()
    digests.append(cast.digest)
    return digests


def test_same_bytes_and_digests(tmp_path: Path) -> None:
    def new(name: str) -> CastWriter:
        return CastWriter(tmp_path / name, cols=80, rows=24, timestamp=0, title="t", env={})

    sync = drive(new("a.cast"))
    threaded = drive(ThreadedCast(new("b.cast")))
    a, b = (tmp_path / "a.cast").read_bytes(), (tmp_path / "b.cast").read_bytes()
    assert a == b
    assert sync == threaded
    assert threaded[-1] == (hashlib.sha256(b).hexdigest(), len(b))


def test_write_failure_is_reported_on_the_callers_thread(tmp_path: Path) -> None:
    import threading

    seen: list[tuple[str, str, str]] = []

    def warn(code: str, msg: str) -> None:
        seen.append((code, msg, threading.current_thread().name))

    w = CastWriter(tmp_path / "c.cast", cols=80, rows=24, timestamp=0, title="t", env={})
    cast = ThreadedCast(w, on_warning=warn)
    os.close(w._fd)  # type: ignore[arg-type]  # the disk goes away under the writer
    w._fd = os.open(os.devnull, os.O_RDONLY)  # writes now fail with EBADF
    cast.output(b"x" * 100, 0.1)
    cast.flush(0.2)
    cast.close()
    assert [s[0] for s in seen] == ["store_write_failed"]
    assert seen[0][2] == threading.current_thread().name
