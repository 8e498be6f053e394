"""Streaming parser for the private, nonce-authenticated markers (SHELL_INTEGRATION.md §2, §5).

Pure: bytes in, pieces out — never touches a file descriptor. ``feed(chunk)`` returns a
list whose items are either ``bytes`` (data to pass through and record, byte-exact) or
:class:`Mark` (a genuine marker, stripped from the stream). Anything that is not a
genuine marker — foreign OSC 133/633/7, a marker with a wrong nonce, a replayed sequence
number — is data.

Work per chunk is a handful of ``bytes.find`` calls; nothing loops per byte in Python.
The common chunk — nothing but whole genuine markers of ours, in order, and data — is
split by one compiled ``re.split`` (:meth:`Segmenter._split_genuine`); any other chunk
goes marker by marker, and both give the same pieces (tests/unit/test_segmenter_fast.py).
At most ``len(FULL_INTRO) - 1`` bytes are held back between chunks unless a verified
marker is split, and then at most ``MARK_CAP``. A chunk that ends in a partial intro
(or a lone ESC) is held until the next chunk or :meth:`Segmenter.flush` (the recorder
calls it after a short idle period so a held ESC never freezes the screen).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

MARK_CAP = 576 * 1024  # a 128 KiB command line escaped (up to 4 bytes per byte) and its fields
_NO_FIELDS: Mapping[str, str] = MappingProxyType({})
_UNESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})")


def _unescape_sub(m: re.Match[bytes]) -> bytes:
    g = m.group(1)
    return b"\\" if g == b"\\" else bytes((int(g[1:], 16),))


def unescape(value: bytes) -> str:
    """Decode one field value: ``\\\\`` and ``\\xHH`` back to bytes, then UTF-8 (surrogateescape)."""
    if b"\\" in value:
        value = _UNESCAPE.sub(_unescape_sub, value)
    return value.decode("utf-8", "surrogateescape")


def escape(value: str | bytes) -> bytes:
    """The inverse of :func:`unescape` (used by tests and by integrations written in Python)."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    out = bytearray()
    for b in raw:
        if b == 0x5C:
            out += b"\\\\"
        elif b < 0x20 or b == 0x7F or b == 0x3B:
            out += b"\\x%02x" % b
        else:
            out.append(b)
    return bytes(out)


class Mark(NamedTuple):
    """One genuine marker: its event letter, sequence number and fields.

    ``event == "!"`` is not from the shell: it tells the consumer, at the right place in
    the stream, that a forged or replayed marker just passed through as data.

    ``raw``: the marker's body (``seq;event;k=v;…``) with its fields not parsed yet
    (``Segmenter(lazy=True)``, the recorder's relay: the fields are parsed by whoever
    keeps the record, off the path that shows the output). :func:`with_fields` parses it.
    """

    event: str
    seq: int
    fields: Mapping[str, str] = _NO_FIELDS
    raw: bytes | None = None


def parse_fields(body: bytes) -> dict[str, str]:
    """The fields of a marker body ``seq;event;k=v;…`` (a ``rawcwd`` runs to the end)."""
    fields: dict[str, str] = {}
    raw_at = body.find(b";rawcwd=")
    if raw_at >= 0:
        # cmd.exe's $P: the path verbatim, to the terminator (it cannot be escaped).
        fields["rawcwd"] = body[raw_at + 8 :].decode("utf-8", "surrogateescape")
        body = body[:raw_at]
    for p in body.split(b";")[2:]:
        k, sep, v = p.partition(b"=")
        if sep:
            fields[k.decode("ascii", "replace")] = unescape(v)
    return fields


def _head(body: bytes) -> tuple[int, str, bool] | None:
    """The seq and event letter of a body ``seq;event[;k=v…]``, and whether fields
    follow; None when it is not one."""
    a = body.find(b";")
    if a <= 0:
        return None
    b = body.find(b";", a + 1)
    event = body[a + 1 :] if b < 0 else body[a + 1 : b]
    if not event or not body[:a].isdigit():
        return None
    return int(body[:a]), event.decode("ascii", "replace"), b >= 0


def from_body(body: bytes) -> Mark:
    """The mark a body checked by :meth:`Segmenter.feed` stands for, fields parsed (the
    bookkeeping child gets the body of a lazy mark over its pipe)."""
    head = _head(body)
    if head is None:
        raise ValueError("not a marker body")
    seq, event, more = head
    return Mark(event, seq, parse_fields(body) if more else _NO_FIELDS)


def with_fields(m: Mark) -> Mark:
    """``m`` with its fields parsed (itself when they already are)."""
    return m if m.raw is None else Mark(m.event, m.seq, parse_fields(m.raw))


SPOOF = Mark("!", -1)
_tuple_new = tuple.__new__


