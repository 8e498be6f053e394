"""Short cuts taken per command by the bookkeeper give the answers of the long way."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cfsession import echo_hold, redact_stream
from cfsession.redact import Redactor

# Text as a terminal sends it: words, spaces, line ends, escapes, secret-like names.
_PIECES = st.sampled_from(["echo", " ", "\r", "\n", "\r\n", "\t", "\x1b[K", "\x1b[?2004h", "\b", "\x7f",
                           "password=", "token ", "-----BEGIN", "\u00a0", "\u2028", "x" * 30, "é", "$ "])
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=12).map("".join)


def _hold_start_long_way(text: str) -> int:
    """redact_stream._hold_start as it was before its short cuts."""
    n = len(text)
    base = max(0, n - redact_stream.HOLD_MAX)
    window = text[base:]
    line_at = max(window.rfind("\n"), window.rfind("\r")) + 1
    line = window[line_at:]
    begin = line.find("-----BEGIN")
    if begin >= 0:
        return base + line_at + begin
    m = redact_stream._NAME_IN_LINE.search(line)
    if m:
        return base + line_at + m.start()
    run = re.compile(r"\S*").match(window[::-1])
    size = run.end() if run else 0
    if size >= redact_stream.HOLD_MAX:
        return n
    return n - size


@settings(max_examples=500, deadline=None)
@given(_TEXT)
def test_hold_start_short_cuts_hold_back_the_same(text: str) -> None:
    assert redact_stream._hold_start(text) == _hold_start_long_way(text)


def _secrets_long_way(redact: echo_hold.Redact, text: str | None, raw: str) -> list[str]:
    """echo_hold._secrets as it was before its short cuts."""
    readings: list[str] = []
    if text:
        readings.append(text)
    shown = echo_hold._ESC_SEQ.sub("", raw)
    unwrapped = echo_hold._WRAP.sub("", shown)
    readings.append(echo_hold._CONTROLS.sub("", unwrapped))
    if "\b" in shown or "\x7f" in shown:
        pieces = echo_hold._ERASE.split(echo_hold._NOT_KEPT.sub("", unwrapped))
        out = list(pieces[0])
        for piece in pieces[1:]:
            if out:
                out.pop()
            out += piece
        readings.append("".join(out))
    if len(raw) <= echo_hold.RENDER_MAX and echo_hold._EDITS.search(raw):
        readings.append("\n".join(echo_hold.render(raw, 4096)[0]))
    found: list[str] = []
    for reading in dict.fromkeys(readings):
        found += echo_hold.secrets_in(redact, reading)
    return [s for s in dict.fromkeys(found) if s.strip()]


@settings(max_examples=500, deadline=None)
@given(_TEXT, _TEXT, st.sampled_from(["", "echo hi", "password=hunter2", "curl -H 'Authorization: Bearer abcdefghijk1'"]))
def test_echo_secrets_short_cuts_find_the_same(before: str, after: str, typed: str) -> None:
    red = Redactor().redact
    raw = before + typed + after  # a typed line in the echoed region, as the hold sees it
    for text in (typed or None, None):
        assert echo_hold._secrets(red, text, raw) == _secrets_long_way(red, text, raw)
