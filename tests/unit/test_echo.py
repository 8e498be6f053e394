"""cfsession.echo: the typed line as the user saw it, from the prompt and the echo."""

from __future__ import annotations

from cfsession.echo import typed_line
from tests.conftest import require_module


def test_plain_echo() -> None:
    require_module("pyte")
    assert typed_line(b"\x1b]9;x\x07PP> ", b"echo hi\r\n\x1b[?2004l\r", 80) == "echo hi"


def test_readline_redraws() -> None:
    require_module("pyte")
    # Up over a longer line: backspaces, the new text, erase to the end of the line.
    assert typed_line(b"PP> ", b"echo two\x08\x08\x08one\r\n", 80) == "echo one"
    # A shorter line drawn over a longer one: CR, the prompt again, the text, ESC[K.
    assert typed_line(b"PP> ", b"printf x y z\rPP> ls\x1b[K\r\n", 80) == "ls"
    # Delete characters (ESC[P) in the middle of the line.
    assert typed_line(b"PP> ", b"echo abcd\x08\x08\x08\x1b[2Pd\r\n", 80) == "echo ad"


def test_wrapped_line_and_leading_space() -> None:
    require_module("pyte")
    assert typed_line(b"PP> ", b"y" * 100 + b"\r\n", 40) == "y" * 100
    assert typed_line(b"PP> ", b" echo sec\r\n", 80) == " echo sec"


def test_too_long_is_unknown() -> None:
    assert typed_line(b"PP> ", b"z" * 70_000, 80) is None
