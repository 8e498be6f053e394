"""The prompt's echo region in the .cast: held until the command line is known.

A secret typed at the prompt reaches the terminal in pieces: readline wraps at the right
margin with ``" \\r"``, a typo fixed with Backspace leaves ``"\\b\\x1b[K"`` inside the word,
cursor keys, Ctrl-A/E, history recall, Ctrl-R and paste redraw parts of the line. No
stream redactor can see a secret cut up like that. So the .cast output between a prompt's
start (mark ``A``) and its command's start (``C``) is held back (at most ``HOLD_MAX``
bytes). When the command is known:

* no secret in the command text nor in what the region shows: the held output goes to the
  .cast as it came (same bytes, same times);
* otherwise the region is drawn once, as it looks when Enter was pressed (a small screen
  model, :func:`render`), redacted: the .cast shows the prompt and the redacted line, not
  the keystroke-by-keystroke editing.

Only the recording is affected: the terminal gets every byte at once, as always.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

HOLD_MAX = 64 * 1024  # a prompt left open under background output: stop holding past this
RENDER_MAX = 8 * 1024  # regions longer than this are judged without the screen model
Redact = Callable[[str], "tuple[str, int]"]

_ESC_SEQ = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])")
_WRAP = re.compile(r" \r|\r(?=\n)")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PLACEHOLDER = re.compile(r"\[REDACTED:[A-Za-z0-9_]+\]")
# Anything but plain typing (a CR that ends the region, as bash's, is not an edit).
_EDITS = re.compile(r"[\b\x7f]|\r(?!\n|$)|\x1b\[[0-9;]*[A-HJKPX@]")
# What erasing a typo keeps: neither Backspace/DEL nor the other controls but LF.
_NOT_KEPT = re.compile(r"[\x00-\x07\x09\x0b-\x1f]")
_ERASE = re.compile(r"[\b\x7f]")
_MOVES = frozenset("ABCDGHfKJP@X")  # the CSI finals the model acts on; the rest move nothing
# One match per token: a run of printable text (drawn a row's worth at a time), or a CSI.
_TOKEN = re.compile(r"([^\x00-\x1f\x7f-\x9f]+)|\x1b\[([0-?]*)[ -/]*([@-~])")


class EchoHold:
    """What the .cast would have got since the prompt started: ("o", bytes, t) and
    ("r", (cols, rows), t) items, in order."""

    __slots__ = ("items", "size", "active")

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, float]] = []
        self.size = 0
        self.active = False

    def start(self) -> None:
        self.items, self.size, self.active = [], 0, True

    def add(self, data: bytes, t: float) -> bool:
        """Hold ``data``; False when the region has grown past HOLD_MAX (release it)."""
        self.items.append(("o", data, t))
        self.size += len(data)
        return self.size <= HOLD_MAX

    def add_resize(self, cols: int, rows: int, t: float) -> None:
        self.items.append(("r", (cols, rows), t))

    def release(self, cast: Any, text: str | None, redact: Redact | None) -> list[str]:
        """Hand the region to ``cast``; the secrets it held (then it was redrawn)."""
        items, self.items, self.size, self.active = self.items, [], 0, False
        if not items:
            return []
        raw = b"".join(d for k, d, _ in items if k == "o").decode("utf-8", "replace")
        found = _secrets(redact, text, raw) if redact is not None else []
        if not found:
            for kind, payload, t in items:
                if kind == "o":
                    cast.output(payload, t)
                else:
                    cast.resize(payload[0], payload[1], t)
            return []
        cols = 80
        t_last = items[-1][2]
        for kind, payload, _t in items:
            if kind == "r":
                cols = payload[0]
                cast.resize(payload[0], payload[1], t_last)
        assert redact is not None
        cast.output(redraw(raw, getattr(cast, "cols", None) or cols, redact, found), t_last)
        return found


def _secrets(redact: Redact, text: str | None, raw: str) -> list[str]:
    """The secrets in the command text and in what the region shows, by every reading.

    A reading equal to one already searched is not searched again (the redactor gives
    the same answer; a zsh line, with its ``e\\b`` echo, erases and renders the same)."""
    readings: list[str] = []
    if text:
        readings.append(text)
    # (each pattern needs a byte that is often absent: skip its pass then)
    shown = _ESC_SEQ.sub("", raw) if "\x1b" in raw else raw
    unwrapped = _WRAP.sub("", shown) if "\r" in shown else shown
    # keys as typed, wraps taken out (a printable text has no control to take out)
    readings.append(unwrapped if unwrapped.isprintable() else _CONTROLS.sub("", unwrapped))
    if "\b" in shown or "\x7f" in shown:  # a fixed typo: Backspace erases the key before it
        pieces = _ERASE.split(_NOT_KEPT.sub("", unwrapped))
        out = list(pieces[0])
        for piece in pieces[1:]:
            if out:
                out.pop()
            out += piece
        readings.append("".join(out))
    if len(raw) <= RENDER_MAX and _EDITS.search(raw):  # the line as finally shown
        readings.append("\n".join(render(raw, 4096)[0]))
    found: list[str] = []
    for reading in dict.fromkeys(readings):
        found += secrets_in(redact, reading)
    return [s for s in dict.fromkeys(found) if s.strip()]


def secrets_in(redact: Redact, text: str) -> list[str]:
    """The pieces of ``text`` that ``redact`` replaced (aligned on what it kept)."""
    out, n = redact(text)
    if not n:
        return []
    pieces = _PLACEHOLDER.split(out)
    found: list[str] = []
    if not text.startswith(pieces[0]):
        return [text]  # cannot align: treat all of it as secret
    pos = len(pieces[0])
    for i, lit in enumerate(pieces[1:], 1):
        last = i == len(pieces) - 1
        if not lit and not last:
            continue  # two placeholders side by side: one secret run
        end = len(text) - len(lit) if last else text.find(lit, pos)
        if end < pos:
            return [text]
        found.append(text[pos:end])
        pos = end + len(lit)
    return found


def scrub(data: bytes, secrets: list[str]) -> bytes:
    """``data`` without any run of 8 or more characters of a typed secret.

    After the command starts, shells and prompts put the command line into the window
    title (fish does, and many zsh/bash themes): a cut-off secret there is no whole
    shape for the redactor. Applied to output with a string control (OSC, DCS…) until the
    next prompt.
    """
    for s in secrets:
        b = s.encode("utf-8", "replace")
        i = 0
        while i + 8 <= len(b):
            j = data.find(b[i : i + 8])
            if j < 0:
                i += 1
                continue
            end, k = j + 8, i + 8
            while k < len(b) and end < len(data) and data[end] == b[k]:
                end, k = end + 1, k + 1
            data = data[:j] + b"[REDACTED]" + data[end:]
    return data


def redraw(raw: str, cols: int, redact: Redact, found: list[str]) -> bytes:
    """The region as it looks at its end, redacted, as text a terminal draws the same way."""
    lines, _ = render(raw, cols)
    text = "\n".join(lines)
    text = redact(text)[0]
    # Whatever the model drew wrong: no run of 8 characters of a secret found elsewhere.
    return scrub(("\x1b[0m" + text.replace("\n", "\r\n")).encode("utf-8", "replace"), found)


def render(raw: str, cols: int) -> tuple[list[str], int]:
    """A small screen model of a prompt's region: (logical lines, cursor row).

    Enough for line editors (printable text with auto-wrap, CR, LF, BS, TAB; CSI cursor
    moves, erase in line/display, insert/delete/erase characters; ESC 7/8). Rows the text
    wrapped onto are joined back into one logical line. Colours and modes are dropped.
    """
    rows, wrapped, r = _model(raw, cols)
    logical: list[str] = []
    for j, line in enumerate(rows[: r + 1]):
        if j and wrapped[j] and logical:
            logical[-1] += "".join(line)  # a row the text wrapped onto: same line
        else:
            logical.append("".join(line))
    return [x.rstrip() for x in logical], r


def screen_rows(raw: str, cols: int) -> list[str]:
    """The model's screen rows, to check it against a real emulator (tests)."""
    rows, _, _ = _model(raw, cols)
    return ["".join(x).rstrip() for x in rows]


