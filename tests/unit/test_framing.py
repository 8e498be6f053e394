"""The bookkeeping pipe's frames: a cut-into stream loses only what it cut, never hands on
foreign bytes, and the bookkeeper still closes the session (recorder/framing.py)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from cfsession.recorder import bookkeeper
from cfsession.recorder.framing import Lost, read_frames
from cfsession.segmenter import Mark
from cfsession.session import Session
from cfsession.sinks.jsonl import JsonlSink
from cfsession.verify import INTACT, verify_session

TAG = b"\x8a\x01tag\xfe\x00\x07"


def frame(kind: bytes, payload: bytes, t: float = 1.0) -> bytes:
    return bookkeeper._HEAD.pack(TAG, kind, t, len(payload)) + payload + TAG


def frames_of(stream: bytes) -> list[Any]:
    r, w = os.pipe()

    def feed() -> None:
        view = memoryview(stream)
        while view:
            view = view[os.write(w, view[:65536]) :]
        os.close(w)

    th = threading.Thread(target=feed)
    th.start()
    try:
        got = list(read_frames(r, TAG, bookkeeper._HEAD, (b"o", b"c"), bookkeeper.MAX_FRAME))
    finally:
        th.join()
        os.close(r)
    return got


def test_whole_frames_come_through_as_written() -> None:
    parts = [frame(b"o", b"x" * n) for n in (0, 1, 70000, 5)] + [frame(b"c", b"call")]
    got = frames_of(b"".join(parts))
    assert [(k, len(p)) for k, _, p in got] == [(b"o", 0), (b"o", 1), (b"o", 70000), (b"o", 5), (b"c", 4)]


@pytest.mark.parametrize("cut", [1, 3, 8, 20, 21, 22, 500, 1021, 1028])
def test_a_frame_cut_into_is_dropped_and_the_next_one_is_found(cut: int) -> None:
    big = frame(b"o", b"A" * 1000)
    intruder = frame(b"c", b"resize")  # what a signal handler wrote mid-frame
    stream = frame(b"o", b"before") + big[:cut] + intruder + big[cut:] + frame(b"o", b"after")
    got = frames_of(stream)
    payloads = [g[2] for g in got if not isinstance(g, Lost)]
    # Whatever is handed on is a payload as written (the intruder, or the cut frame when
    # its payload happens to be whole): never a mix.
    assert payloads[0] == b"before" and payloads[-1] == b"after"
    assert all(p in (b"before", b"after", b"resize", b"A" * 1000) for p in payloads)
    lost = [g for g in got if isinstance(g, Lost)]
    assert lost  # and it is said


def test_garbage_and_a_truncated_end_are_reported() -> None:
    stream = b"\x00" * 50 + frame(b"o", b"ok") + frame(b"o", b"cut short")[:-3]
    got = frames_of(stream)
    assert isinstance(got[0], Lost) and got[0].size == 50
    assert got[1][2] == b"ok"
    assert isinstance(got[-1], Lost)


def test_a_tag_in_the_output_cannot_forge_a_frame() -> None:
    # Output that carries what looks like a frame (with the wrong tag) is output.
    fake = bookkeeper._HEAD.pack(b"notthetg", b"c", 0.0, 4) + b"evil" + b"notthetg"
    got = frames_of(frame(b"o", fake))
    assert got == [(b"o", 1.0, fake)]


def test_the_child_says_so_in_the_jsonl_and_still_ends_the_session(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from cfsession.recorder.wiring import Warner

    warner = Warner()  # as the recorder has it: a warning is one line and one record
    jsonl = JsonlSink(tmp_path / "sid.jsonl", "sid")
    session = Session(session_id="sid", start_epoch=0.0, cast=None, sinks=[jsonl], on_warning=warner)
    warner.session = session
    session.emit({"event_type": "session_start", "ts": session.ts(0)})
    remote = bookkeeper.start(session, [jsonl], [], warner, raw=False)
    assert remote is not None
    remote.mark(Mark("C", 1, {"cmd": "echo hi"}), 0.1)
    remote.data(b"hi\r\n", 0.2)
    remote.end_batch()
    os.write(remote._wfd, b"\x00garbage that is no frame\xff" * 10)  # a cut-into stream
    remote.data(b"more\r\n", 0.3)
    remote.mark(Mark("D", 2, {"st": "0"}), 0.4)
    summary = remote.finish(0.5, 0, "exit")
    assert summary is not None and summary["saved"] and summary["command_count"] == 1
    recs = [json.loads(line) for line in (tmp_path / "sid.jsonl").read_text().splitlines()]
    kinds = [r["event_type"] for r in recs]
    assert kinds[-1] == "session_end"
    (warn,) = [r for r in recs if r["event_type"] == "warning"]
    assert warn["code"] == "bookkeeping_framing" and warn["lost_bytes"] == 260
    (cmd,) = [r for r in recs if r["event_type"] == "terminal_capture"]
    assert cmd["output"] == "hi\nmore\n"
    assert verify_session(tmp_path / "sid.jsonl").status == INTACT
    err = capfd.readouterr().err
    assert err.count("cfsession: warning:") == 1 and "lost 260 bytes" in err
