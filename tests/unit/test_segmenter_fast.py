"""The segmenter's fast path gives exactly what its marker-by-marker path gives.

``Segmenter.split`` tries one ``re.split`` first (a chunk of whole genuine markers) and
falls back to ``_split_slow``'s way for anything else. Realistic streams — genuine
markers, forged nonces, replays, redraws, over-long and malformed markers, partial
intros, both terminators — are cut at random points and fed to both; every chunk's
output and the state left behind must be the same, piece for piece.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cfsession.segmenter as segmenter
from cfsession.segmenter import Mark, Segmenter, encode_mark

NONCE = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
FULL = b"\x1b]6973;" + NONCE.encode() + b";"
SMALL_CAP = 200  # MARK_CAP for these tests: over-long markers stay small


def state(seg: Segmenter) -> tuple[object, ...]:
    return (
        seg._held,
        seg._last_seq,
        list(seg._recent),
        seg.last_event,
        seg.spoof_attempts,
        seg.redraws,
    )


def stream(rng: random.Random, unsequenced: bool) -> bytes:
    """A shell's output as the recorder sees it: mostly genuine markers and text, with
    everything that must not be taken for a marker mixed in."""
    seq = 0
    bodies: list[bytes] = []
    out: list[bytes] = []
    for _ in range(rng.randint(1, 14)):
        kind = rng.choice(
            ["genuine"] * 6
            + ["text", "modes", "wrong_nonce", "replay", "redraw", "seq0", "long", "esc_body", "bad_head", "partial", "foreign", "zeros"]
        )
        term = rng.choice([b"\x07", b"\x1b\\"])
        if kind == "genuine":
            seq += rng.randint(1, 3)
            ev = rng.choice("HCDPAB")
            fields = rng.choice([{}, {"cmd": f"echo {seq};x\\y\n", "src": "history"}, {"st": "0;ps=0"}, {"cwd": "/tmp/a b"}])
            m = encode_mark(6973, NONCE, seq, ev, **fields)
            body = m[len(FULL) : -1]
            bodies.append(body)
            out.append(FULL + body + term)
        elif kind == "text":
            out.append(rng.choice([b"", b"$ ", b"out\r\n", b"\x1b[31mred\x1b[0m", b"\xff\xfe\x00", b"tail \x1b", "é".encode()]))
        elif kind == "modes":
            out.append(rng.choice([b"\x1b[?2004h", b"\x1b[?2004l\r", b"\x1b[?1049h\x1b[?25l", b"\x1b=", b"\x1b>"]))
        elif kind == "wrong_nonce":
            out.append(encode_mark(6973, OTHER, seq + 1, "D", st="0")[:-1] + term)
        elif kind == "replay":
            out.append(FULL + b"%d;P;cwd=/x" % max(seq - rng.randint(0, 2), 0) + term)
        elif kind == "redraw" and bodies:
            out.append(FULL + rng.choice(bodies[-5:]) + term)
        elif kind == "seq0":
            out.append(FULL + b"0;P;rawcwd=C:\\a;b" + term)
        elif kind == "long":
            out.append(FULL + b"%d;C;cmd=" % (seq + 1) + b"x" * rng.randint(SMALL_CAP - 60, SMALL_CAP + 60))
            if rng.random() < 0.5:
                out.append(term)
        elif kind == "esc_body":
            out.append(FULL + b"%d;C;cmd=a\x1b[0mb" % (seq + 1) + term)
        elif kind == "bad_head":
            out.append(FULL + rng.choice([b"", b";C", b"x1;C", b"12", b"12;", b"12;;a=b", b"12;\xc3\xa9"]) + term)
        elif kind == "partial":
            out.append(rng.choice([b"\x1b]69", b"\x1b]6973;", FULL[:-5], b"\x1b]6973;" + NONCE.encode()[:7]]))
        elif kind == "foreign":
            out.append(rng.choice([b"\x1b]133;A\x07", b"\x1b]7;file:///tmp\x1b\\", b"\x1b]6973;short\x07"]))
        elif kind == "zeros":
            seq += 1
            out.append(FULL + b"%03d;A" % seq + term)
    return b"".join(out)


def cuts(rng: random.Random, data: bytes) -> Iterator[bytes]:
    points = sorted({rng.randint(0, len(data)) for _ in range(rng.randint(0, 6))})
    for a, b in zip([0, *points], [*points, len(data)], strict=False):
        yield data[a:b]


def compare(data: bytes, chunks: list[bytes], *, unsequenced: bool, lazy: bool, flush_after: set[int]) -> tuple[int, int]:
    """Feed both paths; assert equal after every chunk. How many chunks with an intro took
    the fast path, and how many it declined."""
    fast = Segmenter(NONCE, unsequenced=unsequenced, lazy=lazy)
    slow = Segmenter(NONCE, unsequenced=unsequenced, lazy=lazy)
    took_fast = declined = 0
    for n, chunk in enumerate(chunks):
        before = state(fast)
        probe = Segmenter(NONCE, unsequenced=unsequenced, lazy=lazy)
        probe._held, probe._last_seq, probe.last_event = fast._held, fast._last_seq, fast.last_event
        probe._recent.extend(fast._recent)
        buf = probe._held + chunk
        if probe.intro in buf:
            if probe._split_genuine(buf) is None:
                declined += 1
            else:
                took_fast += 1
        got = fast.split(chunk)
        want = slow._split_slow(chunk)
        assert got == want, (data, chunks, n, before)
        # The same classes too (== on a Mark would accept a plain tuple).
        assert [p.__class__ for p in got[1]] == [p.__class__ for p in want[1]]
        assert state(fast) == state(slow), (data, chunks, n)
        assert b"" not in got[1]
        if n in flush_after:
            assert fast.flush() == slow.flush()
    assert fast.flush() == slow.flush()
    return took_fast, declined


@pytest.mark.parametrize("unsequenced", [False, True])
@pytest.mark.parametrize("lazy", [False, True])
def test_fast_path_matches_slow_path_seeded(unsequenced: bool, lazy: bool) -> None:
    rng = random.Random(0x5E6 + 2 * unsequenced + lazy)
    took_fast = declined = 0
    with mock.patch.object(segmenter, "MARK_CAP", SMALL_CAP):
        for _ in range(1500):
            data = stream(rng, unsequenced)
            chunks = list(cuts(rng, data))
            flush_after = {rng.randrange(len(chunks))} if rng.random() < 0.2 else set()
            f, d = compare(data, chunks, unsequenced=unsequenced, lazy=lazy, flush_after=flush_after)
            took_fast += f
            declined += d
    # Both ways were really exercised: the fast path taken, and declined (then the slow one).
    assert took_fast > 300
    assert declined > 300


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.booleans(), st.booleans())
def test_fast_path_matches_slow_path(seed: int, unsequenced: bool, lazy: bool) -> None:
    rng = random.Random(seed)
    with mock.patch.object(segmenter, "MARK_CAP", SMALL_CAP):
        data = stream(rng, unsequenced)
        chunks = list(cuts(rng, data))
        compare(data, chunks, unsequenced=unsequenced, lazy=lazy, flush_after=set())


def test_a_clean_chunk_takes_the_fast_path() -> None:
    seg = Segmenter(NONCE, lazy=True)
    chunk = b"echo 1\r\n" + encode_mark(6973, NONCE, 3, "C", cmd="echo 1") + b"1\r\n" + encode_mark(6973, NONCE, 4, "A")
    with mock.patch.object(Segmenter, "_split_buf", side_effect=AssertionError("slow path")):
        shown, pieces = seg.split(chunk)
    assert shown == b"echo 1\r\n1\r\n"
    assert pieces == [b"echo 1\r\n", Mark("C", 3, raw=b"3;C;cmd=echo 1"), b"1\r\n", Mark("A", 4)]
    assert (seg._last_seq, seg.last_event, list(seg._recent)) == (4, "A", [b"3;C;cmd=echo 1", b"4;A"])


@pytest.mark.parametrize(
    "tail",
    [
        encode_mark(6973, NONCE, 2, "A"),  # a replay of the seq just used
        encode_mark(6973, OTHER, 9, "A"),  # a forged nonce
        b"\x1b]6973;",  # a partial intro at the end
        FULL + b"9;C;cmd=unfinished",  # a marker cut off
    ],
)
def test_a_declined_chunk_leaves_no_trace(tail: bytes) -> None:
    """The fast path commits nothing before it knows the whole chunk is its own."""
    seg = Segmenter(NONCE)
    seg.split(encode_mark(6973, NONCE, 2, "B"))
    before = state(seg)
    assert seg._split_genuine(encode_mark(6973, NONCE, 7, "C") + b"x" + tail) is None
    assert state(seg) == before
