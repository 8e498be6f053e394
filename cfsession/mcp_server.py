"""``cfsession mcp``: the recorded sessions as read-only MCP tools, over stdio.

Built on the official MCP SDK (PyPI ``mcp``), imported only here, so no other command
pays for it. The tools are thin: each calls one :class:`cfsession.mcp_tools.Store`
method and returns its JSON. A bad id or query becomes an MCP tool error carrying the
CLI's one-line message; the server keeps serving.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cfsession import __version__
from cfsession.errors import CfsessionError
from cfsession.mcp_tools import PAGE, LocalStore, Store

INSTRUCTIONS = (
    "Recorded terminal sessions: every command with its exit code, cwd, timing, who ran it "
    "(actor: human or agent:<name>) and its output (secrets redacted). Find commands with "
    "search or list_sessions, read one with get_command, page long output with get_output "
    "(offset/next_offset, grep), compare runs with diff_output. Sessions are named by a full "
    "id, a unique prefix of 4+ hex digits, or 'last'."
)


def build(store: Store | None = None, home: Path | None = None) -> Any:
    """The MCP server over ``store`` (default: the local store at ``home``)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    backend: Store = store or LocalStore(home)
    notes = getattr(backend, "notes", "")  # what differs for a fleet server's store
    server = MCPServer("cfsession", instructions=INSTRUCTIONS + notes, version=__version__,
                       log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def call(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return fn()
        except CfsessionError as exc:
            raise ToolError(f"cfsession: {exc}") from None
        except Exception as exc:  # never let one bad call take the server down
            raise ToolError(f"cfsession: {type(exc).__name__}: {exc}") from None

    @server.tool(annotations=read_only)
    def list_sessions(since: str | None = None, failed: bool = False, cwd: str | None = None,
                      actor: str | None = None, limit: int = 20) -> dict[str, Any]:
        """Recorded sessions, newest first. since: 2h, 3d, 1w, today or an ISO date; failed:
        only sessions with a failed command; cwd: started in DIR or below; actor: human,
        agent:<name>, or agent (any agent); limit: at most 200."""
        return call(lambda: backend.list_sessions(since, failed, cwd, actor, limit))

    @server.tool(annotations=read_only)
    def search(query: str, failed: bool = False, cwd: str | None = None,
               session: str | None = None, actor: str | None = None,
               limit: int = 20) -> dict[str, Any]:
        """Full-text search over command lines AND their output, newest first. query: words or
        FTS5 syntax ("exact phrase", a OR b, pre*). Each hit has session_id, seq, command,
        exit_code and a snippet with matches marked **like this**. Filters: failed, cwd,
        session (id, prefix or last), actor; limit at most 200."""
        return call(lambda: backend.search(query, failed, cwd, session, actor, limit))

    @server.tool(annotations=read_only)
    def get_session(session: str, offset: int = 0, limit: int = 200) -> dict[str, Any]:
        """One session: its header (shell, host, cwd, actor, status…) and its commands without
        output (seq, command, exit_code, cwd, duration, actor). Page with offset/next_offset."""
        return call(lambda: backend.get_session(session, offset, limit))

    @server.tool(annotations=read_only)
    def get_command(session: str, seq: int) -> dict[str, Any]:
        """One command (seq = its number in the session): every recorded field and the first
        2 KiB of its output. Use get_output for the rest."""
        return call(lambda: backend.get_command(session, seq))

    @server.tool(annotations=read_only)
    def get_output(session: str, seq: int, offset: int = 0, length: int = PAGE,
                   grep: str | None = None) -> dict[str, Any]:
        """A command's output in pages of at most 64 KiB: text from character `offset`, with
        first_line/last_line, total_chars, total_lines and next_offset (null at the end).
        With grep (a regular expression), the matching lines with their line numbers instead;
        offset then skips that many matches. The whole output is served: when the record kept
        only its head and tail, it comes from the session's .cast (source: "cast")."""
        return call(lambda: backend.get_output(session, seq, offset, length, grep))

    @server.tool(annotations=read_only)
    def diff_output(a: str, b: str | None = None) -> dict[str, Any]:
        """Unified diff of two commands' outputs. a and b: SESSION:SEQ references (e.g.
        3f2a:4, last:2). With only a, given as a command line (e.g. "make test"), its last
        two runs are compared, older first."""
        return call(lambda: backend.diff_output(a, b))

    @server.tool(annotations=read_only)
    def verify_session(session: str) -> dict[str, Any]:
        """Check a session's hash chain and .cast digests: status intact / incomplete /
        tampered, the first bad line and why, and the final hash to anchor."""
        return call(lambda: backend.verify_session(session))

    @server.tool(annotations=read_only)
    def stats(since: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """Totals, failure rate, slowest and most-used commands, failure rate per program and
        activity per day; since and actor as in list_sessions."""
        return call(lambda: backend.stats(since, actor))

    return server


def serve(home: Path | None = None, remote: bool = False, url: str | None = None) -> int:
    """Run the server on stdin/stdout until the client closes it.

    ``remote``: serve the fleet server's sessions (``url``, else ``$CFSESSION_REMOTE_URL``,
    ``[remote] url``, then the ship URL), as ``list --remote`` reads them.
    """
    if not remote:
        build(home=home).run("stdio")
        return 0
    import signal

    from cfsession.mcp_remote import RemoteStore

    store = RemoteStore(url)
    def stop(signum: int, _frame: object) -> None:
        # A client that stops the server with SIGTERM/SIGHUP still gets the copies deleted.
        # Exit at once: a SystemExit would wait for the thread blocked reading stdin.
        store.close()
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, stop)
    try:
        build(store=store).run("stdio")
    finally:
        store.close()  # the copied sessions go with the server
    return 0
