"""export: asciicast v2/v3 exactly per ANCHORS.md §5, transcripts sanitised, jsonl byte-exact."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cfsession import export, store
from cfsession.paths import cast_path, jsonl_path
from tests.sessions_factory import Cmd, append_lines, make_session

EVIL = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;pwned\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"
CMDS = [
    Cmd("echo hello", "hello\n"),
    Cmd("ls /nope", "ls: cannot access '/nope': No such file or directory\n", exit_code=2),
    Cmd("printf evil", f"before{EVIL}after\n", raw=f"before{EVIL}after\r\n"),
    Cmd("for i in 1 2\ndo echo $i\ndone", "1\n2\n"),
    Cmd(None, "hidden output\n"),
]


def _export(home: Path, sid: str, fmt: str, warnings: list[store.StoreWarning] | None = None) -> str:
    loaded = store.load_session(jsonl_path(sid, home), keep_raw=True)
    return b"".join(export.export(loaded, fmt, cast_path(sid, home), warnings)).decode()


def _asciinema_cat(path: Path) -> str:
    exe = shutil.which("asciinema")
    assert exe, "asciinema 2.4 is in the test extra"
    done = subprocess.run([exe, "cat", str(path)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def test_asciicast_v2_is_exact_and_asciinema_reads_it(cf_home: Path, tmp_path: Path) -> None:
    sid = make_session(cf_home, CMDS, cols=100, rows=30)
    text = _export(cf_home, sid, "asciicast")
    lines = text.split("\n")
    assert lines[-1] == "" and "" not in lines[:-1]  # newline-terminated, never a blank line
    header = json.loads(lines[0])
    assert header["version"] == 2 and header["width"] == 100 and header["height"] == 30
    assert isinstance(header["timestamp"], int)
    assert header["env"] == {"SHELL": "/bin/bash", "TERM": "xterm-256color"}
    events = [json.loads(line) for line in lines[1:-1]]
    assert all(len(e) == 3 and isinstance(e[0], float) and e[1] in "omri" for e in events)
    times = [e[0] for e in events]
    assert times == sorted(times)
    markers = [e[2] for e in events if e[1] == "m"]
    assert markers == ["$ echo hello", "$ ls /nope", "$ printf evil",
                       "$ for i in 1 2\ndo echo $i\ndone", "$ "]
    out = tmp_path / "s.cast"
    out.write_text(text)
    played = _asciinema_cat(out)
    assert "hello" in played and "No such file or directory" in played


def test_missing_cast_is_rebuilt_from_plain_output(cf_home: Path, tmp_path: Path) -> None:
    sid = make_session(cf_home, CMDS[:2])
    cast_path(sid, cf_home).unlink()
    warnings: list[store.StoreWarning] = []
    text = _export(cf_home, sid, "asciicast", warnings)
    assert [w.message for w in warnings] == ["missing; rebuilt from the plain output"]
    events = [json.loads(line) for line in text.splitlines()[1:]]
    assert [e[2] for e in events if e[1] == "m"] == ["$ echo hello", "$ ls /nope"]
    out = tmp_path / "r.cast"
    out.write_text(text)
    assert "$ ls /nope\r\nls: cannot access" in _asciinema_cat(out)


def test_cast_without_markers_gets_them_from_the_jsonl(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:2])
    path = cast_path(sid, cf_home)
    kept = [line for line in path.read_text().splitlines() if '"m"' not in line]
    path.write_text("\n".join(kept) + "\n")
    events = [json.loads(line) for line in _export(cf_home, sid, "asciicast").splitlines()[1:]]
    marks = [(e[0], e[2]) for e in events if e[1] == "m"]
    loaded = store.load_session(jsonl_path(sid, cf_home))
    assert marks == [(c["cast_start"], f"$ {c['command']}") for c in loaded.commands]
    # A marker sits before the output of its command.
    first = events.index([marks[0][0], "m", marks[0][1]])
    assert events[first + 1][1] == "o" and events[first + 1][0] >= marks[0][0]


def test_asciicast_v3_intervals_error_diffusion_and_exit(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:2], exit_code=3)
    lines = _export(cf_home, sid, "asciicast-v3").splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 3 and header["term"]["cols"] == 80 and header["term"]["rows"] == 24
    assert header["term"]["type"] == "xterm-256color" and "width" not in header
    events = [json.loads(line) for line in lines[1:]]
    assert events[-1][1:] == ["x", "3"] and [e[1] for e in events].count("x") == 1
    assert all(e[0] >= 0 for e in events)
    _, frames, _ = store.read_cast(cast_path(sid, cf_home))
    # Absolute time of every event == running sum of intervals (to the millisecond).
    total = 0
    for e, (t, _code, _data) in zip(events, frames, strict=False):
        total += round(e[0] * 1000)
        assert total == round(t * 1000)


def test_v3_rounding_does_not_drift() -> None:
    frames = [(i * 0.0014, "o", "x") for i in range(1001)]  # 1.4 ms apart: each rounds to 1 ms
    header = {"version": 2, "width": 80, "height": 24, "env": {}}
    lines = list(export.asciicast_v3(header, frames, exit_code=0, end_time=1.4))
    intervals = [json.loads(line)[0] for line in lines[1:-1]]
    assert round(sum(intervals), 3) == 1.4  # naive per-interval rounding would give 1.0


def test_text_transcript(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS)
    text = _export(cf_home, sid, "text")
    assert text.startswith("$ echo hello\nhello\n\n$ ls /nope\nls: cannot access")
    assert "No such file or directory\n[exit 2]\n" in text
    assert "[exit 0]" not in text and text.count("[exit") == 1
    assert "$ for i in 1 2\n> do echo $i\n> done\n1\n2\n" in text
    assert "$ (command not recorded)\nhidden output\n" in text
    assert "\x1b" not in text and "\x07" not in text and "beforelinkafter" in text


def test_markdown_transcript_fences_and_sanitising(cf_home: Path) -> None:
    cmds = [Cmd("cat README.md", "```python\nprint(1)\n```\n"), Cmd("false", exit_code=1),
            Cmd("sleep 2", duration=2.0), Cmd("printf evil", f"x{EVIL}y\n")]
    sid = make_session(cf_home, cmds, name="my *demo*")
    md = _export(cf_home, sid, "markdown")
    assert md.startswith("# my \\*demo\\*\n")
    assert f"- **Session:** {sid}" in md and "- **Commands:** 4 (1 failed)" in md
    assert "````console\n$ cat README.md\n```python\nprint(1)\n```\n````\n" in md
    assert "```console\n$ false\n```\n\n*exit 1*\n" in md
    assert "*2.0 s*" in md
    assert "\x1b" not in md and "\x07" not in md


def test_jsonl_export_is_the_valid_lines_byte_exact(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:2], complete=False)
    path = jsonl_path(sid, cf_home)
    original = path.read_bytes()
    append_lines(path, b"{corrupt\n", b'{"event_type":"trun')
    assert _export(cf_home, sid, "jsonl").encode() == original


def test_unknown_format(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:1])
    with pytest.raises(ValueError):
        _export(cf_home, sid, "gif")
