"""The one sanitizer: recorded text made inert before anyone sees it.

Every command that shows recorded text (``show``, ``search``, ``list``, the transcripts,
``replay`` to a pipe, ``etw``, every ``--json``) goes through this module, so the same
bytes read the same everywhere and nothing recorded can act on the viewer's terminal.

Three jobs:

* :func:`strip_sequences` removes ECMA-48 escape sequences the way a terminal consumes
  them. String controls (DCS, OSC, SOS, PM, APC, in their 7-bit ``ESC P``/``ESC ]``/
  ``ESC X``/``ESC ^``/``ESC _`` and 8-bit U+0090/U+009D/U+0098/U+009E/U+009F forms) end
  at ST in either form (``ESC \\`` or U+009C), OSC also at BEL, and CAN/SUB abort them.
  One that is *not* ended that way (cut off by the end of the text, by another escape
  or by a C1 control) swallows at most :data:`STRING_MAX` characters and never a line
  end, and is reported as the anomaly ``unterminated_string_control``: a stray U+0090
  must not erase the rest of a command's output.
* :func:`sanitize` is for people: sequences stripped, and every control character left
  (C0 but newline and tab, DEL, C1) and every character that reorders or hides text
  (the bidi embeddings/overrides/isolates and marks of the "Trojan Source" class, the
  line and paragraph separators) shown as a visible escape such as ``\\x07`` or
  ``\\u202e``. A recorded line therefore displays in the order it ran.
* :func:`json_escape` is for machines: a JSON document whose C1 controls, DEL and those
  same bidi characters are written as ``\\u`` escapes. JSON leaves them raw, and U+009B
  acts as CSI on some terminals even inside a string; the document decodes to the same
  values.
"""

from __future__ import annotations

import re

STRING_MAX = 4096  # characters an unterminated string control may swallow
UNTERMINATED = "unterminated_string_control"

# Characters that reorder or hide text around them (CVE-2021-42574 "Trojan Source"):
# ALM, LRM, RLM, the embeddings/overrides LRE RLE PDF LRO RLO, the isolates LRI RLI FSI
# PDI; and LS/PS, which some viewers treat as line breaks.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"

# Sequences ended the way a terminal ends them (one pass, C speed). String bodies exclude
# ESC, BEL (OSC), CAN, SUB and all C1: each of those ends the string, and excluding C1
# keeps a run of introducers from scanning the text once per introducer.
_OSC_BODY = "[^\x07\x18\x1a\x1b\x80-\x9f]*(?:\x07|\x9c|\x1b\\\\|[\x18\x1a])"
_STR_BODY = "[^\x18\x1a\x1b\x80-\x9f]*(?:\x9c|\x1b\\\\|[\x18\x1a])"
_ENDED = re.compile(  # ESC-led alternatives share their first character: one test per position
    "\x1b(?:"
    "\\[[0-?]*[ -/]*[@-~]"  # CSI
    f"|\\]{_OSC_BODY}"  # OSC
    f"|[PX^_]{_STR_BODY}"  # DCS, SOS, PM, APC
    "|[ -/]+[0-~]"  # ESC with intermediates: charset designations and the like
    "|[0-OQ-WYZ\\[\\\\`-~]"  # two-character escapes (not a string introducer)
    ")"
    "|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    f"|\x9d{_OSC_BODY}"
    f"|[\x90\x98\x9e\x9f]{_STR_BODY}"
)
# What the first pass leaves: string introducers without a proper end, and lone ESCs.
_OPEN = "\x1b[\\]PX^_]|[\x90\x9d\x98\x9e\x9f]"
_LEFT = re.compile(_OPEN)
_ANY = re.compile(f"{_ENDED.pattern}|(?P<open>{_OPEN})|\x1b")
_STRING_STOP = re.compile("[\n\x07\x18\x1a\x1b\x80-\x9f]")
_SEQ_START = re.compile("[\x1b\x90\x9b\x9d\x98\x9e\x9f]")

