"""Redaction of a stream that arrives in arbitrary chunks (the .cast output).

A secret cut in two by a read boundary would escape a per-chunk regex — and a command
typed slowly is echoed one key per read — so :class:`StreamRedactor` holds back what may
be the start of a secret until the next chunk. See :mod:`cfsession.redact` for the shapes.
"""

from __future__ import annotations

import re

from cfsession.redact import _PEM, _PEM_BODY, PLACEHOLDER, Redactor

_PEM_FULL = re.compile(_PEM)
_PEM_MARK = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# Inside a block begun in an earlier chunk: its END line, or the rest of the current line
# (whatever it holds: the chunk may start mid-line) and the body lines that follow.
_PEM_REST = re.compile(
    r"(?:[ \t]*-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[^\r\n]*"
    + _PEM_BODY
    + r"(?:(?:[ \t]*\r*\n)+[ \t]*-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?)"
)
_NAME_IN_LINE = re.compile(
    r"password|passwd|passphrase|secret|token|credential|key|authorization|bearer", re.IGNORECASE
)
_WORD_REVERSED = re.compile(r"\S*")
HOLD_MAX = 4096  # longest partial word held back between chunks (JWTs run to ~2 KB)


def _hold_start(text: str) -> int:
    """Where the part of ``text`` that may be the start of a secret begins.

    That is the trailing partial word, or the rest of the last line from a key block's
    BEGIN or a secret-like name (its value may go on in the next chunk). Only the last
    ``HOLD_MAX`` characters are examined, so the cost is bounded per chunk.
    """
    n = len(text)
    if not n or text[-1] in "\r\n":
        return n  # the last line is empty: nothing to hold (most output ends so)
    base = max(0, n - HOLD_MAX)
    window = text[base:]
    line_at = max(window.rfind("\n"), window.rfind("\r")) + 1
    line = window[line_at:]
    begin = line.find("-----BEGIN")
    if begin >= 0:
        return base + line_at + begin
    m = _NAME_IN_LINE.search(line)
    if m:  # "password = 'two words" may go on in the next chunk
        return base + line_at + m.start()
    if window[-1].isspace():  # no partial word (a prompt ends in a space)
        return n
    run = _WORD_REVERSED.match(window[::-1])
    size = run.end() if run else 0
    if size >= HOLD_MAX:  # one endless word: nothing sensible to hold
        return n
    return n - size


class StreamRedactor:
    """Redacts a stream that arrives in arbitrary chunks (the .cast output).

    A secret cut in two by a read boundary would escape a per-chunk regex, so the
    trailing partial word of each chunk (or the rest of a line that names a secret) is
    held back and prepended to the next one — a prompt ends in a space, so interactive
    output is rarely held — and a private-key block left open at a chunk's end keeps
    being redacted in the following chunks. Call :meth:`flush` at a command boundary and
    at the end; ``count`` is the number of redactions so far.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._carry = ""
        self._in_pem = False
        self.count = 0

    def feed(self, text: str) -> str:
        text = self._carry + text
        cut = _hold_start(text)
        self._carry = text[cut:]
        return self._redact(text[:cut])

    def flush(self) -> str:
        text, self._carry = self._carry, ""
        return self._redact(text)

    def _redact(self, text: str) -> str:
        if not text:
            return text
        head = ""
        if self._in_pem:  # continuation of a key block begun in an earlier chunk
            m = _PEM_REST.match(text)
            end = m.end() if m else 0
            if end:
                head = PLACEHOLDER.format(kind="private_key")
                self.count += 1
            closed = text[:end].endswith("-----")
            text = text[end:]
            self._in_pem = not closed and not text.strip()
            if self._in_pem:
                return head + text
        out, n = self._redactor.redact(text)
        self.count += n
        self._in_pem = "private_key" in self._redactor.kinds and _ends_in_open_block(text)
        return head + out


def _ends_in_open_block(text: str) -> bool:
    """True when the text's last key block runs to its very end without an END line."""
    if "PRIVATE KEY" not in text:
        return False
    marks = list(_PEM_MARK.finditer(text))
    if not marks or marks[-1].group(1) != "BEGIN":
        return False
    m = _PEM_FULL.match(text, marks[-1].start())
    return m is not None and m.end() >= len(text.rstrip())
