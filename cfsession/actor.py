"""Who started a recording: ``human``, ``agent:<name>``, or what the caller says.

Order: an explicit value (the API's ``actor=``), then ``CFSESSION_ACTOR``, then the
environment signals a coding agent documents for the commands it runs, then ``human``
when standard input is a terminal, else ``unknown``.

Only signals the agents themselves publish are used (no guessing from process names):

* ``CLAUDECODE=1`` — Claude Code sets it in the shells it spawns
  (code.claude.com/docs/en/env-vars, "CLAUDECODE").
* ``GEMINI_CLI=1`` — Gemini CLI sets it for every command its shell tool runs
  (google-gemini/gemini-cli, packages/core/src/services/shellExecutionService.ts).
* ``CODEX_SANDBOX_NETWORK_DISABLED=1`` / ``CODEX_SANDBOX=seatbelt`` — Codex CLI sets them
  for commands run by its shell tool inside its sandbox (openai/codex, AGENTS.md and
  codex-rs/core/src/spawn.rs). A Codex command run outside the sandbox sets neither,
  so it is not recognised: set ``CFSESSION_ACTOR=agent:codex`` there.

Kept free of imports: ``cfsession record`` calls this before the first prompt.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV = "CFSESSION_ACTOR"

# (variable, accepted values or None for any non-empty value, agent name)
SIGNALS: tuple[tuple[str, tuple[str, ...] | None, str], ...] = (
    ("CLAUDECODE", ("1",), "claude-code"),
    ("GEMINI_CLI", ("1",), "gemini-cli"),
    ("CODEX_SANDBOX_NETWORK_DISABLED", ("1",), "codex"),
    ("CODEX_SANDBOX", ("seatbelt",), "codex"),
)

_MAX = 64


def clean(value: str) -> str | None:
    """An actor as stored: printable, no spaces, at most 64 characters; None if empty."""
    text = "".join(ch for ch in value.strip() if ch.isprintable() and not ch.isspace())[:_MAX]
    return text or None


def detect(explicit: str | None = None, env: Mapping[str, str] | None = None,
           interactive: bool | None = None) -> str:
    """The actor of a new session (see the module doc for the order)."""
    if explicit is not None and clean(explicit):
        return clean(explicit) or "unknown"
    env = os.environ if env is None else env
    named = clean(env.get(ENV, ""))
    if named:
        return named
    for var, values, name in SIGNALS:
        got = env.get(var)
        if got and (values is None or got in values):
            return f"agent:{name}"
    if interactive is None:
        try:
            interactive = os.isatty(0)
        except OSError:
            interactive = False
    return "human" if interactive else "unknown"


def sql_filter(column: str, actor: str) -> tuple[str, list[str]]:
    """A WHERE clause for ``--actor``: the exact actor, or a kind (``agent`` → ``agent:*``)."""
    esc = actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"({column} = ? OR {column} LIKE ? ESCAPE '\\')", [actor, esc + ":%"]
