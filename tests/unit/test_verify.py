"""verify: intact and incomplete sessions pass; every kind of edit fails and names its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfsession.integrity import GENESIS, seal
from cfsession.paths import cast_path, jsonl_path
from cfsession.records import dumps
from cfsession.sinks.jsonl import JsonlSink
from cfsession.verify import INCOMPLETE, INTACT, TAMPERED, session_files, verify_session
from tests.trust_factory import lines_of, write_lines, write_session


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _paths(home: Path, sid: str) -> tuple[Path, Path]:
    return jsonl_path(sid, home), cast_path(sid, home)


def test_intact_complete_session(home: Path) -> None:
    sid = write_session(home, 3)
    j, _ = _paths(home, sid)
    res = verify_session(j)
    assert (res.status, res.ok, res.complete) == (INTACT, True, True)
    assert res.lines == res.valid_lines == 5
    assert res.bad_line is None and res.problem is None
    assert res.cast_checks == 4  # three commands and session_end
    assert res.session_id == sid
    assert res.final_hash == json.loads(lines_of(j)[-1])["hash"]


def test_incomplete_session_is_intact_up_to_its_last_line(home: Path) -> None:
    sid = write_session(home, 2, complete=False)
    res = verify_session(_paths(home, sid)[0])
    assert (res.status, res.ok, res.complete) == (INCOMPLETE, True, False)
    assert res.problem == "no_end"
    assert "line 3" in (res.reason or "")


def test_empty_file_is_incomplete(home: Path) -> None:
    home.mkdir()
    p = home / "x.jsonl"
    p.write_bytes(b"")
    res = verify_session(p)
    assert (res.status, res.problem, res.ok) == (INCOMPLETE, "empty", True)


def test_to_dict_carries_ok(home: Path) -> None:
    sid = write_session(home, 1)
    d = verify_session(_paths(home, sid)[0]).to_dict()
    assert d["ok"] is True and d["status"] == INTACT and d["session_id"] == sid


# -- one byte, anywhere -------------------------------------------------------------------
def _line_of_offset(lines: list[bytes], offset: int) -> int:
    pos = 0
    for n, line in enumerate(lines, start=1):
        pos += len(line)
        if offset < pos:
            return n
    raise AssertionError(offset)


def test_every_single_byte_edit_of_the_jsonl_fails_at_its_line(home: Path) -> None:
    sid = write_session(home, 1)
    j, _ = _paths(home, sid)
    original = j.read_bytes()
    lines = lines_of(j)
    for offset in range(len(original)):
        edited = bytearray(original)
        edited[offset] ^= 0x01
        j.write_bytes(bytes(edited))
        res = verify_session(j)
        assert res.status == TAMPERED, offset
        assert res.bad_line == _line_of_offset(lines, offset), (offset, res.reason)
    j.write_bytes(original)
    assert verify_session(j).status == INTACT


def test_every_single_byte_edit_of_the_cast_fails_at_the_first_command_pinning_it(
    home: Path,
) -> None:
    sid = write_session(home, 2)
    j, c = _paths(home, sid)
    pins = [
        (n, r["cast_bytes"])
        for n, r in enumerate(map(json.loads, lines_of(j)), 1)
        if "cast_bytes" in r
    ]
    original = c.read_bytes()
    for offset in range(len(original)):
        edited = bytearray(original)
        edited[offset] ^= 0x20
        c.write_bytes(bytes(edited))
        res = verify_session(j)
        expected = next(n for n, size in pins if offset < size)
        assert (res.status, res.bad_line) == (TAMPERED, expected), offset
        assert res.problem == "cast_mismatch"
        assert c.name in (res.reason or "")


# -- whole-line edits ----------------------------------------------------------------------
def test_inserted_copy_of_a_line_fails_there(home: Path) -> None:
    sid = write_session(home, 3)
    j, _ = _paths(home, sid)
    lines = lines_of(j)
    write_lines(j, lines[:3] + [lines[1]] + lines[3:])
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 4, "broken_link")
    assert res.valid_lines == 3


def test_inserted_forged_line_with_a_valid_hash_fails(home: Path) -> None:
    sid = write_session(home, 3)
    j, _ = _paths(home, sid)
    lines = lines_of(j)
    prev = json.loads(lines[1])
    forged = seal(dict(prev, seq=3, command="rm -rf /", command_seq=9), prev["hash"])
    write_lines(j, lines[:2] + [dumps(forged) + b"\n"] + lines[2:])
    res = verify_session(j)
    assert res.status == TAMPERED
    assert res.bad_line == 4  # the forged line links; the next one no longer does
    assert res.problem == "broken_link"


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_deleted_line_fails_where_it_was(home: Path, k: int) -> None:
    sid = write_session(home, 3)
    j, _ = _paths(home, sid)
    lines = lines_of(j)
    write_lines(j, lines[: k - 1] + lines[k:])
    res = verify_session(j)
    assert (res.status, res.bad_line) == (TAMPERED, k)
    assert res.problem == "broken_link"


def test_deleting_the_last_lines_looks_like_a_crash(home: Path) -> None:
    """The documented limit (docs/TRUST.md): only an anchored final hash catches this."""
    sid = write_session(home, 3)
    j, _ = _paths(home, sid)
    full = verify_session(j)
    write_lines(j, lines_of(j)[:-2])
    res = verify_session(j)
    assert res.status == INCOMPLETE
    assert res.final_hash != full.final_hash  # ...which the anchor comparison exposes


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_swapped_lines_fail_at_the_first(home: Path, k: int) -> None:
    sid = write_session(home, 3)
    j, _ = _paths(home, sid)
    lines = lines_of(j)
    lines[k - 1], lines[k] = lines[k], lines[k - 1]
    write_lines(j, lines)
    res = verify_session(j)
    assert (res.status, res.bad_line) == (TAMPERED, k)


def test_truncated_middle_line_fails_there(home: Path) -> None:
    sid = write_session(home, 3)
    j, _ = _paths(home, sid)
    lines = lines_of(j)
    lines[2] = lines[2][:40] + b"\n"
    write_lines(j, lines)
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 3, "bad_json")


def test_truncated_last_line_is_reported_not_a_crash(home: Path) -> None:
    sid = write_session(home, 2)
    j, _ = _paths(home, sid)
    data = j.read_bytes()
    j.write_bytes(data[:-30])  # cut mid-way through session_end, newline gone
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 4, "partial_line")
    assert res.valid_lines == 3 and res.lines == 3
    assert "cut short" in (res.reason or "")


def test_partial_last_line_of_a_live_session_is_being_written(home: Path) -> None:
    sid = write_session(home, 2, complete=False)
    j, _ = _paths(home, sid)
    with open(j, "ab") as f:
        f.write(b'{"event_type":"terminal_ca')
    res = verify_session(j, alive=lambda start: start["session_id"] == sid)
    assert (res.status, res.ok) == (INCOMPLETE, True)
    assert verify_session(j).status == TAMPERED  # without a live recorder it is damage


def test_reformatted_line_with_same_values_fails(home: Path) -> None:
    sid = write_session(home, 2)
    j, _ = _paths(home, sid)
    lines = lines_of(j)
    lines[1] = json.dumps(json.loads(lines[1]), ensure_ascii=False).encode() + b"\n"  # spaces
    write_lines(j, lines)
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 2, "reformatted")


def test_lines_after_session_end_fail(home: Path) -> None:
    sid = write_session(home, 1)
    j, _ = _paths(home, sid)
    last = json.loads(lines_of(j)[-1])
    extra = seal(
        {"event_type": "marker", "session_id": sid, "seq": 4, "ts": last["ts"]}, last["hash"]
    )
    with open(j, "ab") as f:
        f.write(dumps(extra) + b"\n")
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 4, "after_end")


def test_first_line_must_be_session_start(home: Path) -> None:
    home.mkdir()
    p = home / "x.jsonl"
    sink = JsonlSink(p, "0000")
    sink.write({"event_type": "marker"})
    sink.close()
    res = verify_session(p)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 1, "first_line")


def test_line_from_another_session_fails(home: Path) -> None:
    sid = write_session(home, 2)
    j, _ = _paths(home, sid)
    lines = lines_of(j)
    rec = json.loads(lines[1])
    rec["session_id"] = "11111111-1111-1111-1111-111111111111"
    lines[1] = dumps(seal(rec, rec["prev_hash"])) + b"\n"
    write_lines(j, lines)
    res = verify_session(j)
    assert res.status == TAMPERED and res.bad_line in (2, 3)


def test_not_json_object(home: Path) -> None:
    home.mkdir()
    p = home / "x.jsonl"
    p.write_bytes(b"[1,2]\n")
    assert verify_session(p).problem == "bad_json"


def test_missing_hash(home: Path) -> None:
    home.mkdir()
    p = home / "x.jsonl"
    p.write_bytes(b'{"event_type":"session_start"}\n')
    res = verify_session(p)
    assert (res.problem, res.bad_line) == ("missing_hash", 1)


# -- the .cast -----------------------------------------------------------------------------
def test_truncated_cast_fails_at_the_first_command_it_no_longer_covers(home: Path) -> None:
    sid = write_session(home, 3)
    j, c = _paths(home, sid)
    sizes = [r["cast_bytes"] for r in map(json.loads, lines_of(j)) if "cast_bytes" in r]
    c.write_bytes(c.read_bytes()[: sizes[1] - 1])
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 3, "cast_short")
    assert res.valid_lines == 2


def test_bytes_appended_to_a_complete_cast_fail_at_session_end(home: Path) -> None:
    sid = write_session(home, 2)
    j, c = _paths(home, sid)
    with open(c, "ab") as f:
        f.write(b'[9.0, "o", "injected"]\n')
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 4, "cast_size")


def test_missing_cast_fails_at_the_first_line_pinning_it(home: Path) -> None:
    sid = write_session(home, 2)
    j, c = _paths(home, sid)
    c.unlink()
    res = verify_session(j)
    assert (res.status, res.bad_line, res.problem) == (TAMPERED, 2, "cast_missing")


def test_cast_bytes_after_a_cast_write_failure_are_tolerated(home: Path) -> None:
    """A .cast that failed mid-write (disk full) may hold bytes its last digest lacks."""
    warning = {"event_type": "warning", "code": "cast_write_failed", "message": "disk full"}
    sid = write_session(home, 1, extra_events=[warning])
    j, c = _paths(home, sid)
    with open(c, "ab") as f:
        f.write(b'[9.0, "o", "half')
    assert verify_session(j).status == INTACT


def test_earliest_problem_wins_between_chain_and_cast(home: Path) -> None:
    sid = write_session(home, 3)
    j, c = _paths(home, sid)
    lines = lines_of(j)
    write_lines(j, lines[:4] + [lines[4][:-20] + b"\n"])  # line 5 broken
    data = bytearray(c.read_bytes())
    data[-3] ^= 0x20  # and the .cast edited at its end: pinned first by line 4
    c.write_bytes(bytes(data))
    assert verify_session(j).bad_line == 4


# -- what the chain does not prove -----------------------------------------------------------
def test_a_fully_rebuilt_chain_passes_but_its_final_hash_changes(home: Path) -> None:
    """Documented limit: rewriting the whole file with a fresh chain is not detectable
    from the file alone; the anchored final hash is what exposes it."""
    sid = write_session(home, 2)
    j, _ = _paths(home, sid)
    before = verify_session(j).final_hash
    prev = GENESIS
    out = []
    for raw in lines_of(j):
        rec = json.loads(raw)
        if rec.get("command"):
            rec["command"] = "echo innocent"
        seal(rec, prev)
        prev = rec["hash"]
        out.append(dumps(rec) + b"\n")
    write_lines(j, out)
    res = verify_session(j)
    assert res.status == INTACT
    assert res.final_hash != before


def test_unreadable_file_is_reported(home: Path) -> None:
    (home / "x.jsonl").mkdir(parents=True)
    res = verify_session(home / "x.jsonl")
    assert (res.status, res.problem) == (TAMPERED, "unreadable")


def test_session_files_lists_jsonl_only(home: Path) -> None:
    a = write_session(home, 1)
    b = write_session(home, 1)
    names = {p.name for p in session_files(home / "sessions")}
    assert names == {f"{a}.jsonl", f"{b}.jsonl"}
    assert session_files(home / "nothing") == []


def test_non_utf8_path_in_a_record_still_verifies(home: Path) -> None:
    home.mkdir()
    p = home / "abcd.jsonl"
    sink = JsonlSink(p, "abcd")
    sink.write({"event_type": "session_start", "cwd": "/tmp/caf\udce9"})
    sink.close()
    assert verify_session(p).status == INCOMPLETE
