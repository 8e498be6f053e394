"""export --format html without a browser: escaping, policy, windowing of big outputs, timing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cfsession import export_html, html_cast, store
from cfsession.paths import cast_path, jsonl_path
from tests.sessions_factory import Cmd, make_session

XSS = "<img src=x onerror=alert(1)>"
CMDS = [
    Cmd("echo hello", "hello\n"),
    Cmd(f"echo '{XSS}' </script><!--", f"{XSS} </script>\n", exit_code=0),
    Cmd("ls /nope", "ls: cannot access '/nope'\n", exit_code=2),
    Cmd("sleep 100", "", duration=100.0, gap=0.5, exit_code=130),
    Cmd("printf '\\x1b]52;c;eA==\\x07'", "\x1b]52;c;eA==\x07ok\n", gap=30.0),
]


def _page(home: Path, sid: str, **kw: object) -> str:
    loaded = store.load_session(jsonl_path(sid, home))
    return "".join(export_html.page(loaded, cast_path(sid, home), [], **kw))  # type: ignore[arg-type]


def _cast(text: str) -> list[list[object]]:
    block = text.split('<script type="application/x-asciicast" id="cast">', 1)[1].split("</script>", 1)[0]
    lines = block.splitlines()
    assert json.loads(lines[0])["version"] == 2
    return [json.loads(line) for line in lines[1:]]


def test_recorded_strings_are_escaped_everywhere(cf_home: Path) -> None:
    text = _page(cf_home, make_session(cf_home, CMDS))
    assert XSS not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    # Only our own four script tags open or close: none from the recording.
    assert text.count("<script") == 3 and text.count("</script>") == 3
    assert "<!--" not in text.split("<script>")[0]
    assert "\x1b" not in text.split('id="cast"')[0]  # the list is sanitised; the cast keeps them
    out = "".join(str(e[2]) for e in _cast(text) if e[1] == "o")
    assert XSS in out and "\x1b]52" in out  # the player gets the real stream, as data


def test_policy_hashes_match_the_inline_blocks(cf_home: Path) -> None:
    text = _page(cf_home, make_session(cf_home, CMDS))
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    styles = re.findall(r"<style>(.*?)</style>", text, re.S)
    assert len(scripts) == 2 and len(styles) == 1

    def h(s: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"

    policy = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"].split() == [h(scripts[0]), h(scripts[1]), "'wasm-unsafe-eval'"]
    assert policy["style-src"] == h(styles[0])


def test_long_pauses_are_shortened_and_the_list_knows_the_played_times(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS)
    text = _page(cf_home, sid, idle_limit=2.0)
    events = _cast(text)
    times = [float(e[0]) for e in events]  # type: ignore[arg-type]
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 2.0 + 1e-6
    starts = [float(x) for x in re.findall(r'data-t="([0-9.]+)"', text)]
    markers = [float(e[0]) for e in events if e[1] == "m"]  # type: ignore[arg-type]
    assert starts == pytest.approx(markers, abs=0.002)
    assert starts[4] < 100  # recorded at ~131 s; played after two 2-second pauses
    full = _page(cf_home, sid, idle_limit=None)
    assert float(re.findall(r'data-t="([0-9.]+)"', full)[4]) > 130


def test_fair_shares_keep_small_outputs_whole() -> None:
    assert html_cast.fair_shares([10, 20], 100) == [10, 20]
    assert html_cast.fair_shares([10, 1000, 5000], 1010) == [10, 500, 500]
    got = html_cast.fair_shares([3, 7, 9000, 12000, 0], 6010)
    assert got[:2] == [3, 7] and got[2] == got[3] and sum(got) <= 6010


def test_big_output_keeps_head_and_tail_and_says_what_is_left_out(cf_home: Path) -> None:
    big = "".join(f"line {i:06d}\n" for i in range(20000))  # 240 kB
    sid = make_session(cf_home, [Cmd("echo small", "small\n"), Cmd("seq", big), Cmd("echo after", "after\n")])
    text = _page(cf_home, sid, budget=20_000)
    out = "".join(str(e[2]) for e in _cast(text) if e[1] == "o")
    assert "small" in out and "after" in out
    assert "line 000000" in out and "line 019999" in out  # head and tail of the big one
    assert "line 010000" not in out
    assert "of output left out of this page" in out and out.count("left out of this page") == 1
    assert len(out) < 25_000
    assert "This page holds" in text
    whole = _page(cf_home, sid)
    assert "left out" not in whole and "line 010000" in whole


def test_keystrokes_never_reach_the_page(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:1])
    with open(cast_path(sid, cf_home), "a", encoding="utf-8") as f:
        f.write(json.dumps([5.0, "i", "hunter2"]) + "\n")
    text = _page(cf_home, sid)
    assert "hunter2" not in text


def test_missing_cast_still_gives_a_page(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:3], cast=False)
    warnings: list[store.StoreWarning] = []
    loaded = store.load_session(jsonl_path(sid, cf_home))
    text = "".join(export_html.page(loaded, cast_path(sid, cf_home), warnings))
    assert "ls: cannot access" in "".join(str(e[2]) for e in _cast(text))
    assert any("missing" in w.message for w in warnings)
    assert text.count("data-t=") == 3


def test_the_vendored_player_is_the_pinned_one() -> None:
    meta = json.loads((export_html.PLAYER / "VERSION.json").read_text())
    assert meta["name"] == "asciinema-player" and meta["version"].startswith("3.")
    for name, digest in meta["sha256"].items():
        assert hashlib.sha256((export_html.PLAYER / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (export_html.PLAYER / "LICENSE").read_text()


def _cli(cf_home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CFSESSION_HOME": str(cf_home), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cfsession", *args], env=full,
                          capture_output=True, text=True, timeout=60)


def test_cli_export_html_to_a_private_file(cf_home: Path, tmp_path: Path) -> None:
    sid = make_session(cf_home, CMDS)
    out = tmp_path / "s.html"
    done = _cli(cf_home, "export", sid[:8], "--format", "html", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("<!doctype html>")


@pytest.mark.parametrize("argv", [["open"], ["show", "--web"]])
def test_open_writes_a_private_page_and_hands_it_to_the_browser(
        cf_home: Path, tmp_path: Path, argv: list[str]) -> None:
    sid = make_session(cf_home, CMDS)
    got = tmp_path / "browser-got"
    browser = tmp_path / "browser"  # $BROWSER: what webbrowser runs, given the URL
    browser.write_text(f"#!/bin/sh\nprintf '%s' \"$1\" > '{got}'\n")
    browser.chmod(0o700)
    done = _cli(cf_home, *argv, sid[:8], env={"BROWSER": str(browser), "DISPLAY": ""})
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert got.read_text() == path.as_uri()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sid in path.read_text()
    path.unlink()


def test_open_unknown_session_is_one_line(cf_home: Path) -> None:
    make_session(cf_home, CMDS[:1])
    done = _cli(cf_home, "open", "ffffffff")
    assert done.returncode != 0
    assert done.stderr.startswith("cfsession: ") and done.stderr.count("\n") == 1


def test_no_raw_c1_or_del_in_the_file(cf_home: Path) -> None:
    sid = make_session(cf_home, [Cmd("printf c1", "a\x9b31mb\x7fc\x85d\n")])
    text = _page(cf_home, sid)
    assert not re.search("[\x7f-\x9f]", text)
    out = "".join(str(e[2]) for e in _cast(text) if e[1] == "o")
    assert "a\x9b31mb\x7fc\x85d" in out  # the player still gets them (JSON-escaped)


def test_a_tampered_session_says_so_in_the_header(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:2])
    path = jsonl_path(sid, cf_home)
    path.write_text(path.read_text().replace("echo hello", "echo HELLO"))
    text = _page(cf_home, sid)
    assert 'class="chain-tampered"' in text and "✗ tampered" in text


def test_bad_resize_and_a_cut_last_line_are_skipped_with_warnings(cf_home: Path) -> None:
    sid = make_session(cf_home, CMDS[:1])
    with open(cast_path(sid, cf_home), "a", encoding="utf-8") as f:
        f.write(json.dumps([1.0, "r", "wide"]) + "\n" + json.dumps([1.1, "r", "100x30"]) + "\n")
        f.write('[1.2, "o", "cut sh')
    warnings: list[store.StoreWarning] = []
    loaded = store.load_session(jsonl_path(sid, cf_home))
    text = "".join(export_html.page(loaded, cast_path(sid, cf_home), warnings))
    resizes = [e[2] for e in _cast(text) if e[1] == "r"]
    assert resizes == ["100x30"] and "cut sh" not in text
    assert [w.message.split(" ")[0] for w in warnings] == ["not", "truncated"]
