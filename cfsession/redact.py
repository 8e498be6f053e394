"""Secret redaction: known token shapes become ``[REDACTED:<kind>]`` before anything is written.

It runs on every command line, every command's output, the .cast stream and the ETW
payload (DESIGN.md §6), so it must be cheap on ordinary text. Each rule names a few
literal *triggers*; a rule's regex only runs when one of them occurs in the text (plain
``in`` on the text, or on its lower-cased copy for case-insensitive rules), which keeps
text without any secret-looking word at memory speed.

What the default rules catch, and their known limits (docs/TRUST.md has the user view):

* provider tokens with a fixed prefix (AWS key ids, GitHub, GitLab, Slack, Google API
  keys), JWTs, PEM/PGP private-key blocks, ``Authorization:``/``Bearer`` credentials;
* assignments whose *name ends in* a secret word (``password``, ``passwd``,
  ``passphrase``, ``secret``, ``token``, ``*_key`` for api/access/secret/private/auth…,
  ``credential``): ``DB_PASSWORD=x``, ``"token": "x"``, ``password: x``, and the
  long-option forms ``--password x`` / ``--api-key=x``. The name is kept, the value
  redacted. ``max_tokens=5`` or ``tokenizer=x`` are left alone (the word must end the
  name); prose such as ``invalid token: abc`` loses its last word (accepted cost);
* URLs with credentials: ``scheme://user:pass@host`` keeps the user, redacts the password.

Deliberately *not* redacted by default: short options (``mysql -pSECRET``, ``sshpass -p``)
because ``-p`` means "port"/"parents" in most tools, bare high-entropy strings, and
secrets a program draws with cursor movements between their characters. Users add
patterns in ``config.toml`` (``[redact] patterns``); a pattern with a named group
``secret`` (or any group) redacts only that group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cfsession.errors import CfsessionError

if TYPE_CHECKING:
    from cfsession.config import Config

PLACEHOLDER = "[REDACTED:{kind}]"
_ALREADY = r"(?!\[REDACTED:)"  # never re-redact a placeholder written by an earlier rule


@dataclass(frozen=True)
class Rule:
    """One secret shape.

    ``group`` names the part that is the secret (0 = the whole match); ``triggers`` are
    literal substrings one of which must occur for the regex to run at all (empty = always
    run); with ``fold`` they are looked up in the lower-cased text.
    """

    kind: str
    regex: re.Pattern[str]
    triggers: tuple[str, ...] = ()
    fold: bool = False
    group: int | str = 0


# Values after "=" / ":" / a space: quoted (may hold spaces) or a bare word.
_VALUE = _ALREADY + r"""(?:"(?P<dq>[^"\r\n]+)"|'(?P<sq>[^'\r\n]+)'|(?P<bare>[^\s"'&;,)\]}]+))"""
# Words that, at the end of a name, mark its value as a secret.
_SECRET_NAME = (
    r"(?:password|passwd|passphrase|secret|token|credentials?|apikey"
    r"|(?:api|access|secret|private|auth|client|encryption|signing|master)[_-]?key)"
)
_NAME_TRIGGERS = ("passw", "passphrase", "secret", "token", "credential", "key")


_PEM_BODY = r"(?:(?:[ \t]*\r*\n)+[ \t]*(?:[A-Za-z][A-Za-z0-9-]*:[^\r\n]*|[A-Za-z0-9+/=]+))*"