def _model(raw: str, cols: int) -> tuple[list[list[str]], list[bool], int]:
    cols = max(2, cols)
    rows: list[list[str]] = [[]]
    wrapped: list[bool] = [False]  # row i continues row i-1
    r = c = 0
    pending = False
    saved = (0, 0)

    def row(i: int) -> list[str]:
        while len(rows) <= i:
            rows.append([])
            wrapped.append(False)
        return rows[i]

    def put(ch: str) -> None:
        nonlocal r, c, pending
        if pending:
            r, c, pending = r + 1, 0, False
            row(r)
            wrapped[r] = True
        line = row(r)
        if len(line) <= c:
            line.extend(" " * (c - len(line) + 1))
        line[c] = ch
        if c >= cols - 1:
            pending = True
        else:
            c += 1

    def put_run(text: str) -> None:
        """``put`` for each character of ``text``, a row's worth at a time."""
        nonlocal r, c, pending
        while text:
            if pending:
                r, c, pending = r + 1, 0, False
                row(r)
                wrapped[r] = True
            line = row(r)
            piece, text = text[: cols - c], text[cols - c :]
            if len(line) < c:
                line.extend(" " * (c - len(line)))
            line[c : c + len(piece)] = piece
            c += len(piece)
            if c >= cols:
                c, pending = cols - 1, True

    i, n = 0, len(raw)
    token = _TOKEN.match
    while i < n:
        m = token(raw, i)
        if m:
            i = m.end()
            f = m.group(3)
            if f is None:  # a run of printable text
                put_run(m.group(1))
                continue
            pending = False
            if f not in _MOVES:  # SGR, modes, …: nothing drawn, nothing moved
                if len(rows) <= r:
                    row(r)
                continue
            params = [int(p) if p.isdigit() else 0 for p in m.group(2).lstrip("?>=").split(";")]
            k = params[0] or 1
            line = row(r)
            if f == "A":
                r = max(0, r - k)
            elif f == "B":
                r += k
            elif f == "C":
                c = min(cols - 1, c + k)
            elif f == "D":
                c = max(0, c - k)
            elif f == "G":
                c = min(cols - 1, k - 1)
            elif f in "Hf":
                r, c = max(0, k - 1), max(0, (params[1] if len(params) > 1 and params[1] else 1) - 1)
            elif f == "K":
                mode = params[0]
                if mode == 0:
                    del line[c:]
                elif mode == 1:
                    line[: c + 1] = [" "] * min(len(line), c + 1)
                else:
                    line.clear()
            elif f == "J":
                mode = params[0]
                if mode == 0:
                    del line[c:]
                    del rows[r + 1 :]
                    del wrapped[r + 1 :]
                elif mode in (2, 3):
                    rows[:] = [[] for _ in rows]
            elif f == "P":
                del line[c : c + k]
            elif f == "@":
                line[c:c] = [" "] * k
                del line[cols:]
            elif f == "X":
                line[c : c + k] = [" "] * len(line[c : c + k])
            row(r)
            continue
        ch = raw[i]
        if ch == "\x1b":
            m2 = _ESC_SEQ.match(raw, i)
            seq = m2.group(0) if m2 else "\x1b"
            if seq == "\x1b7":
                saved = (r, c)
            elif seq == "\x1b8":
                r, c = saved
                pending = False
            i += len(seq)
            continue
        i += 1
        if ch == "\r":
            c, pending = 0, False
        elif ch == "\n":
            r, pending = r + 1, False
            row(r)
        elif ch in "\b":
            c, pending = max(0, c - 1), False
        elif ch == "\t":
            c = min(cols - 1, (c // 8 + 1) * 8)
        elif ch >= " " and ch != "\x7f" and not ("\x80" <= ch <= "\x9f"):
            put(ch)
    return rows, wrapped, r
