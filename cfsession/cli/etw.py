"""``cfsession etw info|status|decode``: the ETW provider, its state here, and capture files."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cfsession.cli import _common
from cfsession.errors import ExitCode
from cfsession.etw import (
    CAPTURE_ENV,
    CHANNEL,
    KEYWORDS,
    LEVEL,
    PROVIDER_GUID,
    PROVIDER_NAME,
    probe,
)

# What each keyword carries (FORMAT.md §6); ACHIEVEMENT and VALIDATION are reserved.
_KEYWORD_EVENTS = {
    "SESSION": "SessionStart, SessionEnd",
    "ACHIEVEMENT": "reserved",
    "TERMINAL": "TerminalCapture",
    "VALIDATION": "reserved",
}
_EVENTS = {
    "SessionStart": "SessionType, CorrelationId, StartTime (FILETIME)",
    "TerminalCapture": "Command, Output (≤ 1000 UTF-16 units), DurationMs, SessionId, ExitCode (-1 = unknown), Cwd",
    "SessionEnd": "SessionId, CommandCount, DurationMs",
}

WPRP = f"""<?xml version="1.0" encoding="utf-8"?>
<WindowsPerformanceRecorder Version="1.0">
  <Profiles>
    <EventCollector Id="EventCollector_cfsession" Name="cfsession">
      <BufferSize Value="64" />
      <Buffers Value="16" />
    </EventCollector>
    <EventProvider Id="EventProvider_cfsession" Name="*{PROVIDER_NAME}" Level="5">
      <Keywords>
        <Keyword Value="0xF" />
      </Keywords>
    </EventProvider>
    <Profile Id="cfsession.Verbose.File" Name="cfsession" Description="cfsession sessions and commands"
             LoggingMode="File" DetailLevel="Verbose">
      <Collectors>
        <EventCollectorId Value="EventCollector_cfsession">
          <EventProviders>
            <EventProviderId Value="EventProvider_cfsession" />
          </EventProviders>
        </EventCollectorId>
      </Collectors>
    </Profile>
  </Profiles>
</WindowsPerformanceRecorder>
"""

# FORMAT.md §11. Run as Administrator. (-rt, logman, xperf and the PerfView suffix are
# standard syntax but were not run by the spec's authors: check them on a first run.)
CAPTURE_COMMANDS: list[tuple[str, list[str]]] = [
    (
        "tracelog / tracefmt (Windows SDK/WDK)",
        [
            f"tracelog -start cfs -f cfs.etl -guid *{PROVIDER_NAME} -level 5 -matchanykw 0xF",
            "tracelog -stop cfs",
            "tracefmt -o cfs.txt cfs.etl",
            f"(by GUID: -guid #{PROVIDER_GUID}; live: start with -rt instead of -f cfs.etl,"
            " then tracefmt -rt cfs -displayonly)",
        ],
    ),
    (
        "logman (built in)",
        [
            f'logman start cfs -p "{{{PROVIDER_GUID}}}" 0xF 5 -o cfs.etl -ets',
            "logman stop cfs -ets",
        ],
    ),
    (
        "WPR / WPA (Generic Events table)",
        [
            "cfsession etw info --wprp > cfsession.wprp",
            "wpr -start cfsession.wprp -filemode",
            "wpr -stop cfs.etl",
            "wpa cfs.etl",
        ],
    ),
    (
        "PerfView",
        [
            f"PerfView /OnlyProviders=*{PROVIDER_NAME} collect",
            f"(keywords and level: /OnlyProviders=*{PROVIDER_NAME}:0xF:Informational)",
        ],
    ),
    (
        "xperf",
        [
            f"xperf -start cfs -on {PROVIDER_GUID}:0xF:5 -f cfs.etl",
            "xperf -stop cfs",
        ],
    ),
]


def _capture_state() -> str | None:
    return os.environ.get(CAPTURE_ENV) or None


def info_data() -> dict[str, Any]:
    """Everything ``etw info`` shows, as data."""
    return {
        "provider": PROVIDER_NAME,
        "guid": PROVIDER_GUID,
        "level": LEVEL,
        "channel": CHANNEL,
        "keywords": {name: f"{value:#x}" for name, value in KEYWORDS.items()},
        "events": _EVENTS,
        "etw": probe(),
        "capture_file": _capture_state(),
        "capture_commands": {title: cmds for title, cmds in CAPTURE_COMMANDS},
    }


def _info_text(data: dict[str, Any]) -> str:
    lines = [
        f"Provider  {data['provider']}",
        f"GUID      {{{data['guid']}}}  (derived from the name; '*{data['provider']}' works in most tools)",
        f"Level     {LEVEL} (Informational): enable level 4 or higher (5 = Verbose)",
        f"Channel   {CHANNEL} (TraceLogging); no manifest, so Event Viewer does not show these events",
        "Keywords  "
        + "\n          ".join(
            f"{data['keywords'][name]}  {name:<11} {_KEYWORD_EVENTS[name]}" for name in KEYWORDS
        ),
        "Events    " + "\n          ".join(f"{name}: {fields}" for name, fields in _EVENTS.items()),
        "",
        f"ETW here  {data['etw']}",
    ]
    if data["capture_file"]:
        lines.append(
            f"Capture   {CAPTURE_ENV}={data['capture_file']}: every event is also appended there"
        )
    else:
        lines.append(f"Capture   off; set {CAPTURE_ENV}=FILE to get every event as JSON (any OS),")
        lines.append("          then read it with: cfsession etw decode FILE")
    lines += ["", "Capture on Windows (as Administrator):"]
    for title, cmds in CAPTURE_COMMANDS:
        lines.append(f"  {title}")
        lines += [f"    {c}" for c in cmds]
    lines.append(
        "  (-rt, logman, xperf and the PerfView suffix are standard syntax, not yet tried here.)"
    )
    return "\n".join(lines) + "\n"


def _printable(text: str) -> str:
    """Control and bidi characters shown as escapes: recorded text must not drive the
    viewer's terminal (:func:`cfsession.sanitize.visible`)."""
    from cfsession.sanitize import visible

    return visible(text)