def _r(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def default_rules() -> list[Rule]:
    """The built-in rules, most specific first (a token inside ``token=…`` keeps its kind)."""
    i = re.IGNORECASE
    return [
        Rule(
            "private_key",
            _r(
                r"-----BEGIN (?P<label>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----"
                # body: base64 lines and RFC 1421 headers ("Proc-Type: 4,ENCRYPTED"),
                # blank lines allowed between; the END line is optional so a block cut
                # off by the output cap or a stream boundary is hidden up to where it stops.
                + _PEM_BODY
                + r"(?:(?:[ \t]*\r*\n)+[ \t]*-----END (?P=label)-----)?"
            ),
            ("PRIVATE KEY",),
        ),
        Rule("aws_access_key", _r(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), ("AKIA", "ASIA")),
        Rule(
            "aws_secret_key",
            _r(
                r"(?:aws_secret_access_key|aws_secret_key|secret_access_key)[\"']?[ \t]*[:=][ \t]*"
                r"[\"']?(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
                i,
            ),
            ("secret_access_key", "aws_secret_key"),
            fold=True,
            group="s",
        ),
        Rule(
            "github_token",
            _r(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})\b"),
            ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        ),
        Rule(
            "gitlab_token",
            _r(r"\bgl(?:pat|dt|rt|ptt|ft|cbt|soat)-[A-Za-z0-9_-]{20,}"),
            ("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glcbt-", "glsoat-"),
        ),
        Rule("slack_token", _r(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), ("xox",)),
        Rule("slack_token", _r(r"\bxapp-\d-[A-Za-z0-9-]{10,}"), ("xapp-",)),
        Rule(
            "slack_webhook",
            _r(r"hooks\.slack\.com/services/(?P<s>[A-Za-z0-9_/]{10,})"),
            ("hooks.slack.com/services/",),
            group="s",
        ),
        Rule("google_api_key", _r(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), ("AIza",)),
        Rule(
            "jwt",
            # header.payload.signature, base64url; the header is JSON so it starts "eyJ";
            # the signature may be empty (alg "none").
            _r(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
            ("eyJ",),
        ),
        Rule(
            "auth_header",
            _r(
                r"authorization[\"']?[ \t]*:[ \t]*[\"']?"
                r"(?:(?:bearer|basic|token|digest|negotiate)[ \t]+)?"
                + _ALREADY
                + r"(?P<s>[^\s\"']+)",
                i,
            ),
            ("authorization",),
            fold=True,
            group="s",
        ),
        Rule(
            "auth_header",
            # "Bearer <token>" outside a header (curl -H, logs); the digit keeps prose
            # such as "bearer authentication" out.
            _r(
                r"\bbearer[ \t]+"
                + _ALREADY
                + r"(?=[A-Za-z._~+/-]*\d)(?P<s>[A-Za-z0-9._~+/-]{12,}=*)",
                i,
            ),
            ("bearer",),
            fold=True,
            group="s",
        ),
        Rule(
            "secret",
            # NAME=value, NAME: value, "NAME": "value", --name=value. The secret word
            # must end the name (max_tokens=5 stays); "://" after ":" is a URL, not a value.
            _r(_SECRET_NAME + r"[\"']?[ \t]*(?:=|:(?!//))[ \t]*" + _VALUE, i),
            _NAME_TRIGGERS,
            fold=True,
            group="value",
        ),
        Rule(
            "secret",
            # --password VALUE (a following "-x" is the next option, not a value).
            _r(r"--(?:[A-Za-z0-9]+-)*" + _SECRET_NAME + r"[ \t]+(?!-)" + _VALUE, i),
            _NAME_TRIGGERS,
            fold=True,
            group="value",
        ),
        Rule(
            "url_password",
            _r(r"://[^\s:/?#@\"'<>]*:" + _ALREADY + r"(?P<s>[^\s/?#@\"'<>]+)@"),
            ("://",),
            group="s",
        ),
    ]


def user_rule(pattern: str, index: int = 0) -> Rule:
    """A rule from ``config.toml``; raises CfsessionError naming the bad pattern."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise CfsessionError(
            f"bad redaction pattern #{index + 1} {pattern!r} in config.toml: {exc}",
            "fix [redact] patterns (Python regular expressions)",
        ) from exc
    group: int | str = 0
    if "secret" in rx.groupindex:
        group = "secret"
    elif rx.groups:
        group = 1
    return Rule("custom", rx, group=group)


class Redactor:
    """Replaces secrets in text; rules are compiled once, the instance is reused."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._any_fold = any(r.fold for r in self.rules)

    @property
    def enabled(self) -> bool:
        return bool(self.rules)

    def redact(self, text: str) -> tuple[str, int]:
        """Return ``text`` with every secret replaced, and how many were replaced."""
        if not text or not self.rules:
            return text, 0
        total = 0
        low = text.lower() if self._any_fold else text
        for rule in self.rules:
            if rule.triggers:
                hay = low if rule.fold else text
                if not any(t in hay for t in rule.triggers):
                    continue
            new, n = _apply(rule, text)
            if n:
                total += n
                text = new
                if self._any_fold:
                    low = text.lower()
        return text, total

    def __call__(self, text: str) -> str:
        """``redact`` without the count: the shape ``CastWriter(redact=…)`` takes."""
        return self.redact(text)[0]


def _apply(rule: Rule, text: str) -> tuple[str, int]:
    placeholder = PLACEHOLDER.format(kind=rule.kind)
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        if rule.group == "value":  # the _VALUE alternatives: whichever matched
            g: int | str = "dq" if m.group("dq") else "sq" if m.group("sq") else "bare"
        else:
            g = rule.group
        start, end = m.span(g)
        if start < 0 or start == end:  # optional group unmatched / empty user match
            return m.group(0)
        count += 1
        base = m.start()
        whole = m.group(0)
        return whole[: start - base] + placeholder + whole[end - base :]

    return rule.regex.sub(repl, text), count


def load_redactor(config: Config) -> Redactor:
    """The redactor a session uses: defaults (unless switched off) then user patterns."""
    rules: list[Rule] = []
    if config.redact_defaults:
        disabled = set(getattr(config, "redact_disable", ()))
        rules.extend(r for r in default_rules() if r.kind not in disabled)
    rules.extend(user_rule(p, i) for i, p in enumerate(config.redact_patterns))
    return Redactor(rules)


# -- streams ------------------------------------------------------------------------------
_PEM_MARK = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_REST = re.compile(
    r"[A-Za-z0-9+/=]*"
    + _PEM_BODY
    + r"(?:(?:[ \t]*\r*\n)+[ \t]*-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?"
)
_NAME_IN_LINE = re.compile(r"(?:" + _SECRET_NAME + r"|authorization|bearer|basic)", re.IGNORECASE)
_WORD_REVERSED = re.compile(r"\S*")
HOLD_MAX = 4096  # longest partial word held back between chunks (JWTs run to ~2 KB)


def _hold_start(text: str) -> int:
    """Where the part of ``text`` that may be the start of a secret begins.

    That is the trailing partial word, or the rest of the last line from a key block's
    BEGIN or a secret-like name (its value may go on in the next chunk). Only
    the last ``HOLD_MAX`` characters are examined, so the cost is bounded per chunk.
    """
    n = len(text)
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
    run = _WORD_REVERSED.match(window[::-1])
    size = run.end() if run else 0
    if size >= HOLD_MAX:  # one endless word: nothing sensible to hold
        return n
    return n - size


class StreamRedactor:
    """Redacts a stream that arrives in arbitrary chunks (the .cast output).

    A secret cut in two by a read boundary would escape a per-chunk regex, so the
    trailing partial word of each chunk is held back and prepended to the next one (a
    prompt ends in a space, so interactive output is not delayed), and a private-key
    block left open at a chunk's end keeps being redacted in the following chunks.
    Call :meth:`flush` at a command boundary and at the end.
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
        self._in_pem = self._ends_in_open_block(text)
        return head + out

    def _ends_in_open_block(self, text: str) -> bool:
        """True when the text's last key block runs to its very end without an END line."""
        if "PRIVATE KEY" not in text:
            return False
        rule = next((r for r in self._redactor.rules if r.kind == "private_key"), None)
        marks = list(_PEM_MARK.finditer(text))
        last = marks[-1] if marks else None
        if rule is None or last is None or last.group(1) != "BEGIN":
            return False
        m = rule.regex.match(text, last.start())
        return m is not None and m.end() >= len(text.rstrip())


def redact_all(redactor: Redactor, texts: Sequence[str | None]) -> tuple[list[str | None], int]:
    """Redact several fields (command, output, …) of one record; None stays None."""
    out: list[str | None] = []
    total = 0
    for t in texts:
        if t is None:
            out.append(None)
            continue
        r, n = redactor.redact(t)
        out.append(r)
        total += n
    return out, total
