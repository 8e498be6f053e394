"""store: reading session files back, and never crashing on damaged ones."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from cfsession import store
from cfsession.errors import SchemaError, UsageError
from cfsession.paths import cast_path, jsonl_path, sessions_dir
from cfsession.records import utc_ts
from tests.sessions_factory import DEAD_PID, Cmd, append_lines, make_session

CMDS = [Cmd("ls", "a\nb\n"), Cmd("false", "", exit_code=1), Cmd(None, "secret-free\n")]


def test_load_session_reads_start_commands_and_end(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS, name="demo")
    loaded = store.load_session(jsonl_path(sid, cf_home))
    assert loaded.session_id == sid
    assert loaded.start["name"] == "demo"
    assert [c["command"] for c in loaded.commands] == ["ls", "false", None]
    assert loaded.end is not None and loaded.end["exit_code"] == 0
    assert loaded.warnings == [] and loaded.tail == 0
    summary = store.summarise(loaded)
    assert (summary["command_count"], summary["failed_count"], summary["complete"]) == (3, 1, True)


def test_corrupt_line_is_a_warning_naming_file_and_line(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:1], complete=False)
    path = jsonl_path(sid, cf_home)
    append_lines(path, b"{not json\n", b"[1, 2]\n")
    loaded = store.load_session(path)
    assert [(w.line, w.message.split(" (")[0]) for w in loaded.warnings] == [
        (3, "corrupt line"), (4, "not an event")]
    assert str(loaded.warnings[0]).startswith(f"{path}:3: ")
    assert len(loaded.commands) == 1


def test_truncated_last_line_is_left_as_tail(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:2], complete=False)
    path = jsonl_path(sid, cf_home)
    append_lines(path, b'{"event_type": "terminal_capture", "comm')
    loaded = store.load_session(path)
    assert loaded.tail == len(b'{"event_type": "terminal_capture", "comm')
    assert loaded.lines == 3 and len(loaded.commands) == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"hello world\n", "not a cfsession session file"),
        (json.dumps({"event_type": "session_start", "schema_version": 7,
                     "session_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}).encode() + b"\n",
         "schema_version 7 is newer"),
        (json.dumps({"event_type": "session_start", "session_id": "x"}).encode() + b"\n",
         "no schema_version"),
        (b'{"event_type": "session_st', "truncated session_start"),
    ],
)
def test_unusable_files_raise_schema_error_naming_the_file(
    cf_home: Path, content: bytes, expected: str
) -> None:
    path = sessions_dir(cf_home) / "odd.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(SchemaError) as err:
        store.load_session(path)
    assert f"{path}:1: " in err.value.message and expected in err.value.message


def test_line_reader_joins_lines_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "CHUNK", 7)
    path = tmp_path / "f"
    lines = [b"x" * n for n in (0, 3, 7, 8, 20, 1)]
    path.write_bytes(b"\n".join(lines) + b"\ntail")
    reader = store.LineReader(path)
    got = list(reader)
    assert [line for line, _ in got] == lines
    assert got[-1][1] == len(b"\n".join(lines)) + 1 and reader.tail == 4
    again = store.LineReader(path, offset=got[2][1])
    assert [line for line, _ in again] == lines[3:]


def test_parse_id_query() -> None:
    guid = "0123abcd-0000-4000-8000-00000000abcd"
    assert store.parse_id_query("last") == ("last", "")
    assert store.parse_id_query(guid.upper()) == ("full", guid)
    assert store.parse_id_query("0123") == ("prefix", "0123")
    assert store.parse_id_query("0123abcd-00") == ("prefix", "0123abcd-00")
    for bad in ("012", "xyz1", "", "../etc"):
        with pytest.raises(UsageError):
            store.parse_id_query(bad)


def test_status_complete_incomplete_recording() -> None:
    now = utc_ts(time.time())
    here = socket.gethostname()
    assert store.status(True, DEAD_PID, here, now) == "complete"
    assert store.status(False, DEAD_PID, here, now) == "incomplete"
    assert store.status(False, os.getpid(), here, now) == "recording"
    # Another machine's recorder cannot be checked from here.
    assert store.status(False, os.getpid(), "some-other-host.invalid", now) == "incomplete"
    # Our pid, but the session started long before this process existed: a reused pid.
    assert store.status(False, os.getpid(), here, "2001-01-01T00:00:00.000000Z") == "incomplete"


def test_program_of() -> None:
    assert store.program_of("git push origin") == "git"
    assert store.program_of("FOO=1 BAR=2 /usr/bin/make -j4") == "make"
    assert store.program_of("  ls") == "ls"
    assert store.program_of("") is None and store.program_of(None) is None
    assert store.program_of("--x=1 y") == "--x=1"


def test_read_cast_tolerates_damage(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:1])
    path = cast_path(sid, cf_home)
    append_lines(path, b"garbage\n", b'[0.5, "r", "80 x 24"]\n', b'[0.1, "o", "late"]\n', b"\n",
                 b'[9.0, "o", "cut')
    header, frames, warnings = store.read_cast(path)
    assert header["version"] == 2
    times = [t for t, _, _ in frames]
    assert times == sorted(times)
    assert frames[-1][2] == "late" and frames[-1][0] == times[-2]  # clamped, not reordered
    assert [w.message.split(" (")[0].split(",")[0] for w in warnings] == [
        "corrupt line", "not an asciicast event", "truncated last line"]
