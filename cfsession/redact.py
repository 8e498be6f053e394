# Over ~400 lines: most of it is the table of default rules (one literal-led regex per token shape); the engine itself is small.
"""Secret redaction: known token shapes become ``[REDACTED:<kind>]`` before anything is written.

It runs on every command line, every command's output, the .cast stream and the ETW
payload (DESIGN.md §6), so it has to be cheap on ordinary text. Every default rule is a
regex that *starts with a literal* (``ghp_``, ``://``, ``token``…): CPython's regex
engine then skips through the text with a fast substring search instead of trying the
pattern at every position. The text is scanned as UTF-8 bytes, once as is for the
case-sensitive shapes and once lower-cased (ASCII only, so byte offsets do not move) for
the names; the hits are merged (a token inside ``token=…`` is one redaction, of the more
specific kind) and spliced in one pass. Text without hits is returned unchanged.

What the default rules catch, and their limits (docs/TRUST.md has the user's view):

* provider tokens with a fixed prefix (AWS key ids, GitHub, GitLab, Slack, Google API
  keys), JWTs, PEM/PGP private-key blocks, ``Authorization:`` and ``Bearer`` credentials,
  Slack webhook URLs;
* values of names that *end in* a secret word — ``password``, ``passwd``, ``passphrase``,
  ``secret``, ``token``, ``credential(s)``, ``<api|access|secret|private|auth|client|
  encryption|signing|master>[_-]key``/``apikey`` — in any case: ``DB_PASSWORD=x``,
  ``"apiKey": "x"``, ``password: x``, ``--password=x`` and ``--password x``. The name is
  kept, the value replaced. ``max_tokens=5`` or ``tokenizer=x`` stay (the word must end
  the name); prose such as ``invalid token: abc`` loses its last word (accepted cost);
* URLs with credentials: ``scheme://user:pass@host`` keeps the user, redacts the password.

Deliberately *not* redacted by default: short options (``mysql -pSECRET``, ``sshpass -p``)
because ``-p`` means "port" or "parents" in most tools, bare high-entropy strings, and
secrets a program draws with cursor movements between their characters. Users add
patterns in ``config.toml`` (``[redact] patterns``); a pattern with a group named
``secret`` (or any group) redacts only that group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cfsession.errors import CfsessionError

if TYPE_CHECKING:
    from cfsession.config import Config

PLACEHOLDER = "[REDACTED:{kind}]"

# A value after "=", ":" or a space: quoted (may hold spaces) or one bare word.
_NOT_DONE = rb"(?!\[redacted:)"  # idempotent: a placeholder is not a value to redact again
_VALUE = (
    rb"""(?:"(?P<dq>"""
    + _NOT_DONE
    + rb"""[^"\r\n]+)"|'(?P<sq>"""
    + _NOT_DONE
    + rb"""[^'\r\n]+)'|(?P<bare>"""
    + _NOT_DONE
    + rb"""[^\s"'&;,)\]}]+))"""
)
# After a secret word: NAME=, NAME:, "NAME": (not "://", a URL) or, for --options, spaces.
_ASSIGN = rb"""(?P<op>["']?[ \t]*(?:=|:(?!//))[ \t]*|[ \t]+(?!-))"""
_KEY_OWNERS: tuple[bytes, ...] = (b"api", b"access", b"secret", b"private", b"auth", b"client")
_KEY_OWNERS += (b"encryption", b"signing", b"master")
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_CHARS = _WORD | frozenset(b".-")

Hit = tuple[int, int, str]  # (start, end, kind) of the bytes to hide
Check = Callable[[bytes, re.Match[bytes]], "Hit | None"]


@dataclass(frozen=True)
class _Probe:
    kinds: tuple[str, ...]  # what its check may report (to switch a probe off by kind)
    regex: re.Pattern[bytes]  # starts with a literal: the engine then skips fast
    folded: bool  # run on the lower-cased bytes
    check: Check
    priority: int  # lower wins when two hits overlap


