"""Convert one recorded session: asciicast v2/v3, text and markdown transcripts, JSONL.

asciicast follows ANCHORS.md §5 exactly: v2 is the header object then absolute-time
``[t, code, data]`` lines, never a blank or ``#`` line (asciinema 2.x stops or fails on
them), one ``[t, "m", "$ <command>"]`` marker per command; v3 nests the size under
``term``, writes intervals rounded to milliseconds by error diffusion (rounding the
absolute times, so the error never accumulates) and ends with the ``"x"`` exit event.
Transcripts are for reading: every recorded string passes through ``sanitize``.

Every format streams: the .cast is read a frame at a time and, for a session loaded
light (:func:`cfsession.store.load_session`), each command's output is read again from
the JSONL as it is written out, so memory does not grow with the recording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cfsession import store
from cfsession.store import Frame, LoadedSession, StoreWarning, as_float, as_int, as_str

FORMATS = ("asciicast", "asciicast-v3", "text", "markdown", "jsonl", "html")
STREAMED = ("asciicast", "asciicast-v3", "text", "markdown", "jsonl")  # work on a light load
_CODES = {"o", "i", "m", "r"}


# -- the stream ---------------------------------------------------------------------------
def iter_cast_frames(
    loaded: LoadedSession, cast_file: Path, warnings: list[StoreWarning] | None = None
) -> tuple[dict[str, Any], Iterator[Frame]]:
    """A normalised asciicast v2 header and the frames of a session, markers included,
    read one at a time.

    The recorder's .cast is used when it exists; otherwise the stream is rebuilt from each
    command's plain output so that a lost .cast still replays and exports.
    """
    problems: list[StoreWarning] = warnings if warnings is not None else []
    lost = cast_lost(cast_file)
    if lost:
        problems.append(StoreWarning(str(cast_file), None, f"{lost}; rebuilt from the plain output"))
        return normalise_header({}, loaded), synth_frames(loaded)
    try:
        header, frames = store.iter_cast(cast_file, problems)
        marked = _has_markers(cast_file)
    except OSError as exc:
        problems.append(StoreWarning(str(cast_file), None, f"cannot read ({exc.strerror or exc})"))
        header, frames, marked = {}, iter(()), False
    if not marked:
        frames = _with_markers(frames, loaded)
    return normalise_header(header, loaded), frames


def cast_lost(cast_file: Path) -> str | None:
    """``"missing"`` or ``"empty"`` when the .cast holds nothing at all (deleted; or 0 bytes:
    the disk was full or the file was emptied), so the stream must be rebuilt; else None."""
    try:
        return "empty" if cast_file.stat().st_size == 0 else None
    except FileNotFoundError:
        return "missing"
    except OSError:
        return None  # unreadable: reading it says so


def _has_markers(cast_file: Path) -> bool:
    """Whether the .cast has a marker event; read until the first one (the recorder writes
    one per command, so that is near the top), a separate pass in constant memory."""
    for raw, _end in store.LineReader(cast_file):
        if b'"m"' in raw:
            try:
                item = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(item, list) and len(item) == 3 and item[1] == "m":
                return True
    return False


def normalise_header(header: dict[str, Any], loaded: LoadedSession) -> dict[str, Any]:
    """Required keys as ints (asciinema 2.x asserts it), env values as strings only."""
    start = loaded.start
    width = as_int(header.get("width")) or as_int(start.get("cols")) or 80
    height = as_int(header.get("height")) or as_int(start.get("rows")) or 24
    out: dict[str, Any] = {"version": 2, "width": width, "height": height}
    ts = as_int(header.get("timestamp"))
    if ts is None:
        t0 = store.epoch(start.get("started_at"))
        ts = int(t0) if t0 is not None else None
    if ts is not None:
        out["timestamp"] = ts
    idle = as_float(header.get("idle_time_limit"))
    if idle is not None:
        out["idle_time_limit"] = idle
    out["title"] = as_str(header.get("title")) or f"cfsession {loaded.session_id}"
    raw_env = header.get("env")
    env: dict[str, str] = {}
    if isinstance(raw_env, dict):
        env = {k: v for k, v in raw_env.items() if isinstance(k, str) and isinstance(v, str)}
    env.setdefault("SHELL", as_str(start.get("shell")) or "")
    env.setdefault("TERM", as_str(start.get("term")) or "")
    # asciinema 3.0.0 cannot read a null env value; empty ones are simply left out.
    out["env"] = {k: v for k, v in env.items() if v}
    return out


def marker_label(command: object) -> str:
    return "$ " + (store.as_str(command) or "")


def synth_frames(loaded: LoadedSession) -> Iterator[Frame]:
    """Frames rebuilt from plain output: prompt, command and output at each command's time."""
    t0 = store.epoch(loaded.start.get("started_at"))
    last = 0.0
    for c in loaded.full_commands():
        t = as_float(c.get("cast_start"))
        if t is None and t0 is not None:
            t = (store.epoch(c.get("started_at")) or t0) - t0
        t = max(last, t or last)
        output = (as_str(c.get("output")) or "").replace("\r\n", "\n").replace("\n", "\r\n")
        yield (t, "m", marker_label(c.get("command")))
        yield (t, "o", f"$ {as_str(c.get('command')) or ''}\r\n{output}")
        last = max(t, as_float(c.get("cast_end")) or t)


