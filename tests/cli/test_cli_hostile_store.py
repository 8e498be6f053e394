"""The read side over stores real life and hostile hands produce: files whose hash chain
is intact but whose values are out of range or of the wrong type, an emptied .cast, times
out of range, and arguments holding terminal controls. Readers answer or say one line;
they never crash, and one bad file never hides the others."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfsession.cli import run
from cfsession.paths import cast_path, jsonl_path
from cfsession.records import utc_ts
from tests.sessions_factory import T0, Cmd, make_session


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _cli(cf_home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CFSESSION_HOME=str(cf_home))
    return subprocess.run([sys.executable, "-m", "cfsession", *argv], env=env, capture_output=True,
                          text=True, timeout=60)


def test_an_integer_beyond_64_bits_in_one_file_hides_nothing(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # JSON numbers have no range; SQLite's integers stop at 2**63 - 1.
    good = make_session(cf_home, [Cmd("echo good", "good-out\n")], name="good", started=T0)
    big = make_session(cf_home, [Cmd("echo big", "big-out\n", exit_code=10**30,
                                     extra={"command_seq": 10**20})],
                       name="big", started=T0 + 60, pid=10**25)
    code, out, err = _run(capsys, "list", "--json")
    assert code == 0, err
    assert {s["session_id"] for s in json.loads(out)} == {good, big}
    code, out, err = _run(capsys, "search", "big-out", "--json")
    assert code == 0 and [h["session_id"] for h in json.loads(out)] == [big], err
    code, out, err = _run(capsys, "show", big[:8], "--output")
    assert code == 0 and "echo big" in out and "big-out" in out, err
    code, out, err = _run(capsys, "stats", "--json")
    assert code == 0 and json.loads(out)["command_count"] == 2, err


def test_fields_of_the_wrong_type_still_show(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = make_session(cf_home, [Cmd("echo typed", "typed-out\n", cwd=7,  # type: ignore[arg-type]
                                     extra={"duration_ms": [1], "exit_code": "1",
                                            "command": ["echo typed"], "output": 123})],
                       cwd=7)  # type: ignore[arg-type]
    for argv in (("show", sid[:8]), ("show", sid[:8], "--output")):
        code, out, err = _run(capsys, *argv)
        assert code == 0 and "echo typed" in out, err
        assert "--output" not in argv or "123" in out
        assert "internal error" not in err


def test_times_past_year_9999_export_as_html(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 9999-12-31T23:59:59.999999Z is a valid RFC 3339 time, but as a float timestamp it
    # rounds up into year 10000, which datetime cannot hold.
    last = "9999-12-31T23:59:59.999999Z"
    sid = make_session(cf_home, [Cmd("echo late", "late-out\n",
                                     extra={"started_at": last, "ended_at": last})])
    code, out, err = _run(capsys, "export", sid[:8], "--format", "html")
    assert code == 0 and "echo late" in out, err
    # And the other end: in a time zone west of UTC, local time is before year 1.
    early = make_session(cf_home, [Cmd("echo early", "early-out\n")], started=T0 + 60)
    path = jsonl_path(early, cf_home)
    path.write_text(path.read_text().replace(utc_ts(T0 + 60), "0001-01-01T00:00:00Z"))
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        for argv in (("show", early[:8]), ("export", early[:8], "--format", "html"), ("list",), ("stats",)):
            code, out, err = _run(capsys, *argv)
            assert code == 0 and "internal error" not in err, err
    finally:
        os.environ.pop("TZ")
        time.tzset()


def test_an_emptied_cast_is_rebuilt_from_the_plain_output(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("echo kept", "kept-out\n")])
    cast_path(sid, cf_home).write_bytes(b"")  # e.g. the disk was full when the recorder opened it
    done = _cli(cf_home, "export", sid[:8], "--format", "asciicast", "-o", str(cf_home / "out.cast"))
    assert done.returncode == 0
    assert done.stderr.startswith("cfsession: warning: ") and "empty; rebuilt from the plain output" in done.stderr
    asciinema = shutil.which("asciinema")
    if asciinema is None:
        if os.environ.get("CI"):
            pytest.fail("asciinema is not installed but CI must test it (the test extra has it)")
        pytest.skip("asciinema not installed")
    played = subprocess.run([asciinema, "cat", str(cf_home / "out.cast")], capture_output=True, timeout=60)
    assert played.returncode == 0 and b"kept-out" in played.stdout
    for argv in (("replay", sid[:8], "--no-wait"), ("export", sid[:8], "--format", "html")):
        done = _cli(cf_home, *argv)
        assert done.returncode == 0 and "kept-out" in done.stdout
        assert "empty; rebuilt from the plain output" in done.stderr


def test_export_never_writes_over_a_recording(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("echo mine", "mine-out\n")])
    other = make_session(cf_home, [Cmd("echo other", "other-out\n")])
    files = {p: p.read_bytes() for p in (cf_home / "sessions").iterdir()}
    for fmt, target in (("text", cast_path(sid, cf_home)), ("asciicast", cast_path(sid, cf_home)),
                        ("jsonl", jsonl_path(other, cf_home)), ("markdown", cf_home / "sessions" / "new.md")):
        done = _cli(cf_home, "export", sid[:8], "--format", fmt, "-o", str(target))
        assert done.returncode == 1 and done.stderr.count("\n") == 1
        assert done.stderr.startswith(f"cfsession: cannot write {target}: it is in the session store")
    assert {p: p.read_bytes() for p in (cf_home / "sessions").iterdir()} == files
    assert _cli(cf_home, "verify", "--all").returncode == 0
    done = _cli(cf_home, "export", sid[:8], "--format", "text", "-o", str(cf_home / "mine.txt"))
    assert done.returncode == 0 and "mine-out" in (cf_home / "mine.txt").read_text()


def test_export_writes_through_links_fifos_and_devices(cf_home: Path, tmp_path: Path) -> None:
    # `-o /dev/stdout` or `-o /dev/null` (links and devices): renaming a finished file over
    # them would replace them, and as root /dev/null itself. Here the same kinds in tmp_path.
    import threading

    sid = make_session(cf_home, [Cmd("echo through", "through-out\n")])
    target = tmp_path / "notes.txt"
    target.write_text("old\n")
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "stdout").symlink_to("/dev/stdout")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    for out in ("link", "stdout", "fifo"):
        done = _cli(cf_home, "export", sid[:8], "--format", "text", "-o", str(tmp_path / out))
        assert done.returncode == 0, done.stderr
        if out == "stdout":
            assert "through-out" in done.stdout
    reader.join(timeout=60)
    assert got and b"through-out" in got[0]
    assert "through-out" in target.read_text()
    assert (tmp_path / "link").is_symlink() and (tmp_path / "stdout").is_symlink()
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfhome", "fifo", "link", "notes.txt", "stdout"]


def test_diff_of_a_seq_past_64_bits_is_not_found(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("echo a", "a\n"), Cmd("echo b", "b\n")])
    seq = 10**22
    done = _cli(cf_home, "diff", f"{sid[:8]}:{seq}", f"{sid[:8]}:1")
    assert done.returncode == 1
    assert done.stderr == (f"cfsession: command {seq} not found in session {sid} — "
                           f"run `cfsession show {sid[:8]}` to see its commands\n")


def test_a_limit_past_64_bits_means_all(cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sid = make_session(cf_home, [Cmd("echo a", "a\n")])
    for argv in (("list", "--json"), ("search", "a", "--json")):
        code, out, err = _run(capsys, *argv, "--limit", str(10**22))
        assert code == 0 and [r["session_id"] for r in json.loads(out)] == [sid], err


def test_verify_all_reports_what_is_not_a_file_and_checks_the_rest(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("echo a", "a\n")])
    sessions = cf_home / "sessions"
    os.mkfifo(sessions / "fifo.jsonl")  # opening it would wait for a writer forever
    (sessions / "zero.jsonl").symlink_to("/dev/zero")  # reading it would never end
    (sessions / "gone.jsonl").symlink_to(sessions / "deleted.jsonl")
    done = _cli(cf_home, "verify", "--all", "--json")
    assert done.returncode == 1
    report = {Path(s["path"]).name: s for s in json.loads(done.stdout)["sessions"]}
    assert report[f"{sid}.jsonl"]["status"] == "intact"
    for name, reason in (("fifo.jsonl", "not a regular file"), ("zero.jsonl", "not a regular file"),
                         ("gone.jsonl", "No such file or directory")):
        assert report[name]["status"] == "tampered" and report[name]["reason"] == f"cannot read {name}: {reason}"


def test_json_nested_past_the_stack_is_a_bad_line(cf_home: Path) -> None:
    good = make_session(cf_home, [Cmd("echo a", "a\n")])
    deep = make_session(cf_home, [Cmd("echo b", "b\n")])
    with jsonl_path(deep, cf_home).open("ab") as f:
        f.write(b"[" * 100_000 + b"\n")  # json.loads raises RecursionError, not ValueError
    done = _cli(cf_home, "verify", "--all", "--json")
    assert done.returncode == 1 and "internal error" not in done.stderr
    report = {s["session_id"]: s for s in json.loads(done.stdout)["sessions"]}
    assert report[good]["status"] == "intact"
    assert report[deep]["status"] == "tampered" and report[deep]["reason"] == "line 4 is not valid JSON (RecursionError)"
    done = _cli(cf_home, "show", deep[:8])
    assert done.returncode == 0 and "echo b" in done.stdout and "internal error" not in done.stderr


def test_a_read_only_store_left_open_to_others_still_reads(tmp_path: Path) -> None:
    store = tmp_path / "evidence"
    sid = make_session(store, [Cmd("echo kept", "kept-out\n")])
    store.chmod(0o755)  # copied with cp -r under umask 022: the reader would tighten it
    view = tmp_path / "ro"
    view.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "--bind", "-o", "ro", str(store), str(view)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and bind mounts for a real read-only file system")
    try:
        for argv, shown in ((("list",), sid[:8]), (("show", sid[:8], "--output"), "kept-out"),
                            (("search", "kept-out"), sid[:8]), (("export", sid[:8], "--format", "text"), "kept-out"),
                            (("stats",), "Commands 1")):
            done = _cli(view, *argv)
            assert done.returncode == 0 and shown in done.stdout, (argv, done.stderr)
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_an_emptied_cast_leaves_an_agent_the_recorded_output(cf_home: Path) -> None:
    from cfsession.mcp_tools import LocalStore

    kept = "1\n2\n[… 99996 lines elided …]\n99999\n100000\n"
    sid = make_session(cf_home, [Cmd("seq 100000", kept, extra={"output_truncated": True})])
    cast_path(sid, cf_home).write_bytes(b"")
    page = LocalStore(cf_home).get_output(sid, 1)
    assert page["text"] == kept and page["source"] == "record"


def test_a_word_inside_cjk_text_is_found(cf_home: Path) -> None:
    # CJK is written without spaces: the FTS5 tokenizer takes a whole run as one word.
    zh = make_session(cf_home, [Cmd("echo 你好世界", "你好世界 中文测试\n"), Cmd("ls", "無関係\n")])
    ja = make_session(cf_home, [Cmd("make", "エラーが発生しました: ファイルが見つかりません\n", exit_code=2)])
    for query, found in (("世界", [(zh, 1)]), ("发生", []), ("見つかり", [(ja, 1)]), ("中文 你好", [(zh, 1)])):
        done = _cli(cf_home, "search", "--json", query)
        assert done.returncode == 0, done.stderr
        hits = json.loads(done.stdout)
        assert [(h["session_id"], h["seq"]) for h in hits] == found
        for h in hits:
            assert any(f"**{w}**" in h["snippet"] for w in query.split()), h["snippet"]
    done = _cli(cf_home, "search", "--json", "--failed", "エラー")
    assert [h["session_id"] for h in json.loads(done.stdout)] == [ja]
    done = _cli(cf_home, "search", "--json", "--session", zh[:8], "見つかり")
    assert json.loads(done.stdout) == []
    done = _cli(cf_home, "search", "世界")
    assert done.returncode == 0 and zh[:8] in done.stdout and "No matches" not in done.stdout


@pytest.mark.parametrize("when", ["99999999d", "100000000w", "0001-01-01"])
def test_since_out_of_range_is_one_line(when: str, cf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_session(cf_home, [Cmd("ls")])
    for command in ("list", "stats"):
        code, out, err = _run(capsys, command, "--since", when)
        assert "internal error" not in err
        if code:
            assert code == 2 and err.startswith(f"cfsession: cannot read the time '{when}'")
            assert err.count("\n") == 1


def test_a_filter_that_matches_nothing_does_not_say_the_store_is_empty(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_session(cf_home, [Cmd("ls")], started=T0)
    for argv in (("--since", "2h"), ("--failed",)):
        code, out, _ = _run(capsys, "list", *argv)
        assert code == 0 and "No sessions yet" not in out and "No sessions match" in out


def test_input_quoted_in_an_error_shows_its_controls(cf_home: Path) -> None:
    make_session(cf_home, [Cmd("ls")])
    done = _cli(cf_home, "show", "\x1b]0;pwned\x07\x1b[2J\x9b31m")
    assert done.returncode == 2
    assert not any(c in done.stderr for c in ("\x1b", "\x07", "\x9b"))
    assert done.stderr.startswith("cfsession: '\\x1b]0;pwned\\x07") and done.stderr.count("\n") == 1
    done = _cli(cf_home, "search", "x\x1b]0;pwned\x07\"")  # the query is quoted back, as is SQLite's error
    assert done.returncode == 2 and "\x1b" not in done.stderr and "\\x1b]0;pwned" in done.stderr
    done = _cli(cf_home, "list", "--bogus\x1b]0;pwned\x07")
    assert done.returncode == 2 and "\x1b" not in done.stderr and "--bogus\\x1b]0;pwned" in done.stderr
