"""``cfsession verify`` as a person and a script use it: exit codes, the named line, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cfsession.cli import run
from cfsession.paths import cast_path, jsonl_path, sessions_dir
from tests.trust_factory import lines_of, write_lines, write_session


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_is_the_last_session(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_session(cf_home, 1)
    sid = write_session(cf_home, 2)
    os.utime(jsonl_path(sid, cf_home))  # newest file too, whatever the clock granularity
    code, out, err = _run(capsys, "verify")
    assert (code, err) == (0, "")
    assert f"✓ {sid}  intact  4 lines, 3 .cast digests" in out
    final = json.loads(lines_of(jsonl_path(sid, cf_home))[-1])["hash"]
    assert f"final hash {final}" in out


@pytest.mark.parametrize("how", ["full", "prefix", "upper"])
def test_id_forms(cf_home: Path, capsys: pytest.CaptureFixture[str], how: str) -> None:
    sid = write_session(cf_home, 1)
    query = {"full": sid, "prefix": sid[:6], "upper": sid[:8].upper()}[how]
    code, out, _ = _run(capsys, "verify", query)
    assert code == 0 and sid in out


def test_incomplete_passes_and_says_so(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = write_session(cf_home, 2, complete=False)
    code, out, err = _run(capsys, "verify", sid)
    assert (code, err) == (0, "")
    assert "incomplete" in out and "intact up to line 3" in out


def test_all_reports_every_session(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = [write_session(cf_home, 1), write_session(cf_home, 2, complete=False)]
    code, out, _ = _run(capsys, "verify", "--all")
    assert code == 0
    assert all(s in out for s in ids)
    assert "2 sessions: 2 ok, 0 tampered" in out


# -- tampering: each case fails, names the file and the first bad line -----------------------
def _edit_byte(line_no: int) -> Callable[[Path, Path], int]:
    def tamper(j: Path, c: Path) -> int:
        lines = lines_of(j)
        line = bytearray(lines[line_no - 1])
        line[len(line) // 2] ^= 0x01
        lines[line_no - 1] = bytes(line)
        write_lines(j, lines)
        return line_no

    return tamper


def _insert(j: Path, c: Path) -> int:
    lines = lines_of(j)
    write_lines(j, lines[:2] + [lines[1]] + lines[2:])
    return 3


def _delete(j: Path, c: Path) -> int:
    lines = lines_of(j)
    write_lines(j, lines[:2] + lines[3:])
    return 3


def _reorder(j: Path, c: Path) -> int:
    lines = lines_of(j)
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(j, lines)
    return 2


def _truncate_line(j: Path, c: Path) -> int:
    lines = lines_of(j)
    lines[2] = lines[2][:50] + b"\n"
    write_lines(j, lines)
    return 3


def _truncate_last_line(j: Path, c: Path) -> int:
    j.write_bytes(j.read_bytes()[:-10])
    return len(lines_of(j))


def _modify_cast(j: Path, c: Path) -> int:
    data = c.read_bytes()
    c.write_bytes(data.replace(b"line 2", b"line 9"))
    return 3  # the first command pinning those bytes is command 2, on line 3


def _truncate_cast(j: Path, c: Path) -> int:
    data = c.read_bytes()[:-5]
    c.write_bytes(data)
    pins = [json.loads(raw).get("cast_bytes") for raw in lines_of(j)]
    return next(n for n, size in enumerate(pins, 1) if size is not None and size > len(data))


@pytest.mark.parametrize(
    "tamper",
    [
        *(_edit_byte(n) for n in range(1, 6)),
        _insert,
        _delete,
        _reorder,
        _truncate_line,
        _truncate_last_line,
        _modify_cast,
        _truncate_cast,
    ],
)
def test_tampering_fails_and_names_the_line(
    cf_home: Path, capsys: pytest.CaptureFixture[str], tamper: Callable[[Path, Path], int]
) -> None:
    sid = write_session(cf_home, 3)
    j = jsonl_path(sid, cf_home)
    line = tamper(j, cast_path(sid, cf_home))
    code, out, err = _run(capsys, "verify", sid)
    assert code == 1
    assert f"TAMPERED  {j}:{line}:" in out
    assert err.startswith(f"cfsession: verification failed: {j}: line {line} ")
    assert err.count("\n") == 1 and " — " in err


def test_all_goes_on_after_a_tampered_session_and_exits_1(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_session(cf_home, 1)
    bad = write_session(cf_home, 2)
    _delete(jsonl_path(bad, cf_home), cast_path(bad, cf_home))
    code, out, err = _run(capsys, "verify", "--all")
    assert code == 1
    assert f"✓ {good}" in out and f"✗ {bad}" in out
    assert "2 sessions: 1 ok, 1 tampered" in out
    assert str(jsonl_path(bad, cf_home)) in err


def test_json(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_session(cf_home, 1)
    bad = write_session(cf_home, 2)
    _reorder(jsonl_path(bad, cf_home), cast_path(bad, cf_home))
    code, out, err = _run(capsys, "verify", "--all", "--json")
    doc = json.loads(out)
    assert code == 1 and err.startswith("cfsession: verification failed")
    assert (doc["ok"], doc["checked"], doc["intact"], doc["tampered"]) == (False, 2, 1, 1)
    by_id = {s["session_id"]: s for s in doc["sessions"]}
    assert by_id[good]["status"] == "intact" and by_id[good]["ok"] is True
    assert (by_id[bad]["status"], by_id[bad]["bad_line"]) == ("tampered", 2)
    assert by_id[bad]["problem"] == "broken_link"


def test_json_single_intact(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = write_session(cf_home, 1)
    code, out, _ = _run(capsys, "verify", sid, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    assert (
        doc["sessions"][0]["final_hash"]
        == json.loads(lines_of(jsonl_path(sid, cf_home))[-1])["hash"]
    )


# -- errors --------------------------------------------------------------------------------
def test_not_found(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_session(cf_home, 1)
    code, _, err = _run(capsys, "verify", "ffffffff")
    assert code == 1
    assert err == "cfsession: session ffffffff not found — run `cfsession list` to see the ids\n"


def test_ambiguous_prefix(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_session(cf_home, 1, session_id="abcd1111-0000-4000-8000-000000000001")
    write_session(cf_home, 1, session_id="abcd2222-0000-4000-8000-000000000002")
    code, _, err = _run(capsys, "verify", "abcd")
    assert code == 1
    assert err.startswith("cfsession: 'abcd' matches 2 sessions") and "give more of the id" in err
    assert _run(capsys, "verify", "abcd1")[0] == 0


def test_bad_id_and_both_forms_are_usage_errors(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = write_session(cf_home, 1)
    assert _run(capsys, "verify", "xy")[0] == 2
    code, _, err = _run(capsys, "verify", sid, "--all")
    assert code == 2 and "not both" in err


def test_empty_store(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "verify")
    assert code == 1 and "no sessions recorded yet" in err
    code, out, _ = _run(capsys, "verify", "--all")
    assert code == 0 and "no sessions to verify" in out


def test_hostile_file_name_is_sanitised(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = write_session(cf_home, 1)
    evil = sessions_dir(cf_home) / "x\x1b]52;c;Zm9v\x07.jsonl"
    evil.write_bytes(jsonl_path(sid, cf_home).read_bytes()[:-3])
    code, out, err = _run(capsys, "verify", "--all")
    assert code == 1
    assert "\x1b" not in out + err and "\x07" not in out + err


def test_console_script_exit_codes(cf_home: Path) -> None:
    """The real entry point, as a CI job would call it."""
    sid = write_session(cf_home, 2)
    exe = [sys.executable, "-m", "cfsession", "verify", "--all"]
    env = dict(os.environ, CFSESSION_HOME=str(cf_home))
    ok = subprocess.run(exe, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    _delete(jsonl_path(sid, cf_home), cast_path(sid, cf_home))
    bad = subprocess.run(exe, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "line 3" in bad.stderr