@dataclass
class _Merged:
    start: int
    end: int
    priority: int
    kind: str


@dataclass(frozen=True)
class Rule:
    """A user pattern from ``config.toml``; ``group`` is the part that is the secret."""

    kind: str
    regex: re.Pattern[str]
    group: int | str = 0


# -- checks: turn a regex hit into what to hide (or None to reject it) --------------------
def _glued(data: bytes, start: int) -> bool:
    """True when ``start`` is inside a longer word (``xghp_…`` is not a GitHub token)."""
    return start > 0 and data[start - 1] in _WORD


def _pem(data: bytes, m: re.Match[bytes]) -> Hit | None:
    start = m.start() - 5  # the regex starts at "BEGIN" because "-----" is slow to find
    if start < 0 or data[start : m.start()] != b"-----":
        return None
    return start, m.end(), "private_key"


def _by_letter(table: dict[int, str], at: int) -> Check:
    """A check for merged prefixes: the byte at offset ``at`` tells the kind."""

    def check(data: bytes, m: re.Match[bytes]) -> Hit | None:
        if _glued(data, m.start()):
            return None
        return m.start(), m.end(), table[data[m.start() + at]]

    return check


def _jwt(data: bytes, m: re.Match[bytes]) -> Hit | None:
    return None if _glued(data, m.start()) else (m.start(), m.end(), "jwt")


def _url(data: bytes, m: re.Match[bytes]) -> Hit | None:
    if m.group("w") is not None:
        return m.start("w"), m.end("w"), "slack_webhook"
    return m.start("s"), m.end("s"), "url_password"


def _auth(data: bytes, m: re.Match[bytes]) -> Hit | None:
    if m.group("s").startswith(b"[redacted:"):
        return None
    rest = data[m.end("s") : m.end("s") + 16].lstrip(b" \t")
    if rest.startswith(b"[redacted:"):  # "Bearer [REDACTED:…]": the scheme is not the secret
        return None
    return m.start("s"), m.end("s"), "auth_header"


def _value(m: re.Match[bytes], kind: str) -> Hit:
    for g in ("dq", "sq", "bare"):
        if m.group(g) is not None:
            return m.start(g), m.end(g), kind
    raise AssertionError("a _VALUE group always matches")


def _name_start(data: bytes, end: int) -> int:
    """Start of the identifier ending at ``end`` (letters, digits, ``_ . -``; ≤ 64 back)."""
    i = end
    stop = max(0, end - 64)
    while i > stop and data[i - 1] in _NAME_CHARS:
        i -= 1
    return i


def _named(data: bytes, m: re.Match[bytes]) -> Hit | None:
    """``NAME=value`` etc.; the space form only for ``--options``."""
    spaced = not m.group("op").strip()  # "--password VALUE"
    if spaced and not data.startswith(b"--", _name_start(data, m.start())):
        return None
    return _value(m, "secret")


def _named_key(data: bytes, m: re.Match[bytes]) -> Hit | None:
    """``…key=value`` only when the key belongs to something secret (``api_key``, not ``key``)."""
    head = data[max(0, m.start() - 14) : m.start()]
    if not head.rstrip(b"_-").endswith(_KEY_OWNERS):
        return None
    if head.endswith((b"secret_access_", b"aws_secret_")):
        # Also spaced: `aws configure set aws_secret_access_key VALUE` is the AWS CLI's
        # own way to store it (the name is specific enough not to catch prose).
        return _value(m, "aws_secret_key")
    return _named(data, m)


def _sk_key(data: bytes, m: re.Match[bytes]) -> Hit | None:
    """``sk-…`` API keys (OpenAI's, and the many services that copied the shape),
    ``sk-ant-…`` (Anthropic), ``sk_live_``/``rk_test_``… (Stripe)."""
    if _glued(data, m.start()):
        return None
    if data[m.start() + 2] == 0x5F:  # "_": Stripe's sk_/rk_
        kind = "stripe_key"
    elif data.startswith(b"sk-ant-", m.start()):
        kind = "anthropic_api_key"
    else:
        kind = "api_key"
    return m.start(), m.end(), kind