def encode_mark(osc_num: int, nonce: str, seq: int, event: str, **fields: str) -> bytes:
    """Wire bytes of a marker (what the shell hooks print)."""
    parts = [b"\x1b]%d;%s;%d;%s" % (osc_num, nonce.encode(), seq, event.encode())]
    parts += [k.encode() + b"=" + escape(v) for k, v in fields.items()]
    return b";".join(parts) + b"\x07"


class Segmenter:
    """Split a PTY byte stream into data and genuine markers."""

    def __init__(self, nonce: str, osc_num: int = 6973, *, unsequenced: bool = False, lazy: bool = False) -> None:
        """``unsequenced``: accept seq 0 any number of times (cmd.exe's PROMPT markers are
        expanded by cmd itself and cannot count); every other seq must still increase.
        ``lazy``: marks carry their body in ``raw``, fields unparsed (see :class:`Mark`)."""
        self.unsequenced = unsequenced
        self.lazy = lazy
        self.last_event = ""  # the last genuine marker's event letter
        self.intro = b"\x1b]%d;" % osc_num
        self.full = self.intro + nonce.encode("ascii") + b";"
        # A whole genuine marker (the fast path, :meth:`_split_genuine`): the body has no
        # ESC or BEL, its head is ``seq;event`` as :func:`_head` reads it.
        self._genuine = re.compile(re.escape(self.full) + rb"((\d+);([^;\x07\x1b]+)(;[^\x07\x1b]*)?)(?:\x07|\x1b\\)")
        self._held = b""
        self._last_seq = -1
        # The bodies of the last few genuine markers. The line editor draws the prompt
        # again as it was (bash's Ctrl-L, a resize), B marker and all: a marker that is
        # byte for byte one of these is that redraw, not a replay — stripped and dropped
        # (it says nothing new), never shown, recorded or counted as a spoof.
        self._recent: deque[bytes] = deque(maxlen=4)
        self.redraws = 0
        self.spoof_attempts = 0  # foreign intros with our OSC number, bad nonce, replays

    @property
    def holding(self) -> bool:
        return bool(self._held)

    @property
    def in_marker(self) -> bool:
        """The held bytes begin a marker whose nonce matched (one of ours, not yet ended)."""
        return self._held.startswith(self.full)

    def flush(self) -> bytes:
        """Release held bytes as data (idle timeout or end of stream)."""
        held, self._held = self._held, b""
        return held

    def feed(self, chunk: bytes) -> list[bytes | Mark]:
        return self.split(chunk)[1]

    def split(self, chunk: bytes) -> tuple[bytes, list[bytes | Mark]]:
        """``feed``, and the data of its pieces joined (what the terminal is to show)."""
        buf = self._held + chunk if self._held else chunk
        self._held = b""
        i = buf.find(self.intro)
        if i < 0:
            if buf.find(b"\x1b", max(0, len(buf) - len(self.intro) + 1)) < 0:
                return buf, [buf] if buf else []  # no marker, nothing to hold (most output)
        else:
            done = self._split_genuine(buf)
            if done is not None:
                return done
        return self._split_buf(buf, i)

    def _split_slow(self, chunk: bytes) -> tuple[bytes, list[bytes | Mark]]:
        """:meth:`split` without its fast path (the reference the tests hold it to)."""
        buf = self._held + chunk if self._held else chunk
        self._held = b""
        return self._split_buf(buf, buf.find(self.intro))

    def _split_genuine(self, buf: bytes) -> tuple[bytes, list[bytes | Mark]] | None:
        """The common chunk, split by one C-level ``re.split``: every intro in it starts a
        whole genuine marker of ours with a seq in order, and none is cut off at its end.
        None (and nothing changed) for anything else: :meth:`_split_buf` takes it."""
        parts = self._genuine.split(buf)
        intro = self.intro
        if buf.count(intro) != len(parts) // 5:  # per marker: body, seq, event, fields
            return None  # some intro is not one of ours whole: spoof, partial, malformed
        tail = parts[-1]  # a partial intro can only be in the data after the last marker
        if tail:
            j = tail.rfind(b"\x1b", max(0, len(tail) - len(intro) + 1))
            if j >= 0 and intro.startswith(tail[j:]):
                return None  # held back until the next chunk
        last, unsequenced, lazy = self._last_seq, self.unsequenced, self.lazy
        bodies: list[bytes] = []
        out: list[bytes | Mark] = []
        ev = ""
        it = iter(parts)
        # Five at a time; the data after the last marker (tail) is left over.
        for data, body, digits, letter, more in zip(it, it, it, it, it, strict=False):
            if data:
                out.append(data)
            seq = int(digits)
            if not (seq == 0 and unsequenced):
                if seq <= last:
                    return None  # replayed, or a redraw: nothing committed yet
                last = seq
                bodies.append(body)
            ev = letter.decode("ascii", "replace")
            # tuple.__new__: a NamedTuple's own __new__ is a Python function (a frame per mark).
            if more is None:
                out.append(_tuple_new(Mark, (ev, seq, _NO_FIELDS, None)))
            elif lazy:
                out.append(_tuple_new(Mark, (ev, seq, _NO_FIELDS, body)))
            else:
                out.append(_tuple_new(Mark, (ev, seq, parse_fields(body), None)))
        if tail:
            out.append(tail)
        # All of them genuine: now the state moves, as the slow path would have moved it.
        self._last_seq = last
        self._recent.extend(bodies)
        self.last_event = ev
        return b"".join(parts[::5]), out

    def _split_buf(self, buf: bytes, i: int) -> tuple[bytes, list[bytes | Mark]]:
        """The general case, marker by marker (``i``: the first intro in ``buf``, or -1)."""
        intro, full = self.intro, self.full
        out: list[bytes | Mark] = []
        pos = 0
        n = len(buf)
        joined = False  # two data pieces may have come out side by side: join them
        while True:
            if pos:  # past the first turn: the next intro from here
                i = buf.find(intro, pos)
            if i < 0:
                keep = self._partial_suffix(buf, pos)
                end = n - keep
                if end > pos:
                    out.append(buf[pos:end])
                if keep:
                    self._held = buf[end:]
                break
            if i > pos:
                out.append(buf[pos:i])
            head_end = i + len(full)
            if head_end > n:
                if full.startswith(buf[i:]):  # could still be ours: wait for more bytes
                    self._held = buf[i:]
                    break
                self.spoof_attempts += 1
                out += (intro, SPOOF)
                joined = True
                pos = i + len(intro)
                continue
            if buf[i:head_end] != full:  # wrong nonce: pass through at once
                self.spoof_attempts += 1
                out += (intro, SPOOF)
                joined = True
                pos = i + len(intro)
                continue
            end, term_len = self._find_terminator(buf, head_end)
            if end < 0:
                if n - i > MARK_CAP or term_len < 0:
                    # Over-long or malformed (a raw ESC inside): not a marker we wrote.
                    out.append(intro)
                    joined = True
                    pos = i + len(intro)
                    continue
                self._held = buf[i:]
                break
            mark = self._parse(buf[head_end:end])
            if mark is None:
                if buf[head_end:end] in self._recent:
                    self.redraws += 1
                    joined = True
                else:
                    self.spoof_attempts += 1
                    out += (buf[i : end + term_len], SPOOF)
                    joined = True
            else:
                out.append(mark)
            pos = end + term_len
        if joined:
            out = _merge(out)
        return b"".join([p for p in out if p.__class__ is bytes]), out

    def _partial_suffix(self, buf: bytes, pos: int) -> int:
        """Length of the longest suffix of ``buf[pos:]`` that is a proper prefix of the intro."""
        j = buf.rfind(b"\x1b", max(pos, len(buf) - len(self.intro) + 1))
        if j >= 0 and self.intro.startswith(buf[j:]):
            return len(buf) - j
        return 0

    @staticmethod
    def _find_terminator(buf: bytes, start: int) -> tuple[int, int]:
        """(index, length) of BEL or ESC-backslash; (-1, 0) to wait; (-1, -1) if malformed."""
        bel = buf.find(b"\x07", start)
        esc = buf.find(b"\x1b", start, bel if bel >= 0 else len(buf))
        if esc < 0:
            return (bel, 1) if bel >= 0 else (-1, 0)
        if esc + 1 >= len(buf):
            return -1, 0
        if buf[esc + 1] == 0x5C:
            return esc, 2
        return -1, -1

    def _parse(self, body: bytes) -> Mark | None:
        head = _head(body)
        if head is None:
            return None
        seq, ev, more = head
        if not (seq == 0 and self.unsequenced):
            if seq <= self._last_seq:  # replayed or duplicated: never trusted twice
                return None
            self._last_seq = seq
            self._recent.append(body)
        self.last_event = ev
        if not more:
            return Mark(ev, seq)
        if self.lazy:
            return Mark(ev, seq, _NO_FIELDS, body)
        return Mark(ev, seq, parse_fields(body))


def _merge(items: list[bytes | Mark]) -> list[bytes | Mark]:
    """Join adjacent data pieces so callers see at most one ``bytes`` between marks."""
    if len(items) < 2:
        return items
    out: list[bytes | Mark] = []
    run: list[bytes] = []
    for it in items:
        if isinstance(it, bytes):
            run.append(it)
        else:
            if run:
                out.append(b"".join(run))
                run = []
            out.append(it)
    if run:
        out.append(b"".join(run))
    return out