def _short(value: Any, limit: int = 60) -> str:
    text = _printable(str(value)).replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _decode(file: Path, as_json: bool) -> int:
    from cfsession.etw.decode import DecodeError, iter_capture

    events, bad = [], 0
    try:
        with (
            contextlib.nullcontext(sys.stdin)
            if str(file) == "-"
            else open(file, encoding="utf-8", errors="replace")
        ) as fh:
            for n, item in iter_capture(fh):
                if isinstance(item, DecodeError):
                    bad += 1
                    sys.stderr.write(f"cfsession: {file} line {n}: {item} — line skipped\n")
                else:
                    events.append(item)
    except OSError as exc:
        _common.fail(f"cannot read {file}: {exc.strerror}", f"is {CAPTURE_ENV} pointing at it?")
    if as_json:
        _common.print_json([e.to_json() for e in events])
    else:
        _print_table(events)
    return ExitCode.ERROR if bad else ExitCode.OK


def _print_table(events: list[Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for col in ("#", "event", "kw", "activity", "fields"):
        table.add_column(col, overflow="fold")
    for n, e in enumerate(events, 1):
        fields = "\n".join(f"{k}={_short(v)}" for k, v in e.to_json()["fields"].items())
        table.add_row(
            str(n),
            Text(_printable(e.event_name)),
            f"{e.descriptor.get('keyword', 0):#x}",
            Text(_printable(str(e.activity_id or "-")[:8])),
            Text(fields),
        )
    _common.console().print(table)
    _common.console().print(f"{len(events)} event(s)")


def register(app: typer.Typer) -> None:
    """Add the ``etw`` command group to `app`."""
    etw = typer.Typer(
        help="ETW (Windows event tracing): the provider, its status here, and capture files.",
        invoke_without_command=True,
    )

    @etw.callback()
    def _etw(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            sys.stdout.write(_info_text(info_data()))

    @etw.command("info")
    def info(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        wprp: Annotated[
            bool, typer.Option("--wprp", help="Print a WPR profile for the provider.")
        ] = False,
    ) -> None:
        """Provider name, GUID, keywords, levels, ETW availability, and how to capture the events."""
        if wprp:
            sys.stdout.write(WPRP)
        elif as_json:
            _common.print_json(info_data())
        else:
            sys.stdout.write(_info_text(info_data()))

    @etw.command("status")
    def status(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Whether this machine can emit the events now, and where the capture seam writes."""
        data = {"etw": probe(), "capture_file": _capture_state()}
        if as_json:
            _common.print_json(data)
            return
        sys.stdout.write(f"etw: {data['etw']}\n")
        sys.stdout.write(f"capture: {data['capture_file'] or f'off ({CAPTURE_ENV} not set)'}\n")

    @etw.command("decode")
    def decode(
        file: Annotated[
            Path, typer.Argument(help=f"A capture file written via {CAPTURE_ENV} ('-' = stdin).")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Decode a capture file back to events and their typed fields."""
        raise typer.Exit(_decode(file, as_json))

    app.add_typer(etw, name="etw")