def _with_markers(frames: Iterable[Frame], loaded: LoadedSession) -> Iterator[Frame]:
    """Frames with a marker per command merged in by time (a marker goes before output
    stamped at the same time); the frames are non-decreasing in time (read_cast)."""
    marks = sorted(((t, "m", marker_label(c.get("command")))
                    for c in loaded.commands if (t := as_float(c.get("cast_start"))) is not None),
                   key=lambda m: m[0])
    i = 0
    for f in frames:
        while i < len(marks) and marks[i][0] <= f[0]:
            yield marks[i]
            i += 1
        yield f
    yield from marks[i:]


# -- asciicast ------------------------------------------------------------------------------
def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def asciicast_v2(header: dict[str, Any], frames: Iterable[Frame]) -> Iterator[str]:
    yield _dump(header) + "\n"
    last = 0.0
    for t, code, data in frames:
        if code not in _CODES:
            continue
        last = max(last, t)
        yield f"[{last:.6f}, {_dump(code)}, {_dump(data)}]\n"


def asciicast_v3(header: dict[str, Any], frames: Iterable[Frame], *, exit_code: int | None,
                 end_time: float | None = None) -> Iterator[str]:
    env = header.get("env", {})
    term: dict[str, Any] = {"cols": header["width"], "rows": header["height"]}
    if env.get("TERM"):
        term["type"] = env["TERM"]
    h3: dict[str, Any] = {"version": 3, "term": term}
    for key in ("timestamp", "idle_time_limit", "title"):
        if key in header:
            h3[key] = header[key]
    if env.get("SHELL"):
        h3["env"] = {"SHELL": env["SHELL"]}
    yield _dump(h3) + "\n"
    prev = 0  # milliseconds, of the previous event's rounded absolute time
    for t, code, data in frames:
        if code not in _CODES:
            continue
        q = max(prev, round(t * 1000))
        yield f"[{(q - prev) / 1000:.3f}, {_dump(code)}, {_dump(data)}]\n"
        prev = q
    if exit_code is not None:
        q = max(prev, round((end_time or 0.0) * 1000))
        yield f"[{(q - prev) / 1000:.3f}, \"x\", {_dump(str(exit_code))}]\n"


# -- transcripts ----------------------------------------------------------------------------
def _command_lines(command: object) -> str:
    from cfsession.text import sanitize

    text = store.as_str(command)
    if text is None:
        return "$ (command not recorded)\n"
    lines = sanitize(text).rstrip("\n").split("\n")
    return "$ " + "\n> ".join(lines) + "\n"


def _output(c: dict[str, Any]) -> str:
    from cfsession.text import sanitize

    out = sanitize(as_str(c.get("output")) or "")
    return out if not out or out.endswith("\n") else out + "\n"


def _gaps_after(loaded: LoadedSession) -> dict[int, list[str]]:
    """Pauses in capture by the seq of the command before them (0: before the first)."""
    out: dict[int, list[str]] = {}
    for g in store.gaps(loaded):
        out.setdefault(int(g["after_command"]), []).append(store.gap_text(g))
    return out


