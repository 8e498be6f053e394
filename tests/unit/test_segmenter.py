"""The marker parser: genuine marks out, everything else byte-exact, however the stream is cut."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cfsession.segmenter import (
    SPOOF,
    Mark,
    Segmenter,
    encode_mark,
    escape,
    from_body,
    unescape,
    with_fields,
)

NONCE = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def mk(seq: int, ev: str, **kw: str) -> bytes:
    return encode_mark(6973, NONCE, seq, ev, **kw)


def reference_stream() -> tuple[bytes, bytes, list[Mark]]:
    """(stream, expected data, expected genuine marks)."""
    parts: list[tuple[bytes, bool]] = [
        (b"prompt$ ", False),
        (mk(1, "H", shell="bash", pid="42"), True),
        (b"\x1b]133;A\x07\x1b]633;E;ls\x07\x1b]7;file:///tmp\x1b\\", False),  # foreign: pass
        (mk(2, "C", cmd="echo 'a;b\\c'\nx\t\x1b", src="history"), True),
        (b"out\r\n\x1b[31mred\x1b[0m", False),
        (encode_mark(6973, OTHER, 3, "D", st="0"), False),  # wrong nonce: data
        (b"\x1b]6973;short\x07", False),  # malformed intro: data
        (b"\x1b]6973;0123", False),  # a partial intro that never completes
        (b" tail \x1b", False),
        (b"\x1b]6973;" + NONCE.encode() + b";4;D;st=1;ps=1 0\x1b\\", True),  # ESC-backslash terminator
        (mk(3, "P", cwd="/tmp/a b;c"), False),  # replayed seq (3 <= 4): data, never trusted
        (mk(5, "A"), True),
        (b"\xff\xfe binary \x00\x9c", False),
        (b"\x1b]69", False),  # trailing partial intro, released by flush()
    ]
    stream = b"".join(p for p, _ in parts)
    data = b"".join(p for p, genuine in parts if not genuine)
    marks = [
        Mark("H", 1, {"shell": "bash", "pid": "42"}),
        Mark("C", 2, {"cmd": "echo 'a;b\\c'\nx\t\x1b", "src": "history"}),
        Mark("D", 4, {"st": "1", "ps": "1 0"}),
        Mark("A", 5, {}),
    ]
    return stream, data, marks


def run(chunks: list[bytes]) -> tuple[bytes, list[Mark], int]:
    seg = Segmenter(NONCE)
    data = bytearray()
    marks: list[Mark] = []
    for c in chunks:
        for p in seg.feed(c):
            if isinstance(p, bytes):
                data += p
            elif p is not SPOOF:
                marks.append(p)
    data += seg.flush()
    return bytes(data), marks, seg.spoof_attempts


def test_whole_stream() -> None:
    stream, data, marks = reference_stream()
    got_data, got_marks, spoofs = run([stream])
    assert got_data == data
    assert got_marks == marks
    assert spoofs == 4  # wrong nonce, malformed, partial, replay


def test_every_split_offset_gives_identical_results() -> None:
    stream, data, marks = reference_stream()
    expected = run([stream])
    for i in range(len(stream) + 1):
        assert run([stream[:i], stream[i:]]) == expected, i


def test_byte_by_byte() -> None:
    stream, _, _ = reference_stream()
    assert run([stream[i : i + 1] for i in range(len(stream))]) == run([stream])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_random_splits(cuts: list[int]) -> None:
    stream, _, _ = reference_stream()
    chunks = cut(stream, cuts)
    assert run(chunks) == run([stream]) == run_lazy(chunks)


def cut(stream: bytes, cuts: list[int]) -> list[bytes]:
    """``stream`` in pieces, cut at each of ``cuts`` (modulo its length)."""
    points = sorted({c % (len(stream) + 1) for c in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=False)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_hostile_bytes_pass_through_exactly(blob: bytes, cuts: list[int]) -> None:
    # Random bytes salted with our intro and forged nonces: never a mark, never a byte lost.
    salted = blob.replace(b"A", b"\x1b]6973;").replace(b"B", b"\x07").replace(b"C", OTHER.encode())
    chunks = cut(salted, cuts)
    data, marks, _ = run(chunks)
    assert marks == []
    assert data == salted
    assert run_lazy(chunks)[:2] == (salted, [])


def test_wrong_nonce_is_released_at_once() -> None:
    # A forged intro must not be held back waiting for a terminator (no visible stall).
    seg = Segmenter(NONCE)
    forged = b"\x1b]6973;" + OTHER.encode() + b";1;D"
    out = seg.feed(forged)
    assert b"".join(p for p in out if isinstance(p, bytes)) == forged
    assert not seg.holding


def test_partial_intro_is_held_then_flushed() -> None:
    seg = Segmenter(NONCE)
    assert seg.feed(b"abc\x1b") == [b"abc"]
    assert seg.holding
    assert seg.flush() == b"\x1b"
    assert not seg.holding


def test_held_verified_marker_is_bounded() -> None:
    seg = Segmenter(NONCE)
    intro = b"\x1b]6973;" + NONCE.encode() + b";1;C;cmd="
    seg.feed(intro)
    assert seg.holding
    out = seg.feed(b"x" * (70 * 1024))  # never terminated: given up as data past the cap
    data = b"".join(p for p in out if isinstance(p, bytes)) + seg.flush()
    assert data == intro + b"x" * (70 * 1024)


@given(st.binary(max_size=300))
def test_escape_roundtrip(raw: bytes) -> None:
    enc = escape(raw)
    assert not any(b < 0x20 or b in (0x7F, 0x3B) for b in enc)
    assert unescape(enc).encode("utf-8", "surrogateescape") == raw


def run_lazy(chunks: list[bytes]) -> tuple[bytes, list[Mark], int]:
    """As ``run``, through the recorder's path: ``split`` of a lazy segmenter, the fields
    parsed afterwards (in the process that keeps the record, from the body alone)."""
    seg = Segmenter(NONCE, lazy=True)
    data = bytearray()
    marks: list[Mark] = []
    for c in chunks:
        shown, pieces = seg.split(c)
        assert shown == b"".join(p for p in pieces if isinstance(p, bytes))
        # At most one data piece between two marks.
        assert not any(isinstance(a, bytes) and isinstance(b, bytes) for a, b in zip(pieces, pieces[1:], strict=False))
        data += shown
        for p in pieces:
            if isinstance(p, Mark) and p is not SPOOF:
                if p.fields or p.raw is not None:
                    assert not p.fields and p.raw is not None  # unparsed
                    assert from_body(p.raw) == with_fields(p)
                marks.append(with_fields(p))
    data += seg.flush()
    return bytes(data), marks, seg.spoof_attempts


def test_lazy_marks_parse_to_the_same_fields() -> None:
    stream, data, marks = reference_stream()
    assert run_lazy([stream]) == (data, marks, 4)
    assert run_lazy([stream[i : i + 1] for i in range(len(stream))]) == run([stream])


def test_lazy_rawcwd_and_bare_events() -> None:
    raw = b"\x1b]6973;" + NONCE.encode() + b";0;P;rawcwd=C:\\a;b\x07" + mk(7, "A") + mk(8, "D", st="0")
    seg = Segmenter(NONCE, lazy=True, unsequenced=True)
    shown, pieces = seg.split(b"x" + raw + b"y")
    assert shown == b"xy"
    assert [with_fields(p) for p in pieces if isinstance(p, Mark)] == [
        Mark("P", 0, {"rawcwd": "C:\\a;b"}),
        Mark("A", 7, {}),
        Mark("D", 8, {"st": "0"}),
    ]
    assert seg.last_event == "D"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_split_shows_exactly_the_data(noise: bytes, cuts: list[int]) -> None:
    stream = noise + mk(1, "C", cmd="x") + noise
    seg = Segmenter(NONCE, lazy=True)
    shown = bytearray()
    for c in cut(stream, cuts):
        s, pieces = seg.split(c)
        assert s == b"".join(p for p in pieces if isinstance(p, bytes))
        shown += s
    shown += seg.flush()
    assert bytes(shown) == run([stream])[0]


def test_a_redrawn_marker_is_dropped_not_a_spoof() -> None:
    """A line editor's redraw repeats the prompt's marker byte for byte: stripped and
    dropped. A replay that is not such a copy (other fields, or older than the last few
    markers) is still data and a spoof attempt."""
    seg = Segmenter(NONCE)
    b = mk(5, "B")
    first = seg.feed(mk(4, "A") + b"$ " + b)
    assert first == [Mark("A", 4, {}), b"$ ", Mark("B", 5, {})]
    assert seg.feed(b"\x1b[H\x1b[2J$ " + b + b"typed") == [b"\x1b[H\x1b[2J$ typed"]
    assert (seg.redraws, seg.spoof_attempts) == (1, 0)
    forged = mk(5, "B", x="1")  # the same seq, not the same marker
    assert seg.feed(forged) == [forged, SPOOF]
    for n in range(6, 11):
        seg.feed(mk(n, "C"))
    assert seg.feed(b) == [b, SPOOF]  # no longer one of the last few: a replay
    assert (seg.redraws, seg.spoof_attempts) == (1, 2)
