"""index: the SQLite cache catches up from the files, incrementally, and survives anything."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from cfsession import store
from cfsession.index import Index
from cfsession.paths import index_path, jsonl_path, sessions_dir
from cfsession.sinks.jsonl import JsonlSink
from tests.sessions_factory import T0, Cmd, append_lines, make_session


def _ids(ix: Index) -> list[str]:
    return [r["session_id"] for r in ix.sessions()]


def _capture(n: int, command: str, output: str = "", exit_code: int = 0) -> dict[str, object]:
    return {"event_type": "terminal_capture", "command_seq": n, "command": command,
            "output": output, "exit_code": exit_code, "cwd": "/w", "duration_ms": 1.0,
            "started_at": "2024-05-01T12:00:00.000000Z"}


def test_catch_up_lists_newest_first_with_counts(cf_home: Path) -> None:
    old = make_session(cf_home, [Cmd("ls"), Cmd("false", exit_code=1)], started=T0)
    new = make_session(cf_home, [Cmd("pwd")], started=T0 + 3600)
    with Index(cf_home) as ix:
        assert ix.catch_up() == 2
        assert _ids(ix) == [new, old]
        row = ix.session(old)
        assert row is not None
        assert (row["command_count"], row["failed_count"], row["complete"]) == (2, 1, 1)
        assert ix.catch_up() == 0  # nothing changed: nothing read
        assert [r["session_id"] for r in ix.sessions(failed=True)] == [old]
        assert [r["session_id"] for r in ix.sessions(since=T0 + 60)] == [new]
        assert len(ix.sessions(limit=1)) == 1
    assert oct(index_path(cf_home).stat().st_mode & 0o777) == "0o600"


def test_growing_file_is_read_incrementally(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("one")], complete=False)
    path = jsonl_path(sid, cf_home)
    with Index(cf_home) as ix:
        ix.catch_up()
        offset = ix.conn.execute("SELECT offset FROM files").fetchone()[0]
        assert offset == path.stat().st_size
        # A line being written right now (no newline yet) is not indexed...
        append_lines(path, b'{"event_type":"terminal_capture","session_id":"' + sid.encode()
                     + b'","command_seq":2,"command":"two","out')
        ix.catch_up()
        assert ix.session(sid)["command_count"] == 1  # type: ignore[index]
        # ...and once complete it is indexed exactly once, from where the last read stopped.
        append_lines(path, b'put":"zebra","exit_code":3}\n')
        assert ix.catch_up() == 1
        row = ix.session(sid)
        assert row is not None and (row["command_count"], row["failed_count"]) == (2, 1)
        assert [r["seq"] for r in ix.search("zebra")] == [2]
        assert ix.conn.execute("SELECT count(*) FROM commands").fetchone()[0] == 2


def test_trusted_directory_mtime_still_sees_live_files_grow(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("one")], complete=False)
    done = make_session(cf_home, [Cmd("x")])
    sdir = sessions_dir(cf_home)
    past = time.time() - 60
    os.utime(sdir, (past, past))  # an old directory mtime is trusted: the fast path runs
    with Index(cf_home) as ix:
        ix.catch_up()
        assert ix.conn.execute("SELECT value FROM meta").fetchone()[0] == sdir.stat().st_mtime_ns
        sink_line = store.parse_line(jsonl_path(sid, cf_home).read_bytes().splitlines()[-1])
        assert isinstance(sink_line, dict)
        append_lines(jsonl_path(sid, cf_home), b'{"event_type":"terminal_capture","command":"two"}\n')
        os.utime(sdir, (past, past))
        assert ix.catch_up() == 1
        assert ix.session(sid)["command_count"] == 2  # type: ignore[index]
        assert ix.session(done)["command_count"] == 1  # type: ignore[index]
        # A new file changes the directory mtime and is found.
        third = make_session(cf_home, [Cmd("y")])
        ix.catch_up()
        assert third in _ids(ix)


def test_deleted_rewritten_and_replaced_files(cf_home: Path) -> None:
    a = make_session(cf_home, [Cmd("alpha", "apple")])
    b = make_session(cf_home, [Cmd("beta", "banana"), Cmd("gamma")])
    with Index(cf_home) as ix:
        ix.catch_up()
        jsonl_path(a, cf_home).unlink()
        ix.catch_up()
        assert _ids(ix) == [b] and ix.search("apple") == []
        # Replaced by a shorter copy (write + rename, as editors and tools do): another
        # inode, so it is read again from the start, leaving no stale commands.
        path = jsonl_path(b, cf_home)
        lines = path.read_bytes().splitlines(keepends=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(lines[:2]))
        os.replace(tmp, path)
        ix.catch_up()
        assert ix.session(b)["command_count"] == 1  # type: ignore[index]
        assert ix.conn.execute("SELECT count(*) FROM commands_fts").fetchone()[0] == 1
        assert ix.session(b)["complete"] == 0  # type: ignore[index]
        # A live file rewritten in place (shrunk) is re-read too; a finished one needs reindex.
        path.write_bytes(b"".join(lines[:1]))
        ix.catch_up()
        assert ix.session(b)["command_count"] == 0  # type: ignore[index]
        c = make_session(cf_home, [Cmd("delta"), Cmd("epsilon")])
        ix.catch_up()
        cpath = jsonl_path(c, cf_home)
        cpath.write_bytes(b"".join(cpath.read_bytes().splitlines(keepends=True)[:2]))
        assert ix.reindex() == 2
        assert ix.session(c)["command_count"] == 1  # type: ignore[index]


def test_bad_files_are_warnings_and_everything_else_lists(cf_home: Path) -> None:
    good = make_session(cf_home, [Cmd("ls")])
    damaged = make_session(cf_home, [Cmd("ok1"), Cmd("ok2")], complete=False)
    append_lines(jsonl_path(damaged, cf_home), b"{oops\n",
                 b'{"event_type":"terminal_capture","command":"ok3"}\n', b'{"trunc')
    sdir = sessions_dir(cf_home)
    (sdir / "foreign.jsonl").write_text('{"hello": "world"}\n')
    (sdir / "empty.jsonl").write_text("")
    (sdir / "future.jsonl").write_text(
        '{"event_type":"session_start","schema_version":2,"session_id":"%s"}\n' % ("1" * 8 + "-1111-1111-1111-" + "1" * 12))
    (sdir / "copy.jsonl").write_bytes(jsonl_path(good, cf_home).read_bytes())
    (sdir / "notes.txt").write_text("ignored: not .jsonl")
    with Index(cf_home) as ix:
        ix.catch_up()
        assert set(_ids(ix)) == {good, damaged}
        assert ix.session(damaged)["command_count"] == 3  # type: ignore[index]
        problems = sorted(str(p) for p in ix.problems())
        names = {Path(p.split(":")[0]).name for p in problems}
        assert names == {"copy.jsonl", "empty.jsonl", "foreign.jsonl", "future.jsonl", f"{damaged}.jsonl"}
        assert f"{jsonl_path(damaged, cf_home)}:4: corrupt line" in "\n".join(problems)
        assert f"{jsonl_path(damaged, cf_home)}:6: truncated last line" in "\n".join(problems)
        assert any("newer than this cfsession" in p for p in problems)
        # Problems are repeated on every run (the files are still broken), not lost.
        ix.catch_up()
        assert sorted(str(p) for p in ix.problems()) == problems
        # An empty file that gets content is picked up and its warning goes away.
        (sdir / "empty.jsonl").unlink()
        ix.catch_up()
        assert not any("empty.jsonl" in str(p) for p in ix.problems())


def test_deleting_or_damaging_the_index_loses_nothing(cf_home: Path) -> None:
    ids = {make_session(cf_home, [Cmd("echo hi", "hi")]) for _ in range(3)}
    with Index(cf_home) as ix:
        ix.catch_up()
    for suffix in ("", "-wal", "-shm"):
        Path(str(index_path(cf_home)) + suffix).unlink(missing_ok=True)
    with Index(cf_home) as ix:
        ix.catch_up()
        assert set(_ids(ix)) == ids
    index_path(cf_home).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(str(index_path(cf_home)) + suffix).unlink(missing_ok=True)
    with Index(cf_home) as ix:
        ix.catch_up()
        assert set(_ids(ix)) == ids
        assert any("rebuilt" in str(n) for n in ix.problems())
        assert ix.reindex() == 3


def test_search_over_commands_and_output_with_filters(cf_home: Path) -> None:
    a = make_session(cf_home, [Cmd("make build", "compiling zebra.c\n", cwd="/src/app"),
                               Cmd("grep -r giraffe", "", exit_code=1, cwd="/src/app/sub")], started=T0)
    b = make_session(cf_home, [Cmd("cat zoo.txt", "a zebra and a lion\n", cwd="/srcx")], started=T0 + 10)
    with Index(cf_home) as ix:
        ix.catch_up()
        hits = ix.search("zebra")
        assert [(h["session_id"], h["seq"]) for h in hits] == [(b, 1), (a, 1)]  # newest first
        assert "\x02zebra\x03" in hits[0]["snippet"]
        assert [h["command"] for h in ix.search("giraffe")] == ["grep -r giraffe"]
        assert [h["session_id"] for h in ix.search("zebra", session_id=a)] == [a]
        assert ix.search("zebra", failed=True) == []
        assert [h["seq"] for h in ix.search("giraffe OR zebra", cwd="/src/app")] == [2, 1]
        assert [h["session_id"] for h in ix.search("zebra", cwd="/srcx/")] == [b]
        assert len(ix.search("zebra", limit=1)) == 1


_WORKER = """
import sys, time
from pathlib import Path
from cfsession.index import Index
home, me = Path(sys.argv[1]), sys.argv[2]
(home / f"ready{me}").touch()
deadline = time.monotonic() + 60
rounds = 0
while not (home / "done").exists() and time.monotonic() < deadline:
    with Index(home) as ix:
        ix.catch_up()
        ix.sessions(limit=5)
    rounds += 1