def _named_pass(data: bytes, m: re.Match[bytes]) -> Hit | None:
    """``DB_PASS=…``, ``--smtp-pass …``, ``MYSQL_PWD=…``: ``pass``/``pwd`` as the last
    part of a longer name. Alone, ``pass`` counts only as ``PASS=…`` (``pass: 3`` is a
    test count) and ``pwd`` never (``PWD``/``OLDPWD`` are the working directory)."""
    start = m.start()
    before = data[start - 1] if start else 0
    word = data[start : start + 3].lower()
    if before in b"_-." and start >= 2 and data[start - 2] in _WORD:
        return _named(data, m)  # a part of a longer name: DB_PASS, db-pass, MYSQL_PWD
    if word == b"pas" and before in b"_-." and data.startswith(b"--", max(0, start - 2)):
        return _named(data, m)  # --pass VALUE, --pass=VALUE
    if word == b"pas" and before not in _NAME_CHARS and m.group("op").strip() == b"=":
        return _named(data, m)  # PASS=VALUE
    return None


def _basic_user(data: bytes, m: re.Match[bytes]) -> Hit | None:
    """curl's ``-u user:password`` / ``--user user:password`` (the user is kept); other
    tools' ``-u`` is a user id (``docker run -u 1000:1000``), so only on a curl line."""
    if m.start() and data[m.start() - 1] not in b" \t":
        return None
    if b"curl" not in data[data.rfind(b"\n", 0, m.start()) + 1 : m.start()]:
        return None
    return m.start("s"), m.end("s"), "url_password"


# -- the default probes -------------------------------------------------------------------
_PEM_BODY = r"(?:(?:[ \t]*\r*\n)+[ \t]*(?:[A-Za-z][A-Za-z0-9-]*:[^\r\n]*|[A-Za-z0-9+/=]+))*"
_PEM_TAIL = (
    r"(?P<label>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----"
    # body: base64 lines and RFC 1421 headers ("Proc-Type: 4,ENCRYPTED"), blank lines
    # between; the END line is optional so a block cut off by the output cap or a stream
    # boundary is hidden up to where it stops.
    + _PEM_BODY
    + r"(?:(?:[ \t]*\r*\n)+[ \t]*-----END (?P=label)-----)?"
)
_PEM = "-----BEGIN " + _PEM_TAIL


def _probe(
    kinds: tuple[str, ...] | str,
    pattern: bytes,
    check: Check,
    *,
    folded: bool = False,
    priority: int = 1,
) -> _Probe:
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    return _Probe(kinds, re.compile(pattern), folded, check, priority)


def _name_probe(word: bytes, check: Check = _named) -> _Probe:
    return _probe("secret", word + _ASSIGN + _VALUE, check, folded=True, priority=3)


