"""The threaded .cast writer produces exactly the bytes of the synchronous one."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

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


# 0: always on the worker; 20,000: switches between the two (drive() writes ~36 KB
# between barriers, in 600-byte pieces); 10**9: inline after the first barrier.
@pytest.mark.parametrize("inline_max", [0, 20_000, 10**9])
def test_same_bytes_and_digests(tmp_path: Path, inline_max: int) -> None:
    def new(name: str) -> CastWriter:
        return CastWriter(tmp_path / name, cols=80, rows=24, timestamp=0, title="t", env={})

    sync = drive(new("a.cast"))
    threaded = drive(ThreadedCast(new("b.cast"), inline_max=inline_max))
    a, b = (tmp_path / "a.cast").read_bytes(), (tmp_path / "b.cast").read_bytes()
    assert a == b
    assert sync == threaded
    assert threaded[-1] == (hashlib.sha256(b).hexdigest(), len(b))


def test_modes_follow_the_volume(tmp_path: Path) -> None:
    w = CastWriter(tmp_path / "m.cast", cols=80, rows=24, timestamp=0, title="t", env={})
    cast = ThreadedCast(w, inline_max=1000)
    assert not cast._inline  # threaded until the first barrier
    cast.output(b"a" * 10, 0.1)
    cast.flush(0.2)
    assert cast._inline  # little output before the barrier: the caller writes
    cast.output(b"b" * 600, 0.3)
    assert cast._inline
    cast.output(b"c" * 600, 0.4)  # past inline_max since the barrier
    assert not cast._inline
    cast.flush(0.5)
    assert not cast._inline  # that stretch was large: stay on the worker
    cast.flush(0.6)
    assert cast._inline
    cast.close()
    assert (tmp_path / "m.cast").read_bytes().count(b'"o"') == 3


@pytest.mark.parametrize("inline_max", [0, 10**9])
def test_write_failure_is_reported_on_the_callers_thread(tmp_path: Path, inline_max: int) -> None:
    import threading

    seen: list[tuple[str, str, str]] = []

    def warn(code: str, msg: str) -> None:
        seen.append((code, msg, threading.current_thread().name))

    w = CastWriter(tmp_path / "c.cast", cols=80, rows=24, timestamp=0, title="t", env={})
    cast = ThreadedCast(w, on_warning=warn, inline_max=inline_max)
    cast.flush(0.05)  # with a large inline_max, inline from here on
    os.close(w._fd)  # type: ignore[arg-type]  # the disk goes away under the writer
    w._fd = os.open(os.devnull, os.O_RDONLY)  # writes now fail with EBADF
    cast.output(b"x" * 100, 0.1)
    cast.flush(0.2)
    cast.close()
    assert [s[0] for s in seen] == ["store_write_failed"]
    assert seen[0][2] == threading.current_thread().name
