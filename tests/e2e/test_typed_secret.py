"""A secret typed at the prompt never reaches the .cast, however the line editor draws it.

A GitHub token shape typed key by key in bash, zsh and fish through a real PTY: so the
line wraps at the right margin, with a typo fixed by Backspace, with cursor keys and
Ctrl-A, by bracketed paste, and (bash) recalled from history and by Ctrl-R. The .cast may
hold no run of 8 of its characters; the user's terminal still gets every byte.
"""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

import pexpect
import pytest

from cfsession.verify import INTACT, verify_session
from tests import pty_harness as h
from tests import shells_factory as sf
from tests.conftest import require_module, require_shell

pytestmark = pytest.mark.pty

COLS = 40  # "CFTPn> true ghp_…" (52 columns) wraps
LEFT, CTRL_A, CTRL_E, BS = "\x1b[D", "\x01", "\x05", "\x7f"


def _token(seed: int) -> str:
    rnd = random.Random(seed)
    return "ghp_" + "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(36))


def _start(kind: str, home: Path, cf_home: Path) -> sf.Shell:
    shell = require_shell(kind)
    sf.write_rc(kind, home)
    argv = h.cfsession_argv("record", "--shell", shell)
    child = pexpect.spawn(argv[0], argv[1:], env=h.base_env(home, cf_home), cwd=str(home),
                          encoding="utf-8", codec_errors="replace", timeout=15, dimensions=(30, COLS))
    sh = sf.Shell(child, cf_home, kind, n=0)
    sh.startup = sh.expect_prompt()
    return sh


def _type(sh: sf.Shell, keys: str) -> None:
    """One key per write, each letter echoed before the next (as a person types); a key
    that sends a sequence (cursor keys, bracketed paste) goes in one write."""
    for k in re.findall(r"\x1b\[200~.*?\x1b\[201~|\x1b\[[0-9;]*[~A-Za-z]|.", keys, re.S):
        sh.child.send(k)
        if k.isalnum():
            sh.child.expect_exact(k)


def _leaks(cast_text: str, secret: str) -> list[str]:
    body = secret[4:]
    return [body[i : i + 8] for i in range(len(body) - 7) if body[i : i + 8] in cast_text]


def _cases(kind: str) -> list[tuple[str, str]]:
    """(name, keys before Enter); every line runs `true <token>`."""
    t = [_token(i) for i in range(8)]
    cases = [
        ("wrap", "true " + t[0]),
        ("backspace", "true " + t[1][:15] + "Q" + BS + t[1][15:]),
        ("cursor", "true " + t[2][:20] + t[2][21:] + LEFT * 19 + t[2][20]),
        ("ctrl-a", " " + t[3] + CTRL_A + "true" + CTRL_E + " end"),
        ("paste", sf.PASTE_ON + "true " + t[4] + sf.PASTE_OFF),
    ]
    cases.append(("history", "\x1b[A"))  # the line before, recalled with Up
    if kind != "fish":  # found with Ctrl-R (fish opens a pager instead)
        cases.append(("ctrl-r", "\x12" + t[0][:10]))
    if kind == "bash":
        # a line kept out of history (leading space, HISTCONTROL=ignorespace): the
        # record has no command text to go by
        cases.append(("hidden", " true " + t[5]))
    return cases


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["bash", "zsh", "fish"])
def test_a_typed_secret_stays_out_of_the_cast(kind: str, user_home: Path, cf_home: Path) -> None:
    sh = _start(kind, user_home, cf_home)
    seen: list[str] = []
    tokens = [_token(i) for i in range(6)]
    for _name, keys in _cases(kind):
        _type(sh, keys)
        sh.child.send("\r")
        seen.append(sh.expect_prompt())
    assert sh.finish() == 0

    (path,) = h.sessions(cf_home)
    recs = h.load(path)
    cmds = [r for r in recs if r["event_type"] == "terminal_capture" and r["command"] != "exit"]
    assert len(cmds) == len(_cases(kind))
    for r in cmds:  # the JSONL was redacted already; keep it so
        assert r["command"] is None or r["command"].startswith("true [REDACTED:"), r["command"]
    assert [r["command"] is None for r in cmds].count(True) == (kind == "bash")
    cast = path.with_suffix(".cast").read_text(encoding="utf-8")
    shown = "".join(json.loads(line)[2] for line in cast.splitlines()[1:] if json.loads(line)[1] == "o")
    for tok in tokens:
        assert _leaks(shown, tok) == [], (kind, tok)
        assert _leaks(cast, tok) == []
    assert shown.count("[REDACTED:") >= len(cmds)  # each line is shown, redacted
    # What a replay shows (a real emulator): the prompt and the redacted line, no token.
    pyte = require_module("pyte")
    screen = pyte.Screen(COLS, 30)
    stream = pyte.Stream(screen)
    for line in cast.splitlines()[1:]:
        _t, code, data = json.loads(line)
        if code == "o":
            stream.feed(data)
        elif code == "r":
            cols, rows = map(int, data.split("x"))
            screen.resize(rows, cols)
    final = "".join(screen.display)
    assert final.count("true [REDACTED:github_token]") >= 5, "\n".join(screen.display)
    for tok in tokens:
        assert _leaks(final, tok) == []
    assert verify_session(path).status == INTACT
    # The terminal itself got the pasted token (its first row at least, before the wrap):
    # only the recording is redacted.
    assert tokens[4][:20] in "".join(seen)


@pytest.mark.timeout(120)
def test_an_ordinary_line_is_recorded_exactly_as_typed(user_home: Path, cf_home: Path) -> None:
    """No secret: the held prompt region reaches the .cast as it came, edits and all."""
    sh = _start("bash", user_home, cf_home)
    _type(sh, "echo helloo" + BS + " world")
    sh.child.send("\r")
    sh.expect_prompt()
    assert sh.finish() == 0
    (path,) = h.sessions(cf_home)
    cast = path.with_suffix(".cast").read_text(encoding="utf-8")
    shown = "".join(json.loads(line)[2] for line in cast.splitlines()[1:] if json.loads(line)[1] == "o")
    assert "echo helloo\b" in shown  # the typo and its fix, as typed
    assert "REDACTED" not in shown
