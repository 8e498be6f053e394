"""CLI output on a narrow code page (a Windows pipe is cp1252): stand-ins, never a crash."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from cfsession import streams
from cfsession.cli import _common


def _stream(encoding: str, errors: str = "strict") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors, write_through=True)


def _bytes(s: io.TextIOWrapper) -> bytes:
    buf = s.buffer
    assert isinstance(buf, io.BytesIO)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("encoding", "want"),
    [
        ("cp1252", b"Output (<= 1000) ok x -> ?"),
        ("cp437", b"Output (\xf3 1000) ok x -> ?"),  # cp437 has its own \u2264
        ("ascii", b"Output (<= 1000) ok x -> ?"),
    ],
)
def test_narrow_streams_get_stand_ins(encoding: str, want: bytes) -> None:
    s = _stream(encoding)
    streams.make_safe(s)
    s.write("Output (\u2264 1000) \u2713 \u2717 \u2192 \u4e2d")
    assert _bytes(s) == want


def test_what_the_code_page_has_is_kept() -> None:
    s = _stream("cp1252")
    streams.make_safe(s)
    s.write("caf\u00e9 \u2014 \u2264")
    assert _bytes(s) == "caf\u00e9 \u2014 ".encode("cp1252") + b"<="


def test_surrogateescape_bytes_pass_through() -> None:
    s = _stream("cp1252", "surrogateescape")
    streams.make_safe(s)
    s.write("a\udcff\u2713")
    assert _bytes(s) == b"a\xffok"


def test_utf8_and_chosen_handlers_are_left_alone() -> None:
    utf8 = _stream("utf-8")
    chosen = _stream("cp437", "replace")
    streams.make_safe(utf8, chosen)
    assert utf8.errors == "strict" and chosen.errors == "replace"
    chosen.write("\u2713")
    assert _bytes(chosen) == b"?"


def test_json_on_a_narrow_stream_is_escaped_not_mangled(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _stream("cp1252")
    monkeypatch.setattr(sys, "stdout", s)
    _common.print_json({"output": "caf\u00e9 \u2713"})
    assert json.loads(_bytes(s).decode("ascii")) == {"output": "caf\u00e9 \u2713"}


def test_the_cli_on_a_cp1252_pipe() -> None:
    # `cfsession etw info | more` on Windows: stdout a pipe in the ANSI code page.
    env = {"PYTHONIOENCODING": "cp1252", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "cfsession", "etw", "info"], capture_output=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode("cp1252", "replace")
    assert b"(<= 1000 UTF-16 units)" in out.stdout
