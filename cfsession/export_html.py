"""One self-contained HTML page for a session: the asciinema player, the cast, a command timeline.

The page works from ``file://`` with no network: the vendored asciinema-player bundle
(cfsession/web/asciinema-player, refreshed by scripts/refresh-player) and cfsession/web's
script and stylesheet are inlined, and the cast is a non-executed ``<script
type="application/x-asciicast">`` data block the player reads as a string. Its
Content-Security-Policy allows exactly those inline blocks, by hash, and
``'wasm-unsafe-eval'``: the player's terminal emulator is WebAssembly compiled from bytes
inside the bundle, which Chromium refuses without it. Nothing else (no eval, no workers, no
network, no images) is allowed.

Every recorded string is sanitised (``text.sanitize``) and HTML-escaped before it is written;
in the cast data every ``<`` is written ``\\u003c`` so no recorded text can end the block.
The page holds only what the store holds (redaction happened at record time); keystrokes
(``"i"`` events) are never written.

Big sessions (:mod:`cfsession.html_cast`): the cast is streamed twice, never held; output
over ``OUTPUT_BUDGET`` characters keeps each command's head and tail, and pauses over
``IDLE_LIMIT`` are shortened (the cast header's ``idle_time_limit`` wins when set); the list
shows the recorded times.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import signal
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from cfsession import store
from cfsession.html_cast import (
    Plan,
    cast_lines,
    iter_cast,
    plan,
    played_frames,
    size_text,
    warn,
)
from cfsession.records import first_record
from cfsession.store import Frame, LoadedSession, StoreWarning, as_float, as_int, as_str

WEB = Path(__file__).resolve().parent / "web"
PLAYER = WEB / "asciinema-player"
IDLE_LIMIT = 5.0  # seconds; a pause longer than this plays as this long
OUTPUT_BUDGET = 16 * 1024 * 1024  # characters of output embedded: a ~20 MiB page, ready in ~1-2 s
COMMAND_SHOWN = 2000  # characters of a command line shown in the list


# -- the page -------------------------------------------------------------------------------
@cache
def asset(name: str) -> str:
    return (WEB / name).read_text(encoding="utf-8")


@cache
def player_js() -> str:
    """The player bundle with its few raw control characters (ESC and DEL, in string
    literals) written as ``\\xNN`` escapes: the same program, and a file that is safe to
    ``cat``."""
    raw = asset("asciinema-player/asciinema-player.min.js")
    return _JS_RAW.sub(lambda m: f"\\x{ord(m.group()):02x}", raw)


_JS_RAW = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def player_version() -> str:
    return str(json.loads(asset("asciinema-player/VERSION.json"))["version"])


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def csp(scripts: list[str], style: str) -> str:
    return "; ".join([
        "default-src 'none'",
        # the player compiles its WebAssembly terminal from bytes: needs wasm-unsafe-eval
        "script-src " + " ".join(_hash(s) for s in scripts) + " 'wasm-unsafe-eval'",
        "style-src " + _hash(style),
        "base-uri 'none'",
        "form-action 'none'",
    ])


def _e(value: object) -> str:
    """Recorded text for HTML: terminal controls removed, then escaped (quotes included)."""
    from cfsession.text import sanitize

    return html.escape(sanitize(str(value)), quote=True)


def page(loaded: LoadedSession, cast_file: Path, warnings: list[StoreWarning] | None = None, *,
         budget: int | None = None, idle_limit: float | None = IDLE_LIMIT,
         chain: Any = None) -> Iterator[str]:
    """The page as text chunks; the cast is streamed from ``cast_file`` (twice), never held."""
    budget = OUTPUT_BUDGET if budget is None else budget
    header = first_record(cast_file) if cast_file.exists() else {}
    width = as_int(header.get("width")) or as_int(loaded.start.get("cols")) or 80
    height = as_int(header.get("height")) or as_int(loaded.start.get("rows")) or 24
    limit = as_float(header.get("idle_time_limit")) or idle_limit
    source: Callable[[list[StoreWarning] | None], Iterable[Frame]]
    from cfsession.export import cast_lost

    lost = cast_lost(cast_file)
    if not lost:
        source = lambda w: iter_cast(cast_file, w)  # noqa: E731
    else:
        from cfsession.export import synth_frames

        warn(warnings, cast_file, 0, f"{lost}; rebuilt from the plain output")
        source = lambda _w: synth_frames(loaded)  # noqa: E731 — a generator: one per pass
    commands = loaded.commands
    points = [t for c in commands for k in ("cast_start", "cast_end")
              if (t := as_float(c.get(k))) is not None]
    starts = [t for c in commands if (t := as_float(c.get("cast_start"))) is not None]
    p = plan(source(None), starts, points, limit, budget)
    if chain is None:
        chain = _verify(loaded, cast_file)

    style = asset("asciinema-player/asciinema-player.css") + "\n" + asset("page.css")
    player, page_js = player_js(), asset("page.js")
    s = loaded.start
    title = as_str(s.get("name")) or f"Session {loaded.session_id[:8]}"
    yield ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
           f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp([player, page_js], style)}\">\n"
           "<meta name=\"referrer\" content=\"no-referrer\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           f"<meta name=\"generator\" content=\"cfsession; asciinema-player {player_version()}\">\n"
           f"<title>{_e(title)} · cfsession</title>\n<style>{style}</style>\n</head><body>\n")
    yield _header(loaded, title, chain)
    yield "<main>\n<section id=\"screen\"><div id=\"player\"></div>\n"
    yield _notes(p, limit, [store.gap_text(g) for g in store.gaps(loaded)])
    yield "</section>\n"
    yield _timeline(commands, p)
    yield "</main>\n<script type=\"application/x-asciicast\" id=\"cast\">"
    frames = played_frames(source(warnings), p, limit, loaded.session_id)
    yield from cast_lines(width, height, frames)
    yield f"</script>\n<script>{player}</script>\n<script>{page_js}</script>\n</body></html>\n"


def _verify(loaded: LoadedSession, cast_file: Path) -> Any:
    from cfsession import verify

    return verify.verify_session(loaded.path, cast_file, alive=verify.recorder_alive)


def _header(loaded: LoadedSession, title: str, chain: Any) -> str:
    s = loaded.start
    summary = store.summarise(loaded)
    status = str(getattr(chain, "status", "unknown"))
    icon = {"intact": "✓", "tampered": "✗"}.get(status, "…")
    chain_text = f"{icon} {status}"
    final = getattr(chain, "final_hash", None)
    if status == "intact" and final:
        chain_text += f" (final hash {final[:16]})"
    elif getattr(chain, "reason", None):
        chain_text += f" — {chain.reason}"
    facts = [
        ("Host", s.get("host")), ("User", s.get("user")), ("Shell", s.get("shell")),
        ("Started", _when(s.get("started_at"))), ("Duration", _duration(summary["duration_ms"])),
        ("Commands", f"{summary['command_count']} ({summary['failed_count']} failed)"),
        ("Directory", s.get("cwd")), ("Id", loaded.session_id),
    ]
    rows = "".join(f"<div><dt>{k}</dt><dd>{_e(v)}</dd></div>" for k, v in facts if v not in (None, ""))
    rows += (f"<div><dt>Chain</dt><dd class=\"chain-{_e(status)}\" id=\"chain\">{_e(chain_text)}</dd></div>")
    return f"<header><h1>{_e(title)}</h1><dl>{rows}</dl></header>\n"


def _notes(p: Plan, limit: float | None, gaps: list[str] | None = None) -> str:
    notes = ["Times in the list are as recorded, in UTC."]
    if gaps:  # pauses in capture: nothing was recorded there (the screen marks where)
        notes.append(f"Capture was paused {len(gaps)} time{'' if len(gaps) == 1 else 's'}: " + " ".join(gaps) + ".")
    if limit is not None:
        notes.append(f"Pauses longer than {limit:g} s play as {limit:g} s.")
    if p.dropped:
        notes.append(f"This page holds {size_text(p.total - p.dropped)} of the {size_text(p.total)} of "
                     "output: the middle of the longest outputs is left out (marked on screen).")
    return f"<p class=\"note\">{html.escape(' '.join(notes))}</p>\n"


def _timeline(commands: list[store.Record], p: Plan) -> str:
    items = [_item(c, p) for c in commands]
    return ("<aside id=\"timeline\"><div class=\"tools\">"
            "<input type=\"search\" id=\"filter\" placeholder=\"Filter commands\" aria-label=\"Filter commands\">"
            "<label><input type=\"checkbox\" id=\"failed-only\"> failed only</label>"
            "<output id=\"shown\"></output></div>\n"
            f"<ol id=\"commands\">\n{''.join(items)}</ol></aside>\n")


def _item(c: store.Record, p: Plan) -> str:
    from cfsession.text import sanitize

    text = sanitize(as_str(c.get("command")) or "(command not recorded)")
    shown = text if len(text) <= COMMAND_SHOWN else text[:COMMAND_SHOWN] + " …"
    code = c.get("exit_code")
    kind = "unknown" if as_int(code) is None else ("failed" if store.is_failed(code) else "ok")
    icon = {"ok": "✓", "failed": "✗", "unknown": "?"}[kind]
    exit_text = "exit ?" if kind == "unknown" else f"exit {code}{_signal(as_int(code))}"
    attrs = f" class=\"{kind}\" data-text=\"{_e((text + ' ' + (as_str(c.get('cwd')) or '')).lower())}\""
    start, end = as_float(c.get("cast_start")), as_float(c.get("cast_end"))
    disabled = " disabled title=\"not in the recording\""
    if start is not None and start in p.player_time:
        attrs += f" data-t=\"{p.player_time[start]:.3f}\""
        if end is not None and end in p.player_time:
            attrs += f" data-end=\"{p.player_time[end]:.3f}\""
        disabled = ""
    meta = [f"<span class=\"exit\">{_e(exit_text)}</span>"]
    if (d := _duration(c.get("duration_ms"))):
        meta.append(f"<span class=\"dur\">{d}</span>")
    if (at := _clock(c.get("started_at"))):
        meta.append(f"<time datetime=\"{_e(c.get('started_at'))}\">{at}</time>")
    if as_str(c.get("cwd")):
        meta.append(f"<span class=\"cwd\">{_e(c.get('cwd'))}</span>")
    return (f"<li{attrs}><button type=\"button\"{disabled}><span class=\"icon\" aria-label=\"{kind}\">{icon}</span>"
            f"<span class=\"cmd\">{html.escape(shown, quote=True)}</span>"
            f"<span class=\"meta\">{''.join(meta)}</span></button></li>\n")


def _signal(code: int | None) -> str:
    if code is None or not 128 < code < 128 + 65:
        return ""
    try:
        return f" ({signal.Signals(code - 128).name})"
    except ValueError:
        return ""


def _when(ts: object) -> str:
    t = store.epoch(ts)
    if t is None:
        return ""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(ts: object) -> str:
    t = store.epoch(ts)
    return "" if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S")


def _duration(ms: object) -> str:
    v = as_float(ms)
    if v is None:
        return ""
    if v < 1000:
        return f"{v:.0f} ms"
    s = v / 1000
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(s), 60)
    return f"{m}m {s:02d}s" if m < 60 else f"{m // 60}h {m % 60:02d}m"

