"""Control keys as people write them (``Ctrl-]``), for messages about the pause key."""

from __future__ import annotations

_NAMES = {0x00: "Ctrl-@", 0x1B: "Ctrl-[", 0x1C: "Ctrl-\\", 0x1D: "Ctrl-]", 0x1E: "Ctrl-^", 0x1F: "Ctrl-_"}


def key_name(key: bytes) -> str:
    """A control byte as people write it: ``Ctrl-]``, ``Ctrl-T`` (never a bytes repr)."""
    b = key[0]
    return _NAMES.get(b) or f"Ctrl-{chr(b ^ 0x40)}"


def toggle_notice(paused: bool, key: bytes) -> bytes:
    """What the terminal (never the recording) shows when the pause key toggles capture:
    on a line of its own, so it reads the same at a prompt or under a running program."""
    text = (f"[cfsession: recording paused — {key_name(key)} resumes]" if paused
            else "[cfsession: recording resumed]")
    return f"\r\n{text}\r\n".encode()