def _default_probes() -> tuple[_Probe, ...]:
    """Fewer, merged scans are faster: each probe is one pass over the text."""
    return (
        _probe("private_key", b"BEGIN " + _PEM_TAIL.encode(), _pem, priority=0),
        _probe(
            ("aws_access_key", "google_api_key"),
            rb"A(?:[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9])|Iza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-]))",
            _by_letter(
                {
                    ord("K"): "aws_access_key",
                    ord("S"): "aws_access_key",
                    ord("I"): "google_api_key",
                },
                1,
            ),
        ),
        _probe(
            ("github_token", "gitlab_token"),
            rb"g(?:h[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])|ithub_pat_[A-Za-z0-9_]{22,255}"
            rb"|l(?:pat|dt|rt|ptt|ft|cbt|soat)-[A-Za-z0-9_-]{20,})",
            _by_letter(
                {ord("h"): "github_token", ord("i"): "github_token", ord("l"): "gitlab_token"}, 1
            ),
        ),
        _probe(
            "slack_token",
            rb"x(?:ox[abposr]|app-\d)-[A-Za-z0-9-]{10,}",
            _by_letter({ord("o"): "slack_token", ord("a"): "slack_token"}, 1),
        ),
        # header.payload.signature, base64url; the header is JSON so it starts "eyJ"; the
        # signature may be empty (alg "none").
        _probe("jwt", rb"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", _jwt),
        _probe(
            ("url_password", "slack_webhook"),
            rb"://(?:hooks\.slack\.com/services/(?P<w>[A-Za-z0-9_/]{10,})"
            rb"|[^\s:/?#@\"'<>]*:(?!\[REDACTED:)(?P<s>[^\s/?#@\"'<>]+)@)",
            _url,
            priority=4,
        ),
        _probe(
            "auth_header",
            rb"authorization[\"']?[ \t]*:[ \t]*[\"']?"
            rb"(?:(?:bearer|basic|token|digest|negotiate)[ \t]+)?(?P<s>[^\s\"']+)",
            _auth,
            folded=True,
            priority=2,
        ),
        # "Bearer <token>" outside a header; the digit keeps "bearer authentication" out.
        _probe(
            "auth_header",
            rb"bearer[ \t]+(?=[a-z._~+/-]*\d)(?P<s>[a-z0-9._~+/-]{12,}=*)",
            _auth,
            folded=True,
            priority=2,
        ),
        _name_probe(rb"pass(?:word|wd|phrase)"),
        _name_probe(rb"p(?:ass|wd)(?![a-z0-9])", _named_pass),
        _probe(
            ("api_key", "anthropic_api_key", "stripe_key"),
            # A random key holds a digit and a capital; a long lower-case package name
            # (sk-something-long) does not look like one.
            rb"(?:sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?"
            rb"(?=[A-Za-z0-9_-]{0,256}?[0-9])(?=[A-Za-z0-9_-]{0,256}?[A-Z])[A-Za-z0-9_-]{32,}"
            rb"|[sr]k_(?:live|test)_[A-Za-z0-9]{24,})(?![A-Za-z0-9_-])",
            _sk_key,
        ),
        _probe("url_password", rb"(?:-u|--user)[ \t=]+[^\s:'\"]+:(?P<s>[^\s'\"]+)", _basic_user, priority=4),
        # The AWS CLI's own prompt: `AWS Secret Access Key [None]: VALUE` (typed, echoed).
        _probe(
            "aws_secret_key",
            rb"secret access key \[[^\]\r\n]{0,64}\]:[ \t]*(?P<s>[^\s]+)",
            lambda data, m: (m.start("s"), m.end("s"), "aws_secret_key"),
            folded=True,
        ),
        _name_probe(rb"secret"),
        _name_probe(rb"token"),
        _name_probe(rb"credentials?"),
        _probe(
            ("secret", "aws_secret_key"),
            rb"key" + _ASSIGN + _VALUE,
            _named_key,
            folded=True,
            priority=2,
        ),
    )


DEFAULT_KINDS = tuple(dict.fromkeys(k for p in _default_probes() for k in p.kinds))


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
    return Rule("custom", rx, group)


# Every default probe starts with one of these fixed strings (the folded ones in any
# case), so a text without any of them cannot hold a default-shape secret. RE2 finds
# them all in one linear pass (~500 MB/s here) where the thirteen probes take thirteen
# passes (~100 MB/s in all); the .cast stream of a bulk `cat` goes through this.
# tests/unit/test_redact_prefilter.py keeps this list and the probes in step.
PREFILTER_PATTERN = (
    rb"BEGIN |AKIA|ASIA|AIza|gh[pousr]_|github_pat_|gl(?:pat|dt|rt|ptt|ft|cbt|soat)-"
    rb"|xox[abposr]|xapp-|eyJ|://|sk-|[sr]k_|-u[ \t=]|--user"
    rb"|(?i:authorization|bearer|pass(?:word|wd|phrase|[^a-z0-9])|pwd[^a-z0-9]|secret|token|credential|key)"
)


