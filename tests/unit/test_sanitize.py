"""The one sanitizer: string controls end where a terminal ends them, nothing is lost
silently, bidi characters are shown, and every JSON output escapes the same characters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cfsession import sanitize as S
from cfsession.cli import _common, _render, run
from cfsession.cli.etw import _printable
from cfsession.segmenter import Mark
from cfsession.session import Session
from cfsession.text import render_plain
from tests.conftest import require_module
from tests.fakes import ListSink
from tests.sessions_factory import Cmd, make_session

INTRODUCERS = {  # name: (7-bit, 8-bit)
    "DCS": ("\x1bP", "\x90"), "OSC": ("\x1b]", "\x9d"), "SOS": ("\x1bX", "\x98"),
    "PM": ("\x1b^", "\x9e"), "APC": ("\x1b_", "\x9f"),
}
ST_FORMS = ("\x1b\\", "\x9c")


def plain(text: str) -> tuple[str, set[str]]:
    anomalies: set[str] = set()
    return render_plain(text, anomalies), anomalies


def test_the_reported_c1_osc_ends_at_a_7bit_st() -> None:
    assert plain("A\x9d0;title\x1b\\AFTER-ST") == ("AAFTER-ST", set())
    assert S.sanitize("A\x9d0;title\x1b\\AFTER-ST") == "AAFTER-ST"


@pytest.mark.parametrize("name", sorted(INTRODUCERS))
@pytest.mark.parametrize("form", [0, 1], ids=["7bit", "8bit"])
@pytest.mark.parametrize("st_form", ST_FORMS, ids=["ESC-backslash", "C1-ST"])
def test_every_string_control_ends_at_st_in_either_form(name: str, form: int, st_form: str) -> None:
    intro = INTRODUCERS[name][form]
    assert plain(f"before {intro}1;payload{st_form}after\n") == ("before after\n", set())


@pytest.mark.parametrize("form", [0, 1], ids=["7bit", "8bit"])
def test_osc_also_ends_at_bel_and_others_do_not(form: int) -> None:
    osc, dcs = INTRODUCERS["OSC"][form], INTRODUCERS["DCS"][form]
    assert plain(f"a{osc}0;t\x07b")[0] == "ab"
    assert plain(f"a{dcs}q\x07still inside\x1b\\b")[0] == "ab"  # BEL is data in a DCS


@pytest.mark.parametrize("name", sorted(INTRODUCERS))
@pytest.mark.parametrize("abort", ["\x18", "\x1a"], ids=["CAN", "SUB"])
def test_can_and_sub_abort_a_string(name: str, abort: str) -> None:
    for intro in INTRODUCERS[name]:
        assert plain(f"x{intro}junk{abort}y") == ("xy", set())


def test_a_stray_introducer_swallows_at_most_its_line_and_is_noted() -> None:
    out, anomalies = plain("B\x90line one\nline two\nline three\n")
    assert out == "B\nline two\nline three\n" and anomalies == {S.UNTERMINATED}
    out, anomalies = plain("x\x1bPno end " + "y" * 10_000)
    assert len(out) == 1 + len("no end ") + 10_000 - S.STRING_MAX and anomalies == {S.UNTERMINATED}


def test_a_string_cut_by_another_sequence_stops_there() -> None:
    out, anomalies = plain("a\x9dtitle\x1b[31mred\x1b[0m\n")
    assert out == "ared\n" and anomalies == {S.UNTERMINATED}


def test_many_introducers_in_a_row_stay_linear() -> None:
    # Quadratic scanning would hang here (pytest-timeout); linear takes milliseconds.
    out, anomalies = plain("\x9d" * 200_000 + "end\n" + "\x1b]" * 100_000)
    assert out == "\n" and anomalies == {S.UNTERMINATED}


def test_the_record_notes_an_unterminated_string(tmp_path: Path) -> None:
    sink = ListSink()
    s = Session(session_id="6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", start_epoch=0.0, cast=None,
                sinks=[sink])
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "printf"}), 0.1)
    s.data("B\x90line one\r\nline two\r\n".encode(), 0.2)
    s.mark(Mark("D", 3, {"st": "0"}), 0.3)
    s.mark(Mark("P", 4, {"cwd": "/w"}), 0.3)
    s.finish(0.4, 0, "exit")
    (rec,) = [r for r in sink.records if r["event_type"] == "terminal_capture"]
    assert rec["output"] == "B\nline two\n" and rec["anomalies"] == [S.UNTERMINATED]


@pytest.mark.parametrize("ch", list(S.BIDI))
def test_bidi_characters_are_shown_not_obeyed(ch: str) -> None:
    shown = S.sanitize(f"echo safe{ch}evil")
    assert ch not in shown and f"\\u{ord(ch):04x}" in shown
    assert ch not in S.visible(ch) and ch not in _printable(ch)


def test_controls_are_shown_as_escapes_and_newline_tab_kept() -> None:
    assert S.sanitize("a\x00b\x07c\x9b\td\r\n") == "a\\x00b\\x07c\\x9b\td\n"
    assert S.visible("\x1b[31m") == "\\x1b[31m"  # visible() strips nothing: ETW payloads


def _json_docs(obj: Any, capsys: pytest.CaptureFixture[str]) -> list[str]:
    _common.print_json(obj)
    a = capsys.readouterr().out
    _render.emit_json(obj)
    b = capsys.readouterr().out
    return [a, b]


def test_every_json_output_escapes_the_same_characters(capsys: pytest.CaptureFixture[str]) -> None:
    value = "x\x9b31m\x7f\u202eevil\u2066\u2028é"
    obj = {"items": [{"text": value}], "n": 1}
    for doc in _json_docs(obj, capsys):
        assert json.loads(doc) == obj
        assert not any(ch in doc for ch in S.BIDI + "\x7f" + "".join(map(chr, range(0x80, 0xA0))))
        for ch in "\x9b\x7f\u202e\u2066\u2028":
            assert f"\\u{ord(ch):04x}" in doc
        assert "é" in doc  # ordinary non-ASCII stays readable


def test_show_search_and_json_never_pass_bidi_through(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cmd = "echo ok #\u202e }\u2066 ;lave\u2069 \u2069"  # reads reordered on a terminal
    sid = make_session(cf_home, [Cmd(cmd, "out \u202eput\n")])
    for argv in (["show", sid, "--output"], ["search", "lave"], ["search", "--json", "lave"],
                 ["show", sid, "--json"], ["list", "--json"], ["export", sid, "--format", "text"],
                 ["export", sid, "--format", "markdown"]):
        assert run(argv) == 0, argv
        out, _ = capsys.readouterr()
        assert not any(ch in out for ch in S.BIDI), argv


# -- against a real terminal emulator -------------------------------------------------------
COLS, ROWS = 80, 24
_TEXT = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,:;-_/=+()[]{}<>!?'\"#é"),
    max_size=12,
)
_SGR = st.sampled_from(["\x1b[0m", "\x1b[1;31m", "\x9b32m", "\x1b[m", "\x9b0;1;4m", "\x1b[38;5;208m"])
_OSC = st.builds(
    lambda intro, code, body, end: f"{intro}{code};{body}{end}",
    st.sampled_from(["\x1b]", "\x9d"]), st.sampled_from(["0", "2"]),
    st.text(alphabet=st.sampled_from("title xyz-0;"), max_size=10),
    st.sampled_from(["\x07", "\x1b\\", "\x9c"]),
)
_PIECE = st.one_of(_TEXT, _TEXT, _SGR, _OSC, st.just("\r"), st.just("\b"))


def _line(pieces: list[str]) -> str:
    """Pieces joined, kept under the screen width between carriage returns (no wrap)."""
    out, col = [], 0
    for p in pieces:
        if p == "\r":
            col = 0
        elif p == "\b":
            col = max(col - 1, 0)
        elif not p.startswith(("\x1b", "\x9b", "\x9d")):
            p = p[: max(COLS - 1 - col, 0)]
            col += len(p)
        out.append(p)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_PIECE, max_size=10).map(_line), max_size=ROWS - 2),
       st.sampled_from(["\n", "\r\n"]))
@example([("A\x9d0;title\x1b\\AFTER-ST")], "\n")
def test_plain_text_equals_what_a_terminal_shows(lines: list[str], eol: str) -> None:
    pyte = require_module("pyte")
    screen = pyte.Screen(COLS, ROWS)
    screen.set_mode(pyte.modes.LNM)  # LF is a new line, as a tty's onlcr makes it
    output = eol.join(lines)
    pyte.Stream(screen).feed(output)
    shown = [row.rstrip() for row in screen.display]
    got = [row.rstrip() for row in render_plain(output).split("\n")]
    while shown and not shown[-1]:
        shown.pop()
    while got and not got[-1]:
        got.pop()
    assert got == shown


_HOSTILE = st.text(alphabet=st.one_of(
    st.sampled_from(list("\x1b\x9b\x9d\x90\x98\x9e\x9f\x9c\x07\x18\x1a\x00\r\n\t\x7f[]P\\^_;0123 m") + list(S.BIDI)),
    st.characters(),
), max_size=200)


@settings(max_examples=500, deadline=None)
@given(_HOSTILE)
def test_nothing_active_or_reordering_survives_sanitize(text: str) -> None:
    for out in (S.sanitize(text), S.visible(text), S.sanitize_dropping(text)):
        bad = [c for c in out if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 or c in S.BIDI]
        assert not bad, (text, out)
    assert json.loads(S.json_escape(json.dumps(text, ensure_ascii=False))) == text
    assert not any(c in S.json_escape(json.dumps(text, ensure_ascii=False)) for c in S.BIDI + "\x9b\x9d")


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_a_sequence_split_between_replay_frames_is_removed_whole(cuts: list[int]) -> None:
    stream = "A\x9d0;secret title\x1b\\AFTER-ST\r\nx\x1b[1;31mred\x1b[0m y\x1bP1$r\x1b\\z\n"
    pieces, last = [], 0
    for c in sorted(set(cuts)):
        pieces.append(stream[last:c])
        last = c
    pieces.append(stream[last:])
    s = S.StreamSanitizer()
    out = "".join(s.feed(p) for p in pieces) + s.flush()
    assert out == S.sanitize_dropping(stream) == "AAFTER-ST\nxred yz\n"
