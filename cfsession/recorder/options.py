"""``cfsession record``'s options: the everyday argument forms, read without argparse.

Anything else (help, a typo, an abbreviation) goes to the CLI's parser, which calls
:func:`cfsession.recorder.main.run_options` with the same :class:`Options`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from cfsession.errors import CfsessionError, UsageError


class Options(NamedTuple):
    shell: str | None = None
    login: bool = False
    name: str | None = None
    session_type: str | None = None
    no_etw: bool = False
    quiet: bool = False
    command: list[str] = []  # never mutated
    pause_key: bytes | None = None
    pty: bool | None = None  # record -- CMD: None = a PTY only when stdin and stdout are terminals


_VALUED = {"--shell": "shell", "--name": "name", "-n": "name", "--type": "session_type",
           "--pause-key": "pause_key"}
_FLAGS = {"--login": "login", "-l": "login", "--no-etw": "no_etw", "--quiet": "quiet", "-q": "quiet"}
_PTY_FLAGS = {"--pty": True, "--no-pty": False}


def _parse_plain(argv: list[str]) -> dict[str, Any] | None:
    """The everyday argument lists, without importing argparse (~3 ms with gettext and
    locale, before the first prompt). None for anything else — help, a typo, an
    abbreviation — which argparse then handles with its usual messages."""
    out: dict[str, Any] = {"command": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--" or not a.startswith("-") or a == "-":
            out["command"] = argv[i + 1 :] if a == "--" else argv[i:]
            return out
        name, eq, value = a.partition("=")
        if name in _VALUED and (not eq or name.startswith("--")):
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            out[_VALUED[name]] = value
        elif a in _FLAGS:
            out[_FLAGS[a]] = True
        elif a in _PTY_FLAGS:
            out["pty"] = _PTY_FLAGS[a]
        else:
            return None
        i += 1
    return out


def parse(argv: list[str]) -> Options:
    """Options from the everyday argument forms (anything else: the CLI parses it, see main)."""
    plain = _parse_plain(argv)
    if plain is None:
        raise UsageError("cannot read these options", "see `cfsession record --help`")
    key = parse_key(plain["pause_key"]) if plain.get("pause_key") else None
    return Options(
        plain.get("shell"), plain.get("login", False), plain.get("name"),
        plain.get("session_type"), plain.get("no_etw", False), plain.get("quiet", False),
        list(plain["command"]), key, plain.get("pty"),
    )


def parse_key(spec: str) -> bytes:
    """``C-]``, ``^]``, ``ctrl-]`` → the control byte (0x1d); only C0 controls are accepted."""
    s = spec.strip()
    for prefix in ("ctrl-", "ctrl+", "c-", "^"):
        if s.lower().startswith(prefix):
            s = s[len(prefix) :]
            break
    else:
        raise CfsessionError(f"--pause-key {spec!r}: not a control key", "use a form like C-] or ^]")
    if len(s) != 1 or not ("@" <= s.upper() <= "_"):
        raise CfsessionError(f"--pause-key {spec!r}: not a control key", "use a form like C-] or ^]")
    return bytes((ord(s.upper()) ^ 0x40,))
