from __future__ import annotations

from cfsession.text import render_plain, sanitize


def test_render_plain_resolves_carriage_returns_and_escapes() -> None:
    raw = "\x1b[1mbold\x1b[0m\r\n10%\r55%\r100%\r\nab\x08c\n\x1b]0;title\x07done\x1b[K"
    assert render_plain(raw) == "bold\n100%\nac\ndone"


def test_sanitize_removes_everything_that_acts_on_a_terminal() -> None:
    hostile = "a\x1b]52;c;cGF5bG9hZA==\x07b\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\c\x1b[2J\x9b31md\x1bPq#0\x1b\\e\x07\x00\r\n"
    out = sanitize(hostile)
    assert out == "ablinkcde\\x07\\x00\n"  # stray controls shown, not acted on (nor hidden)
    assert not any(ch in out for ch in "\x1b\x07\x9b\x00\r")


def test_sanitize_keeps_text_and_tabs() -> None:
    assert sanitize("héllo\tworld\n") == "héllo\tworld\n"
