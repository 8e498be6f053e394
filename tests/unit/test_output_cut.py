"""A secret where a command's long output is cut must not survive, at any offset.

Output is kept as its first and last 32 KiB; the record's ``output`` feeds the index,
``show``, ``search`` and every export, so a token straddling a cut must be redacted (or
dropped) whole, never left as 35 of its 36 characters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfsession.cli import run
from cfsession.redact import Redactor
from cfsession.segmenter import Mark
from cfsession.session import Session
from tests.fakes import ListSink
from tests.sessions_factory import Cmd, make_session

CAP = 64 * 1024  # the default output_cap: 32 KiB head, 32 KiB tail
BODY = "Zq7KxW2vNp9RtY4uLm8sBc3dFg6hJk1aQe5o"  # 36 characters, in no filler
GH = "ghp_" + BODY
SHAPES = [
    GH,
    "AKIA" + "Q7KXW2VNP9RTY4UL",  # AWS access key id
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJabTdLeFcyIn0." + BODY[:30],  # JWT
    "xoxb-" + "1234567890-" + BODY[:24],  # Slack
    "db_password=" + BODY,
]
HALF, KEEP = CAP // 2, CAP // 2 + 4096  # shown per part; kept per part (with the overlap)
REDACTOR = Redactor()


def _filler(n: int, word: str = "lorem ") -> bytes:
    """``n`` bytes of harmless text, one line every ~80 bytes."""
    line = (word * (80 // len(word) + 1))[:79] + "\n"
    return (line * (n // 80 + 1)).encode()[:n]


def _pieces(secret: str) -> list[str]:
    """Every 8-character window of the secret (none occurs in the filler)."""
    return [secret[i : i + 8] for i in range(len(secret) - 7)]


def record_output(raw: bytes, chunk: int = 4096) -> dict[str, Any]:
    """The terminal_capture record a real Session writes for one command printing ``raw``."""
    sink = ListSink()
    s = Session(session_id="6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", start_epoch=0.0, cast=None,
                sinks=[sink], output_cap=CAP, redact=REDACTOR.redact)
    s.mark(Mark("H", 1, {}), 0.0)
    s.mark(Mark("C", 2, {"cmd": "cat big.log"}), 0.1)
    for i in range(0, len(raw), chunk):
        s.data(raw[i : i + chunk], 0.2)
    s.mark(Mark("D", 3, {"st": "0"}), 0.3)
    s.mark(Mark("P", 4, {"cwd": "/w"}), 0.3)
    s.finish(0.4, 0, "exit")
    (rec,) = [r for r in sink.records if r["event_type"] == "terminal_capture"]
    return rec


def _with_secret_at(offset: int, secret: str, total: int = 200_000) -> bytes:
    data = bytearray(_filler(total))
    token = b" " + secret.encode() + b" "
    data[offset : offset + len(token)] = token
    return bytes(data)


def _assert_gone(text: str, secret: str) -> None:
    leaked = [p for p in _pieces(secret) if p in text]
    assert not leaked, f"{len(leaked)} pieces of {secret[:8]}… survived"


def _cut_offsets(total: int) -> list[int]:
    """Offsets that put a token across each place the output may be cut: the visible
    halves (32 KiB from each end) and the kept parts' edges (32 KiB + the overlap)."""
    cuts = [HALF, KEEP, total - HALF, total - KEEP]
    return [c + d for c in cuts for d in range(-50, 6)]


def test_a_token_at_every_offset_across_both_cuts_never_survives() -> None:
    total = 200_000
    for offset in _cut_offsets(total):
        rec = record_output(_with_secret_at(offset, GH, total))
        assert rec["output_truncated"]
        _assert_gone(rec["output"], GH)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.sampled_from(SHAPES),
    cut=st.sampled_from(["head", "head edge", "tail", "tail edge"]),
    shift=st.integers(min_value=-120, max_value=40),
    chunk=st.sampled_from([997, 4096, 65536]),
    word=st.sampled_from(["lorem ", "x ", "token ", "a=b; "]),
)
def test_any_secret_shape_near_a_cut_never_survives(
    secret: str, cut: str, shift: int, chunk: int, word: str
) -> None:
    total = 150_000
    at = KEEP if cut.endswith("edge") else HALF
    base = at if cut.startswith("head") else total - at
    offset = min(max(base + shift, 0), total - len(secret) - 2)
    data = bytearray(_filler(total, word))
    token = b" " + secret.encode() + b" "
    data[offset : offset + len(token)] = token
    rec = record_output(bytes(data), chunk)
    _assert_gone(rec["output"], secret.split("=", 1)[-1])  # a name=value keeps its name


def test_a_private_key_cut_in_its_body_is_hidden_on_both_sides() -> None:
    body = "\n".join(BODY + "ABCDEFGHIJKLMNOPQRSTUVWXYZab" for _ in range(300))  # ~19 KB
    key = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    for at in (CAP // 2 - 9000, 200_000 - CAP // 2 - 9000):
        data = bytearray(_filler(200_000))
        data[at : at + len(key)] = key.encode()
        rec = record_output(bytes(data))
        _assert_gone(rec["output"], BODY)


def test_short_output_is_whole_and_long_output_keeps_its_ends() -> None:
    rec = record_output(b"first line\r\n" + _filler(150_000) + b"\r\nlast line\r\n")
    out = rec["output"]
    assert out.startswith("first line\n") and out.endswith("last line\n")
    assert "bytes of output omitted" in out and rec["output_truncated"]
    assert 50_000 < len(out) < 70_000  # about the configured cap, overlap not shown
    small = record_output(b"hello " + GH.encode() + b"\r\n")
    assert small["output"] == "hello [REDACTED:github_token]\n" and not small["output_truncated"]


def test_a_token_across_a_cut_reaches_neither_index_show_search_nor_exports(
    cf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = 200_000
    data = bytearray(_filler(total))
    for at in (HALF - 20, KEEP - 20, total - HALF - 20, total - KEEP - 20):
        data[at : at + 42] = b" " + GH.encode() + b" "
    out = record_output(bytes(data))["output"]
    sid = make_session(cf_home, [Cmd("cat big.log", out)])
    for argv in (["show", sid, "--output"], ["export", sid, "--format", "text"],
                 ["export", sid, "--format", "markdown"], ["export", sid, "--format", "jsonl"],
                 ["search", BODY[:8]], ["search", "--json", BODY[-8:]]):
        run(argv)
        shown, _ = capsys.readouterr()
        _assert_gone(shown, GH)
    run(["search", "--json", "lorem"])  # the index holds the output and finds it
    shown, _ = capsys.readouterr()
    assert json.loads(shown) and BODY[:8] not in shown
