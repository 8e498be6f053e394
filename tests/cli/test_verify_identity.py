"""``verify`` holds a session's files to the session they claim to be: another session's
files copied over them, lines cut from the end or a rebuilt chain no longer pass."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from cfsession.anchor import anchor_path, read_anchor
from cfsession.cli import run
from cfsession.integrity import GENESIS
from cfsession.paths import cast_path, jsonl_path
from cfsession.records import dumps
from cfsession.sinks.jsonl import sealed
from tests.trust_factory import lines_of, write_lines, write_session


def _verify(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = run(["verify", *argv, "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def _problem(doc: dict) -> str | None:
    return doc["sessions"][0]["problem"]


@pytest.mark.parametrize("anchored", [False, True])
def test_another_sessions_files_copied_over_are_caught(
    cf_home: Path, capsys: pytest.CaptureFixture[str], anchored: bool
) -> None:
    a = write_session(cf_home, 2, anchor=anchored)
    b = write_session(cf_home, 3, anchor=anchored)
    shutil.copyfile(jsonl_path(a, cf_home), jsonl_path(b, cf_home))
    shutil.copyfile(cast_path(a, cf_home), cast_path(b, cf_home))
    code, doc = _verify(capsys, b)
    assert code == 1 and _problem(doc) == "wrong_session" and doc["sessions"][0]["bad_line"] == 1
    code, doc = _verify(capsys, "--all")
    assert code == 1 and doc["tampered"] == 1 and doc["intact"] == 1


def test_another_sessions_cast_alone_is_named(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_session(cf_home, 2)
    b = write_session(cf_home, 2)
    shutil.copyfile(cast_path(a, cf_home), cast_path(b, cf_home))
    code, doc = _verify(capsys, b)
    assert code == 1 and doc["sessions"][0]["bad_line"] == 1
    assert _problem(doc) == "wrong_cast" and a in doc["sessions"][0]["reason"]


def test_lines_cut_from_the_end_are_caught_by_the_anchor(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = write_session(cf_home, 3, anchor=True)
    lines = lines_of(jsonl_path(sid, cf_home))
    write_lines(jsonl_path(sid, cf_home), lines[:-2])  # session_end and the last command
    code, doc = _verify(capsys, sid)
    assert code == 1 and _problem(doc) == "cut_short" and doc["sessions"][0]["bad_line"] == 4
    # Without the anchor the same file reads as a crashed session, as before.
    anchor_path(sid, cf_home).unlink()
    code, doc = _verify(capsys, sid)
    assert code == 0 and doc["sessions"][0]["status"] == "incomplete"


def _rebuild(path: Path, edit_line: int, field: str, value: object) -> None:
    """Edit one line and recompute the chain from there, as someone with write access can."""
    lines = [json.loads(x) for x in lines_of(path)]
    lines[edit_line - 1][field] = value
    prev = GENESIS
    out = []
    for rec in lines:
        rec = sealed(rec, prev)
        prev = rec["hash"]
        out.append(dumps(rec) + b"\n")
    write_lines(path, out)


def test_a_rebuilt_chain_is_caught_by_the_anchor(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = write_session(cf_home, 3, anchor=True)
    _rebuild(jsonl_path(sid, cf_home), 3, "command", "echo innocent")
    code, doc = _verify(capsys, sid)
    assert code == 1 and _problem(doc) == "rebuilt" and doc["sessions"][0]["anchored"]
    sid2 = write_session(cf_home, 3, anchor=True)
    _rebuild(jsonl_path(sid2, cf_home), 1, "name", "other")
    code, doc = _verify(capsys, sid2)
    assert code == 1 and _problem(doc) == "replaced" and doc["sessions"][0]["bad_line"] == 1


def test_a_session_whose_files_were_deleted_is_reported_by_verify_all(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = write_session(cf_home, 1, anchor=True)
    gone = write_session(cf_home, 2, anchor=True)
    jsonl_path(gone, cf_home).unlink()
    cast_path(gone, cf_home).unlink()
    code, doc = _verify(capsys, "--all")
    assert code == 1 and doc["checked"] == 2 and doc["intact"] == 1
    (missing,) = [s for s in doc["sessions"] if s["status"] == "tampered"]
    assert missing["session_id"] == gone and missing["problem"] == "missing"
    assert keep in {s["session_id"] for s in doc["sessions"]}


def test_the_anchor_follows_the_chain_and_is_private(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = write_session(cf_home, 3, anchor=True)
    lines = [json.loads(x) for x in lines_of(jsonl_path(sid, cf_home))]
    a = read_anchor(anchor_path(sid, cf_home))
    assert a is not None and a.session_id == sid
    assert (a.first_hash, a.seq, a.hash) == (lines[0]["hash"], len(lines), lines[-1]["hash"])
    p = anchor_path(sid, cf_home)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600 and stat.S_IMODE(p.parent.stat().st_mode) == 0o700
    code, doc = _verify(capsys, sid)
    assert code == 0 and doc["sessions"][0]["anchored"] and doc["sessions"][0]["status"] == "intact"


def test_a_damaged_anchor_is_no_anchor_and_a_new_chain_makes_a_new_one(tmp_path: Path) -> None:
    from cfsession.anchor import AnchorWriter

    path = tmp_path / "anchors" / "s.anchor"
    w = AnchorWriter(path, "s")
    w.note(1, "a" * 64)
    w.note(2, "b" * 64)
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"seq":2', b'"seq":9'))  # a torn or edited record
    assert read_anchor(path, tries=2) is None
    shutil.rmtree(tmp_path / "anchors")  # the store deleted while recording
    w.note(1, "c" * 64)  # the sink starts a new chain in a new file
    w.note(2, "d" * 64)
    w.close()
    a = read_anchor(path)
    assert a is not None and (a.first_hash, a.seq, a.hash) == ("c" * 64, 2, "d" * 64)