def _compile_prefilter() -> object | None:
    try:
        import re2  # google-re2: linear-time, one pass for every anchor
    except ImportError:  # pragma: no cover - the dependency is declared; be safe anyway
        return None
    try:
        return re2.compile(PREFILTER_PATTERN)  # type: ignore[no-any-return]
    except Exception:  # pragma: no cover
        return None


_PREFILTER: Any = _compile_prefilter()
# Texts shorter than this go through the stdlib's compile of the same pattern: below it
# that is cheaper than any call into RE2 (scripts/bench_redact.py --prefilter measures
# the crossover). A prompt, an echoed `ls` or a command label is a handful of bytes, and
# each command redacts several of them.
SHORT_TEXT = 10
_SHORT = re.compile(PREFILTER_PATTERN)


def _raw_search(compiled: Any) -> Callable[[bytes, int], int] | None:
    """RE2's own search, without the wrapper's generator and match object (~0.5 µs a call
    of ~1.1): ``search(data, pos)`` → the next anchor's start, or -1. None when this
    google-re2 does not have the call or it does not answer as expected (then the public
    API is used)."""
    try:
        import re2

        match, unanchored = compiled._regexp.Match, re2._Anchor.UNANCHORED

        def search(data: bytes, pos: int) -> int:
            start: int = match(unanchored, data, pos, len(data))[0][0]
            return start

        if search(b"a token", 0) == 2 and search(b"a token", 3) == -1:
            return search
    except Exception:  # pragma: no cover - another google-re2 layout
        pass
    return None


_RAW: Callable[[bytes, int], int] | None = _raw_search(_PREFILTER) if _PREFILTER is not None else None


def _anchor_starts(data: bytes) -> list[int]:
    """Every position where an anchor starts, overlapping ones included ("KeyJ…" holds
    both "Key" and "eyJ"), so no probe match is missed."""
    starts: list[int] = []
    if _RAW is not None and len(data) >= SHORT_TEXT:
        raw = _RAW
        pos = raw(data, 0)
        while pos >= 0:
            starts.append(pos)
            pos = raw(data, pos + 1)
        return starts
    search = _PREFILTER.search if len(data) >= SHORT_TEXT else _SHORT.search
    m = search(data)
    while m is not None:
        starts.append(m.start())
        m = search(data, m.start() + 1)
    return starts


