"""The JSONL sink's held lines (the bookkeeping child's batches): the same bytes as one
write per record, written before the child waits for more, and a deletion between two
batches still starts a new chain that keeps every held record."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cfsession.anchor import AnchorWriter, read_anchor
from cfsession.recorder import bookkeeper
from cfsession.recorder.wiring import Warner
from cfsession.segmenter import Mark
from cfsession.session import Session
from cfsession.sinks.jsonl import JsonlSink
from cfsession.verify import INTACT, verify_session

SID = "00000000-0000-4000-8000-000000000001"


def _records(n: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = [{"event_type": "session_start", "ts": "2026-01-01T00:00:00.000000Z"}]
    for i in range(1, n):
        out.append({"event_type": "terminal_capture", "ts": f"2026-01-01T00:00:0{i % 10}.000000Z",
                    "command": f"echo {i}", "output": f"{i}\n" * i})
    return out


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_held_lines_wait_for_flush_and_are_the_bytes_of_one_write_per_record(tmp_path: Path) -> None:
    one, held = tmp_path / "one", tmp_path / "held"
    for d in (one, held):
        d.mkdir()
    a = JsonlSink(one / "s.jsonl", SID, anchor=AnchorWriter(one / "s.anchor", SID))
    b = JsonlSink(held / "s.jsonl", SID, anchor=AnchorWriter(held / "s.anchor", SID))
    b.hold = True
    recs = _records(6)
    for r in recs[:4]:
        a.write(r)
        b.write(r)
    assert (held / "s.jsonl").read_bytes() == b""  # nothing before the flush
    assert not (held / "s.anchor").exists()
    b.flush()
    assert (held / "s.jsonl").read_bytes() == (one / "s.jsonl").read_bytes()
    assert read_anchor(held / "s.anchor") == read_anchor(one / "s.anchor")
    for r in recs[4:]:
        a.write(r)
        b.write(r)
    assert b.seq == 4 and a.seq == 6  # held, not yet numbered
    a.close()
    b.close()  # close writes what is held
    for name in ("s.jsonl", "s.anchor"):
        assert (held / name).read_bytes() == (one / name).read_bytes(), name
    assert b.last_hash == a.last_hash
    anchor = read_anchor(held / "s.anchor")
    assert anchor is not None and anchor.seq == 6
    assert anchor.first_hash == _lines(held / "s.jsonl")[0]["hash"]
    got = _lines(held / "s.jsonl")
    assert [r["prev_hash"] for r in got[1:]] == [r["hash"] for r in got[:-1]]  # one chain


def test_a_long_batch_is_written_every_hold_max_records(tmp_path: Path) -> None:
    from cfsession.sinks import jsonl

    sink = JsonlSink(tmp_path / "s.jsonl", SID)
    sink.hold = True
    recs = _records(jsonl.HOLD_MAX + 5)
    for r in recs[: jsonl.HOLD_MAX - 1]:
        sink.write(r)
    assert (tmp_path / "s.jsonl").read_bytes() == b""
    sink.write(recs[jsonl.HOLD_MAX - 1])
    assert len(_lines(tmp_path / "s.jsonl")) == jsonl.HOLD_MAX  # what a killed child could lose is bounded
    for r in recs[jsonl.HOLD_MAX :]:
        sink.write(r)
    assert len(_lines(tmp_path / "s.jsonl")) == jsonl.HOLD_MAX
    sink.close()
    assert [r["seq"] for r in _lines(tmp_path / "s.jsonl")] == list(range(1, jsonl.HOLD_MAX + 6))


def test_a_deletion_between_batches_starts_a_new_chain_with_every_held_record(tmp_path: Path) -> None:
    path = tmp_path / "sessions" / "s.jsonl"
    path.parent.mkdir()
    warned: list[str] = []
    sink = JsonlSink(path, SID, on_warning=lambda code, msg: warned.append(code),
                     anchor=AnchorWriter(tmp_path / "s.anchor", SID))
    sink.hold = True
    recs = _records(5)
    for r in recs[:2]:
        sink.write(r)
    sink.flush()
    sink.write(recs[2])
    path.unlink()  # `rm` of the store while records are held
    for r in recs[3:]:
        sink.write(r)
    sink.close()
    got = _lines(path)
    assert [r["event_type"] for r in got] == ["session_start", "gap", "terminal_capture", "terminal_capture",
                                              "terminal_capture"]
    assert got[1]["lost_records"] == 2 and got[1]["state"] == "lost"
    assert [r["command"] for r in got[2:]] == ["echo 2", "echo 3", "echo 4"]
    assert [r["seq"] for r in got] == [1, 2, 3, 4, 5]
    assert warned == ["store_deleted"] and sink.lost_records == 2
    anchor = read_anchor(tmp_path / "s.anchor")
    assert anchor is not None and (anchor.seq, anchor.hash, anchor.first_hash) == (5, got[-1]["hash"], got[0]["hash"])


def test_the_bookkeeper_writes_what_it_holds_before_it_waits(tmp_path: Path) -> None:
    """A command's record is on disk while the recorder is alive and sends nothing more:
    the child never holds lines across a read of its pipe."""
    warner = Warner()
    path = tmp_path / f"{SID}.jsonl"
    jsonl = JsonlSink(path, SID, anchor=AnchorWriter(tmp_path / "s.anchor", SID))
    session = Session(session_id=SID, start_epoch=0.0, cast=None, sinks=[jsonl], on_warning=warner)
    warner.session = session
    session.active = True
    session.emit({"event_type": "session_start", "ts": session.ts(0)})
    remote = bookkeeper.start(session, [jsonl], [], warner, raw=False)
    assert remote is not None
    try:
        remote.mark(Mark("C", 1, {"cmd": "echo hi"}), 0.1)
        remote.data(b"hi\r\n", 0.2)
        remote.mark(Mark("D", 2, {"st": "0"}), 0.3)
        remote.mark(Mark("P", 3, {"cwd": "/tmp"}), 0.4)
        remote.end_batch()
        deadline = time.monotonic() + 30
        kinds: list[object] = []
        while time.monotonic() < deadline:
            kinds = [r["event_type"] for r in _lines(path)] if path.stat().st_size else []
            if "terminal_capture" in kinds:
                break
            time.sleep(0.01)
        assert kinds == ["session_start", "terminal_capture"], kinds
        anchor = read_anchor(tmp_path / "s.anchor")
        assert anchor is not None and anchor.seq == 2
    finally:
        summary = remote.finish(0.5, 0, "exit")
    assert summary is not None and summary["saved"] and summary["command_count"] == 1
    assert [r["event_type"] for r in _lines(path)][-1] == "session_end"
    assert verify_session(path).status == INTACT
    assert os.path.exists(tmp_path / "s.anchor")


def test_a_line_starts_with_the_sinks_four_keys_whatever_the_record_says(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "s.jsonl", SID)
    sink.write({"zeta": 1, "seq": 99, "ts": None, "session_id": "other", "event_type": "gap", "alpha": [1]})
    sink.close()
    (line,) = _lines(tmp_path / "s.jsonl")
    assert list(line)[:6] == ["event_type", "session_id", "seq", "ts", "zeta", "alpha"]
    assert (line["event_type"], line["session_id"], line["seq"]) == ("gap", SID, 1)
    assert isinstance(line["ts"], str) and line["ts"].endswith("Z")
    assert list(line)[-2:] == ["prev_hash", "hash"]