_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"
_SHOWN = re.compile(f"[{_CONTROL}{BIDI}]")
_JSON_ESCAPED = re.compile(f"[\x7f-\x9f{BIDI}]")


def strip_sequences(text: str, anomalies: set[str] | None = None) -> str:
    """``text`` without escape sequences (see the module doc); notes ``UNTERMINATED`` in
    ``anomalies`` when a string control had no proper end."""
    if _SEQ_START.search(text) is None:
        return text
    fast = _ENDED.sub("", text)
    if _LEFT.search(fast) is None:  # every string ended properly; lone ESCs may remain
        return fast.replace("\x1b", "") if "\x1b" in fast else fast
    # Rare: a string control without a proper end. Walk the original text in order, so
    # that such a string stops where the next sequence (or line, or C1) begins.
    out: list[str] = []
    pos = 0
    for m in _ANY.finditer(text):
        if m.start() < pos:
            continue  # inside what an unterminated string swallowed
        out.append(text[pos : m.start()])
        pos = m.end()
        if m.lastgroup == "open":
            limit = min(len(text), pos + STRING_MAX)
            stop = _STRING_STOP.search(text, pos, limit)
            pos = stop.start() if stop else limit
            if anomalies is not None:
                anomalies.add(UNTERMINATED)
    out.append(text[pos:])
    return "".join(out)


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text: str) -> str:
    """Controls and bidi characters as visible escapes (``\\x1b``, ``\\u202e``); newline and
    tab kept. Nothing is removed, so the text still says what was there."""
    return _SHOWN.sub(_escape, text)


def sanitize(text: str) -> str:
    """Text safe and honest to print: no escape sequences, every other control and bidi
    character shown as an escape, newline and tab kept (``\\r\\n`` read as a newline)."""
    text = strip_sequences(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return visible(text)


def sanitize_dropping(text: str) -> str:
    """:func:`sanitize` for a raw terminal stream (replay to a pipe), where ``\\r`` and
    ``\\b`` are layout, not content: controls are dropped; bidi characters are shown."""
    text = strip_sequences(text).replace("\r\n", "\n")
    text = re.sub(f"[{_CONTROL}]", "", text)
    return _SHOWN.sub(_escape, text)


_LAST_START = re.compile("[\x1b\x90\x9b\x9d\x98\x9e\x9f][^\x1b\x90\x9b\x9d\x98\x9e\x9f]*\\Z")


_CSI = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]")


def _unfinished(tail: str) -> bool:
    """``tail`` (from a sequence's first character to the end) may go on in the next piece."""
    if _ENDED.match(tail) is None:
        return True
    return tail.startswith("\x1b[") and _CSI.match(tail) is None  # "ESC [" alone is no CSI yet


class StreamSanitizer:
    """:func:`sanitize_dropping` over a stream cut anywhere (replay's frames): a sequence
    begun at the end of one piece and ended in the next is held back until it is whole
    (at most :data:`STRING_MAX` characters), so it is removed whole, not shown in part."""

    def __init__(self) -> None:
        self._carry = ""

    def feed(self, text: str) -> str:
        text = self._carry + text
        self._carry = ""
        m = _LAST_START.search(text)
        if m is not None and len(text) - m.start() < STRING_MAX and _unfinished(m.group()):
            text, self._carry = text[: m.start()], text[m.start() :]
        return sanitize_dropping(text)

    def flush(self) -> str:
        text, self._carry = self._carry, ""
        return sanitize_dropping(text)


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def json_escape(document: str) -> str:
    """A JSON document with C1, DEL and bidi characters written as ``\\u`` escapes.

    Only valid inside JSON strings — where json.dumps put them — so the document decodes
    to the same values and shows nothing active or reordered on a terminal.
    """
    return _JSON_ESCAPED.sub(_json_escape, document)
