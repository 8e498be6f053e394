"""``cfsession mcp`` (the sessions as MCP tools for agents) and ``cfsession diff``."""

from __future__ import annotations

import sys

import typer

from cfsession.errors import ExitCode


def register(app: typer.Typer) -> None:
    """Add ``mcp`` and ``diff`` to ``app``."""

    @app.command("mcp")
    def mcp(
        remote: bool = typer.Option(False, "--remote", help="Serve the fleet server's sessions (docs/FLEET.md) instead of this machine's store."),
        url: str = typer.Argument(None, metavar="[URL]", help="With --remote: the postgresql:// URL (default $CFSESSION_REMOTE_URL, then url in the remote table of config.toml, then the ship URL)."),
    ) -> None:
        """Serve the recorded sessions to an agent as MCP tools on stdin/stdout.

        Client configuration: {"command": "cfsession", "args": ["mcp"]}; for the fleet
        server, "args": ["mcp", "--remote"] (or ["mcp", "--remote", "postgresql://…"]).
        """
        from cfsession.cli import _common

        if url and not remote:
            _common.fail(f"unexpected argument {url!r}", "a server URL goes with --remote: "
                         "`cfsession mcp --remote postgresql://…`", code=ExitCode.USAGE)
        try:
            from cfsession.mcp_server import serve
        except ImportError as exc:  # the SDK is an optional extra
            _common.fail(f"the MCP SDK is not installed ({exc.name})",
                         "pip install 'cfsession[mcp]'", code=ExitCode.USAGE)
        if remote:
            from cfsession.cli.fleet import _need_psycopg

            _need_psycopg()
        raise typer.Exit(serve(remote=remote, url=url))

    @app.command("diff")
    def diff(
        a: str = typer.Argument(..., metavar="A", help="SESSION:SEQ (e.g. 3f2a:4, last:2), or a command line: its last two runs."),
        b: str = typer.Argument(None, metavar="[B]", help="SESSION:SEQ to compare A with."),
        context: int = typer.Option(3, "--context", "-U", min=0, help="Lines of context."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Unified diff of two commands' outputs (coloured on a terminal)."""
        from cfsession.cli import _common
        from cfsession.diff import diff_outputs

        result = diff_outputs(a, b, context=context)
        if as_json:
            _common.print_json(result.to_dict())
            return
        _show(result)


def _show(result: object) -> None:
    from cfsession.cli import _common
    from cfsession.diff import DiffResult

    assert isinstance(result, DiffResult)
    con = _common.console()
    color = sys.stdout.isatty()
    from rich.text import Text

    def head(side: object, mark: str) -> str:
        from cfsession.diff import Side

        assert isinstance(side, Side)
        return f"{mark} {side.ref}  $ {side.command or '(hidden command)'}  (exit {side.exit_code})"

    con.print(Text(head(result.a, "---"), style="bold" if color else ""))
    con.print(Text(head(result.b, "+++"), style="bold" if color else ""))
    if result.identical:
        con.print(Text("outputs are identical", style="dim" if color else ""))
    for line in result.diff.split("\n")[2:] if result.diff else []:
        style = ""
        if color:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else ""
        con.print(Text(line, style=style), soft_wrap=True)
    for note in [*result.notes, *(["diff cut at 64 KiB (use --json for counts)"] if result.truncated else [])]:
        con.print(Text(note, style="dim" if color else ""))
