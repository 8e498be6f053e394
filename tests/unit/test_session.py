"""The segmentation state machine, fed marks and data directly (no PTY)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cfsession.integrity import GENESIS, canonical
from cfsession.segmenter import SPOOF, Mark
from cfsession.session import OutputSpool, Session, status_kind
from cfsession.sinks.cast import CastWriter
from cfsession.sinks.jsonl import JsonlSink
from tests.fakes import ListSink

SID = "6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"



def new_session(tmp_path: Path, **kw: Any) -> tuple[Session, ListSink, CastWriter]:
    sink = ListSink()
    cast = CastWriter(tmp_path / "s.cast", cols=80, rows=24, timestamp=0, title="t", env={})
    s = Session(session_id=SID, start_epoch=1_700_000_000.0, cast=cast, sinks=[sink], **kw)
    return s, sink, cast


def caps(sink: ListSink) -> list[dict[str, Any]]:
    return [r for r in sink.records if r["event_type"] == "terminal_capture"]


def prompt(s: Session, seq: int, t: float, cwd: str = "/w", **d: str) -> None:
    s.mark(Mark("D", seq, d), t)
    s.mark(Mark("P", seq + 1, {"cwd": cwd}), t)
    s.mark(Mark("A", seq + 2, {}), t)


def test_command_cycle(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path)
    s.mark(Mark("H", 1, {"shell": "bash"}), 0.0)
    prompt(s, 10, 0.1, cmdno="1")
    s.data(b"$ echo hi\r\n", 0.2)  # prompt region: not part of any command
    s.mark(Mark("C", 20, {"cmd": "echo hi", "src": "history", "cmdno": "1"}), 1.0)
    s.data(b"hi\r\n", 1.1)
    prompt(s, 30, 1.5, cwd="/w/sub", cmdno="2", st="0", ps="0")
    (c,) = caps(sink)
    assert c["command"] == "echo hi" and c["output"] == "hi\n" and c["exit_code"] == 0
    assert c["cwd"] == "/w" and c["cwd_end"] == "/w/sub"
    assert c["duration_ms"] == pytest.approx(500.0)
    assert c["cast_start"] == 1.0 and c["cast_end"] == 1.5
    assert c["pipestatus"] == [0] and c["status_kind"] == "exited"
    assert c["output_length"] == 4 and c["command_seq"] == 1


def test_bare_d_means_nothing_ran(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path)
    s.mark(Mark("H", 1, {}), 0.0)
    for i in range(3):
        prompt(s, 10 * (i + 1), float(i), cmdno="1")
    assert caps(sink) == []


def test_paste_two_lines_one_prompt(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path)
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 5, {"cmd": "echo a", "cmdno": "3"}), 1.0)
    s.mark(Mark("C", 6, {"cmd": "echo b", "cmdno": "4"}), 1.1)
    prompt(s, 10, 1.2, cmdno="5", st="0")
    a, b = caps(sink)
    assert (a["command"], a["exit_code"], a["anomalies"]) == ("echo a", None, ["no_prompt_between"])
    assert (b["command"], b["exit_code"]) == ("echo b", 0)


def test_hidden_and_stale(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path)
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"src": "hidden"}), 0.1)
    prompt(s, 10, 0.2, st="0")
    s.data(b"$ make", 0.3)  # echo of a duplicate line
    s.mark(Mark("C", 20, {"cmd": "make", "src": "stale"}), 0.4)
    prompt(s, 30, 0.5, st="0")
    s.data(b"$  secret-thing", 0.6)  # echo of a space-prefixed (hidden) line
    s.mark(Mark("C", 40, {"cmd": "make", "src": "stale"}), 0.7)
    prompt(s, 50, 0.8, st="0")
    assert [(c["command"], c["command_source"]) for c in caps(sink)] == [
        (None, "hidden"),
        ("make", "history"),
        (None, "hidden"),
    ]


def test_spoof_charged_to_running_command(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path)
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "cat x"}), 0.1)
    s.mark(SPOOF, 0.2)
    prompt(s, 10, 0.3, st="0")
    assert caps(sink)[0]["anomalies"] == ["spoof_attempt"]


def test_marks_from_another_pid_are_ignored(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path, shell_pid=100)
    s.mark(Mark("H", 1, {"pid": "100"}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "bash", "pid": "100"}), 0.1)
    s.mark(Mark("C", 3, {"cmd": "inner", "pid": "200"}), 0.2)  # inherited PS0 in a child
    prompt(s, 10, 0.3, st="0")
    assert [c["command"] for c in caps(sink)] == ["bash"]


def test_finish_closes_exit_with_shell_status(tmp_path: Path) -> None:
    s, sink, cast = new_session(tmp_path)
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "sleep 9"}), 0.1)
    prompt(s, 10, 0.2, st="130")
    s.mark(Mark("C", 20, {"cmd": "exit 3"}), 0.3)
    s.finish(0.4, 3, "exit")
    cs = caps(sink)
    # The shell's own `exit` is the session's end, not a command (one rule for all shells).
    assert [(c["command"], c["exit_code"], c["status_kind"]) for c in cs] == [
        ("sleep 9", 130, "likely_signal"),
    ]
    end = sink.records[-1]
    assert end["event_type"] == "session_end"
    assert (end["command_count"], end["failed_count"], end["exit_code"]) == (1, 1, 3)
    assert end["end_command"] == "exit 3"
    assert end["cast_bytes"] == (tmp_path / "s.cast").stat().st_size


def test_exit_reported_ended_is_still_the_session_end(tmp_path: Path) -> None:
    """fish reports the end of `exit` before it leaves: the same rule applies."""
    s, sink, _ = new_session(tmp_path)
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "false"}), 0.1)
    prompt(s, 10, 0.2, st="1")
    s.mark(Mark("C", 20, {"cmd": "exit"}), 0.3)
    s.mark(Mark("D", 21, {"st": "1"}), 0.35)
    s.finish(0.4, 1, "exit")
    assert [c["command"] for c in caps(sink)] == ["false"]
    end = sink.records[-1]
    assert (end["command_count"], end["failed_count"], end["end_command"]) == (1, 1, "exit")


def test_stopped_job_is_not_a_failure(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path)
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "vim x"}), 0.1)
    prompt(s, 10, 0.2, st="148")
    s.finish(0.4, 0, "exit")
    (c,) = caps(sink)
    assert (c["exit_code"], c["status_kind"]) == (148, "stopped")
    assert (sink.records[-1]["command_count"], sink.records[-1]["failed_count"]) == (1, 0)


def test_unsegmented_when_no_hello(tmp_path: Path) -> None:
    s, sink, _ = new_session(tmp_path)
    s.data(b"starting\r\n", 0.1)
    s.no_hello(10.0, "no marker")
    s.data(b"more\r\n", 10.5)
    s.finish(11.0, 0, "exit")
    integ = [r for r in sink.records if r["event_type"] == "integration"]
    assert integ[0]["status"] == "unsegmented"
    (c,) = caps(sink)
    assert c["command"] is None and c["command_source"] == "unsegmented" and c["output"] == "more\n"


def test_redaction_applies_to_command_output_and_cast(tmp_path: Path) -> None:
    def redact(text: str) -> tuple[str, int]:
        return text.replace("SECRET", "[REDACTED]"), text.count("SECRET")

    class Stream:
        def feed(self, text: str) -> str:
            return redact(text)[0]

        def flush(self) -> str:
            return ""

    s, sink, cast = new_session(tmp_path, redact=redact)
    cast._redact = Stream()
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "echo SECRET"}), 0.1)
    s.data(b"SECRET\r\n", 0.2)
    prompt(s, 10, 0.3, st="0")
    s.finish(0.4, 0, "exit")
    (c,) = caps(sink)
    assert c["command"] == "echo [REDACTED]" and c["output"] == "[REDACTED]\n" and c["redactions"] == 2
    assert "SECRET" not in (tmp_path / "s.cast").read_text()


def test_status_kind() -> None:
    assert [status_kind(x) for x in (0, 1, 127, 130, 137, 148, None)] == [
        "exited", "exited", "exited", "likely_signal", "likely_signal", "stopped", "unknown"
    ]


def test_output_spool_keeps_head_and_tail() -> None:
    sp = OutputSpool(cap=100)
    for i in range(1000):
        sp.add(b"line %04d\n" % i)
    assert sp.total == 10_000 and sp.truncated
    text = sp.text()
    assert text.startswith("line 0000\n") and text.endswith("line 0999\n")
    assert "bytes of output omitted" in text
    assert len(sp.head) + sp.tail_len <= 2 * (sp.half + sp.edge) + 10


def test_jsonl_chain_and_cast_digest(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "s.jsonl", SID)
    cast = CastWriter(tmp_path / "s.cast", cols=80, rows=24, timestamp=0, title="t", env={})
    s = Session(session_id=SID, start_epoch=0.0, cast=cast, sinks=[sink])
    s.emit({"event_type": "session_start", "schema_version": 1})
    s.open_pseudo(0.0, "echo é", "argv")
    s.data("é\r\n".encode()[:1], 0.1)  # a UTF-8 character split across reads
    s.data("é\r\n".encode()[1:], 0.1)
    s.finish(0.2, 0, "exit")
    sink.close()
    lines = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    prev = GENESIS
    import hashlib

    for i, rec in enumerate(lines, 1):
        assert rec["seq"] == i and rec["session_id"] == SID and rec["prev_hash"] == prev
        assert hashlib.sha256(canonical(rec)).hexdigest() == rec["hash"]
        prev = rec["hash"]
    cast_bytes = (tmp_path / "s.cast").read_bytes()
    assert lines[-1]["cast_sha256"] == hashlib.sha256(cast_bytes).hexdigest()
    events = [json.loads(x) for x in cast_bytes.decode().splitlines()[1:]]
    assert events[0] == [0.0, "m", "$ echo é"]
    assert "".join(e[2] for e in events if e[1] == "o") == "é\r\n"


def test_deleted_session_file_is_reported_once(tmp_path: Path) -> None:
    seen: list[str] = []
    sink = JsonlSink(tmp_path / "s.jsonl", SID, on_warning=lambda code, msg: seen.append(code))
    sink.write({"event_type": "session_start"})
    (tmp_path / "s.jsonl").unlink()
    sink.write({"event_type": "terminal_capture"})
    sink.write({"event_type": "terminal_capture"})
    sink.close()
    assert seen == ["store_deleted"]


def test_utc_ts_matches_datetime() -> None:
    import random
    from datetime import datetime, timezone

    from cfsession.records import utc_ts

    rnd = random.Random(7)
    for t in [0.0, 1.5, 1616319743.4812906, 1795598449.9999996] + [rnd.uniform(0, 2e9) for _ in range(5000)]:
        assert utc_ts(t) == datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_deleted_session_file_is_made_anew_with_a_gap_record(tmp_path: Path) -> None:
    from cfsession.verify import INTACT, verify_session

    store = tmp_path / "store" / "sessions"
    store.mkdir(parents=True)
    path = store / f"{SID}.jsonl"
    sink = JsonlSink(path, SID)
    sink.write({"event_type": "session_start", "ts": "2026-01-01T00:00:00.000000Z"})
    sink.write({"event_type": "terminal_capture", "command": "lost"})
    lost_head = sink.last_hash
    import shutil

    shutil.rmtree(tmp_path / "store")
    sink.write({"event_type": "terminal_capture", "command": "kept"})
    sink.write({"event_type": "session_end"})
    sink.close()
    assert sink.failed is None and sink.lost_records == 2
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["event_type"] for r in recs] == ["session_start", "gap", "terminal_capture", "session_end"]
    assert recs[0]["ts"] == "2026-01-01T00:00:00.000000Z"  # the original start, repeated
    assert recs[1]["lost_records"] == 2 and recs[1]["lost_last_hash"] == lost_head
    assert recs[2]["command"] == "kept" and recs[-1]["hash"] == sink.last_hash
    assert (tmp_path / "store").stat().st_mode & 0o777 == 0o700
    assert verify_session(path, path.with_suffix(".cast")).status == INTACT


def test_a_file_deleted_after_its_last_line_is_not_called_saved(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    sink = JsonlSink(path, SID)
    sink.write({"event_type": "session_start"})
    path.unlink()
    sink.close()
    assert sink.failed == "deleted while recording"


def test_a_deleted_cast_is_made_anew_and_its_digest_covers_the_new_file(tmp_path: Path) -> None:
    warned: list[str] = []
    path = tmp_path / "sessions" / "c.cast"
    path.parent.mkdir()
    cast = CastWriter(path, cols=80, rows=24, timestamp=0, title="t", env={},
                      on_warning=lambda code, msg: warned.append(code))
    cast.output(b"lost\r\n", 0.1)
    cast.flush(0.1)
    import shutil

    shutil.rmtree(path.parent)
    cast.resize(100, 30, 0.2)
    cast.output(b"kept\r\n", 0.3)
    cast.flush(0.3)
    data = path.read_bytes()
    lines = data.decode().splitlines()
    assert json.loads(lines[0])["width"] == 100 and json.loads(lines[0])["height"] == 30
    assert "was lost" in lines[1] and "kept" in data.decode() and "lost\\r" not in data.decode()
    assert cast.digest == (hashlib.sha256(data).hexdigest(), len(data))
    assert warned == ["cast_deleted"] and cast.restarts == 1
    assert path.parent.stat().st_mode & 0o777 == 0o700
    cast.close()