def text_transcript(loaded: LoadedSession) -> Iterator[str]:
    """``$ command``, its plain output, ``[exit N]`` when it failed; a blank line between;
    ``[capture paused …]`` where capture was paused."""
    gaps = _gaps_after(loaded)
    first = True
    for line in gaps.get(0, []):
        yield ("" if first else "\n") + line + "\n"
        first = False
    for c in loaded.full_commands():
        if not first:
            yield "\n"
        first = False
        yield _command_lines(c.get("command"))
        yield _output(c)
        if store.is_failed(c.get("exit_code"), c.get("status_kind")):
            yield f"[exit {c['exit_code']}]\n"
        for line in gaps.get(as_int(c.get("command_seq")) or -1, []):
            yield "\n" + line + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def _md(text: object) -> str:
    from cfsession.text import sanitize

    return _MD_SPECIAL.sub(r"\\\1", sanitize(str(text)).replace("\n", " "))


def markdown_transcript(loaded: LoadedSession) -> Iterator[str]:
    s = loaded.start
    summary = store.summarise(loaded)
    yield f"# {_md(as_str(s.get('name')) or 'Session ' + loaded.session_id[:8])}\n\n"
    facts = [
        ("Session", loaded.session_id),
        ("Started", as_str(s.get("started_at"))),
        ("Duration", _seconds(summary["duration_ms"])),
        ("Host", " · ".join(_md(v) for v in (s.get("user"), s.get("host")) if isinstance(v, str))),
        ("Shell", as_str(s.get("shell"))),
        ("Directory", as_str(s.get("cwd"))),
        ("Commands", f"{summary['command_count']} ({summary['failed_count']} failed)"),
    ]
    for label, value in facts:
        if value:
            yield f"- **{label}:** {value if label in ('Host', 'Commands', 'Duration') else _md(value)}\n"
    gaps = _gaps_after(loaded)
    for line in gaps.get(0, []):
        yield f"\n*{_md(line)}*\n"
    for c in loaded.full_commands():
        body = _command_lines(c.get("command")) + _output(c)
        fence = "`" * max(3, _longest_run(body, "`") + 1)
        yield f"\n{fence}console\n{body}{fence}\n"
        notes = []
        if store.is_failed(c.get("exit_code"), c.get("status_kind")):
            notes.append(f"exit {c['exit_code']}")
        if as_float(c.get("duration_ms")) is not None and c["duration_ms"] >= 1000:
            notes.append(_seconds(c["duration_ms"]))
        if notes:
            yield f"\n*{' · '.join(notes)}*\n"
        for line in gaps.get(as_int(c.get("command_seq")) or -1, []):
            yield f"\n*{_md(line)}*\n"


def _longest_run(text: str, ch: str) -> int:
    runs = re.findall(re.escape(ch) + "+", text)
    return max((len(r) for r in runs), default=0)


def _seconds(ms: object) -> str:
    v = as_float(ms)
    return "" if v is None else f"{v / 1000:.1f} s"


# -- one entry point ------------------------------------------------------------------------
def export(loaded: LoadedSession, fmt: str, cast_file: Path,
           warnings: list[StoreWarning] | None = None) -> Iterator[bytes]:
    """The session in ``fmt`` as UTF-8 chunks (``jsonl``: the valid lines, byte-exact)."""
    if fmt == "jsonl":
        for raw in loaded.iter_raw():
            yield raw + b"\n"
        return
    if fmt in ("asciicast", "asciicast-v3"):
        header, frames = iter_cast_frames(loaded, cast_file, warnings)
        if fmt == "asciicast":
            chunks = asciicast_v2(header, frames)
        else:
            end = loaded.end
            exit_code = as_int(end.get("exit_code")) if end else None
            end_ms = as_float(end.get("duration_ms")) if end else None
            chunks = asciicast_v3(header, frames, exit_code=exit_code,
                                  end_time=end_ms / 1000 if end_ms is not None else None)
    elif fmt == "text":
        chunks = text_transcript(loaded)
    elif fmt == "markdown":
        chunks = markdown_transcript(loaded)
    elif fmt == "html":
        from cfsession import export_html  # the page: player, cast and timeline (issue 17)

        chunks = export_html.page(loaded, cast_file, warnings)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    for chunk in chunks:
        # Lone surrogates (from \udcxx escapes in JSON) cannot be UTF-8: replace, don't crash.
        yield chunk.encode("utf-8", "replace")