class Redactor:
    """Replaces secrets in text; build it once per session and reuse it."""

    def __init__(
        self,
        defaults: bool = True,
        disabled: Iterable[str] = (),
        rules: Iterable[Rule] = (),
    ) -> None:
        self._off = frozenset(disabled)
        probes = _default_probes() if defaults else ()
        self._probes = tuple(p for p in probes if set(p.kinds) - self._off)
        self._folded = tuple(p for p in self._probes if p.folded)
        self._plain = tuple(p for p in self._probes if not p.folded)
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.kinds: frozenset[str] = frozenset(
            k for p in self._probes for k in p.kinds if k not in self._off
        ) | {r.kind for r in self.rules}

    @property
    def enabled(self) -> bool:
        return bool(self._probes or self.rules)

    def redact(self, text: str) -> tuple[str, int]:
        """Return ``text`` with every secret replaced, and how many were replaced."""
        if not text:
            return text, 0
        total = 0
        if self._probes:
            text, total = self._redact_defaults(text)
        for rule in self.rules:
            text, n = _apply_rule(rule, text)
            total += n
        return text, total

    def __call__(self, text: str) -> str:
        """``redact`` without the count: the shape ``CastWriter(redact=…)`` takes."""
        return self.redact(text)[0]

    def _hit(self, p: _Probe, hay: bytes, m: re.Match[bytes], hits: list[tuple[int, int, int, str]]) -> None:
        hit = p.check(hay, m)
        if hit is not None and hit[0] < hit[1] and hit[2] not in self._off:
            hits.append((hit[0], hit[1], p.priority, hit[2]))

    def _redact_defaults(self, text: str) -> tuple[str, int]:
        data = text.encode("utf-8", "surrogatepass")
        hits: list[tuple[int, int, int, str]] = []
        if _PREFILTER is not None:
            # Every probe match starts where an anchor starts: try the probes only there
            # (anchored), instead of thirteen scans of the whole text.
            starts = _anchor_starts(data)
            if not starts:
                return text, 0
            low = data.lower() if self._folded else data
            for probes, hay in ((self._plain, data), (self._folded, low)):
                for p in probes:
                    resume = 0  # as finditer: the next match starts after this one
                    for pos in starts:
                        if pos < resume:
                            continue
                        m = p.regex.match(hay, pos)
                        if m is not None:
                            self._hit(p, hay, m, hits)
                            resume = max(m.end(), pos + 1)
        else:
            for probes, hay in ((self._plain, data), (self._folded, data.lower())):
                for p in probes:
                    for m in p.regex.finditer(hay):
                        self._hit(p, hay, m, hits)
        if not hits:
            return text, 0
        hits.sort()
        merged: list[_Merged] = []
        for start, end, prio, kind in hits:
            if merged and start < merged[-1].end:  # overlap: hide the union
                last = merged[-1]
                last.end = max(last.end, end)
                if prio < last.priority:
                    last.priority, last.kind = prio, kind
            else:
                merged.append(_Merged(start, end, prio, kind))
        out: list[bytes] = []
        pos = 0
        for h in merged:
            out.append(data[pos : h.start])
            out.append(PLACEHOLDER.format(kind=h.kind).encode())
            pos = h.end
        out.append(data[pos:])
        return b"".join(out).decode("utf-8", "surrogatepass"), len(merged)


def _apply_rule(rule: Rule, text: str) -> tuple[str, int]:
    placeholder = PLACEHOLDER.format(kind=rule.kind)
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        start, end = m.span(rule.group)
        if start < 0 or start == end:  # optional group unmatched / empty match
            return m.group(0)
        count += 1
        base = m.start()
        whole = m.group(0)
        return whole[: start - base] + placeholder + whole[end - base :]

    return rule.regex.sub(repl, text), count


_SECRET_OPTION = re.compile(
    r"--(?:[A-Za-z0-9]+-)*(?:password|passwd|passphrase|secret|token|credentials?|apikey"
    r"|(?:api|access|secret|private|auth|client|encryption|signing|master)[_-]?key)",
    re.IGNORECASE,
)


def redact_argv(redactor: Redactor, argv: list[str]) -> tuple[list[str], int]:
    """Redact a command's argv (``session_start.command_argv``) element by element.

    ``["mysql", "--password", "x"]`` splits the name from its value, so an element that
    follows a secret-named long option is redacted whole.
    """
    out: list[str] = []
    total = 0
    hide_next = False
    for arg in argv:
        if hide_next and arg and not arg.startswith("-") and "[REDACTED:" not in arg:
            out.append(PLACEHOLDER.format(kind="secret"))
            total += 1
            hide_next = False
            continue
        red, n = redactor.redact(arg)
        out.append(red)
        total += n
        hide_next = "secret" in redactor.kinds and bool(_SECRET_OPTION.fullmatch(arg))
    return out, total


def load_redactor(config: Config) -> Redactor:
    """The redactor a session uses: defaults (unless switched off) then user patterns."""
    return Redactor(
        defaults=config.redact_defaults,
        disabled=config.redact_disable,
        rules=[user_rule(p, i) for i, p in enumerate(config.redact_patterns)],
    )
