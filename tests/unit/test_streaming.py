"""Export and replay stream: they write the first part of a recording before reading the
rest, so memory does not grow with the recording (peak RSS is measured by
scripts/bench.py --only export; here the structure is checked, never a time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfsession import api, export, replay, store
from cfsession.cli import run
from cfsession.paths import cast_path
from tests.sessions_factory import Cmd, make_session

N = 400  # commands; each has a marker and output frames in the .cast


class Counting(store.LineReader):
    lines = 0

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        for item in super().__iter__():
            Counting.lines += 1
            yield item


@pytest.fixture
def big(cf_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    sid = make_session(cf_home, [Cmd(f"echo {i}", f"line {i}\n" * 20) for i in range(N)])
    monkeypatch.setattr(store, "LineReader", Counting)
    return sid


@pytest.mark.parametrize("fmt", export.STREAMED)
def test_every_streamed_format_writes_before_reading_the_rest(big: str, cf_home: Path, fmt: str) -> None:
    loaded = api.load(big, light=True)
    assert loaded.commands and not any("output" in c for c in loaded.commands)  # light
    Counting.lines = 0
    chunks = export.export(loaded, fmt, cast_path(big, cf_home), [])
    first = [next(chunks) for _ in range(3)]
    assert all(first)
    assert Counting.lines < N // 4, f"{Counting.lines} lines read before the first chunks"
    rest = b"".join(chunks)
    assert len(rest) > 100 * sum(map(len, first)) or fmt == "jsonl"
    assert Counting.lines > N  # and the whole session did go out


def test_streamed_exports_equal_the_loaded_ones(big: str, cf_home: Path) -> None:
    cast = cast_path(big, cf_home)
    for fmt in export.STREAMED:
        full = b"".join(export.export(api.load(big, keep_raw=True), fmt, cast, []))
        light = b"".join(export.export(api.load(big, light=True), fmt, cast, []))
        assert light == full, fmt


def test_replay_plays_before_reading_the_rest(big: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[int] = []
    original = replay.PlainWriter.__call__

    def call(self: Any, data: str) -> None:
        seen.append(Counting.lines)
        original(self, data)

    monkeypatch.setattr(replay.PlainWriter, "__call__", call)
    Counting.lines = 0
    assert run(["replay", big, "--no-wait"]) == 0
    out, _ = capsys.readouterr()
    assert f"line {N - 1}" in out
    load_lines = N + 2  # the light load reads the JSONL once, before playing
    assert seen and seen[0] < load_lines + N // 4, seen[:3]
    assert len(seen) > N


def test_replay_of_one_command_stops_reading_after_it(big: str) -> None:
    frames = iter([(0.0, "o", "a"), (1.0, "o", "b"), (2.0, "o", "c"), (3.0, "o", "d")])
    assert list(replay.iter_command_span(frames, 0.5, 1.0)) == [(0.5, "o", "b")]
    assert next(frames) == (3.0, "o", "d")  # one frame past the command's end read, no more