print(rounds)
"""


def test_concurrent_readers_while_a_recorder_appends(cf_home: Path) -> None:
    sid = make_session(cf_home, [], complete=False)
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(cf_home), str(i)],
                                stdout=subprocess.PIPE, text=True) for i in range(3)]
    deadline = time.monotonic() + 60
    while not all((cf_home / f"ready{i}").exists() for i in range(3)):
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    sink = JsonlSink(jsonl_path(sid, cf_home), sid)  # the real sink appending, as the recorder does
    total = 150
    for n in range(1, total + 1):
        sink.write(_capture(n, f"cmd{n}", f"out{n}"))
        time.sleep(0.002)  # let the readers interleave with the writes
    sink.close()
    (cf_home / "done").touch()
    for w in workers:
        out, _ = w.communicate(timeout=60)
        assert w.returncode == 0 and int(out) > 0
    with Index(cf_home) as ix:
        ix.catch_up()
        assert ix.session(sid)["command_count"] == total  # type: ignore[index]
        seqs = [r[0] for r in ix.conn.execute("SELECT seq FROM commands ORDER BY seq")]
        assert seqs == list(range(1, total + 1))  # every command exactly once
        assert ix.conn.execute("SELECT count(*) FROM commands_fts").fetchone()[0] == total


def test_file_removed_between_scan_and_read_is_just_gone(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("ls")])
    path = jsonl_path(sid, cf_home)
    st = path.stat()
    path.unlink()  # what a concurrent `rm` does after the scandir saw the name
    with Index(cf_home) as ix, ix._write():
        ix._read_file(path.name, st, None, 1)
    with Index(cf_home) as ix:
        assert ix.problems() == [] and ix.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 0


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    from cfsession import api

    home = tmp_path / "nowhere"
    assert api.list_sessions(home=home) == [] and api.search("x", home=home) == []
    assert not home.exists()
