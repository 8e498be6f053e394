"""Redaction: every default shape, the false positives we promise not to hit, user patterns,
config, and the stream redactor under every chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfsession.config import load_config
from cfsession.errors import CfsessionError
from cfsession.redact import (
    DEFAULT_KINDS,
    Redactor,
    load_redactor,
    redact_argv,
    user_rule,
)
from cfsession.redact_stream import StreamRedactor

# Fake secrets are assembled at run time so no scanner mistakes this file for a leak.
GH = "ghp_" + "aB3" * 12
GH_PAT = "github_pat_" + "11ABCDEFG0" * 3 + "_xyz"
GL = "glpat-" + "x1Y2z3" * 4
SLACK = "xoxb-" + "123456789012-" + "abcdEFGHijkl"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPL1"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
GOOGLE = "AIza" + "Sy" + "D3x" * 11
JWT = (
    "eyJhbGciOiJIUzI1NiJ9"
    + ".eyJzdWIiOiIxMjM0NTYifQ"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\n"
    "Proc-Type: 4,ENCRYPTED\n"
    "DEK-Info: AES-128-CBC,0123456789ABCDEF\n"
    "\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "aFDrBz9vFqU4yYz2lO1Xh0x8RkNL1DkRHbjp5Ua8x8mMwdNm3yJYzUqUbgpAQm0e\n"
    "-----END RSA " + "PRIVATE KEY-----"
)


def redact(text: str) -> tuple[str, int]:
    return Redactor().redact(text)


# -- each default shape ----------------------------------------------------------------
SK = "sk-" + "Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFGH"
SK_PROJ = "sk-proj-" + "Zx9_Yw8-Vu7TsRqPoNmLkJiHgFeDcBa0123456789"
SK_ANT = "sk-ant-api03-" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGhIj"

@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        (f"export GITHUB_TOKEN_X {GH} end", GH, "github_token"),
        (f"git clone https://x:{GH}@github.com/o/r", GH, "github_token"),
        (f"pat {GH_PAT}.", GH_PAT, "github_token"),
        (f"GL {GL}", GL, "gitlab_token"),
        (f"slack {SLACK} ok", SLACK, "slack_token"),
        ("app xapp-1-A0123456-abcdef123456", "xapp-1-A0123456-abcdef123456", "slack_token"),
        (f"id={AWS_ID}", AWS_ID, "aws_access_key"),
        (f"ASIA{AWS_ID[4:]} in text", "ASIA" + AWS_ID[4:], "aws_access_key"),
        (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "aws_secret_key"),
        (f"aws configure set aws_secret_access_key {AWS_SECRET}", AWS_SECRET, "aws_secret_key"),
        (f'"AWS_SECRET_ACCESS_KEY": "{AWS_SECRET}"', AWS_SECRET, "aws_secret_key"),
        (f"key={GOOGLE}&q=1", GOOGLE, "google_api_key"),
        (f"Cookie: session={JWT}; path=/", JWT, "jwt"),
        (PEM + "\nafter", "MIIEowIBAAKCAQEA", "private_key"),
        (
            f'curl -H "Authorization: Bearer abc.{AWS_SECRET[:20]}" x',
            AWS_SECRET[:20],
            "auth_header",
        ),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "auth_header"),
        ("using bearer 0a1b2c3d4e5f6a7b8c9d", "0a1b2c3d4e5f6a7b8c9d", "auth_header"),
        ("PGPASSWORD=hunter2 psql", "hunter2", "secret"),
        ("password: hunter2", "hunter2", "secret"),
        ('{"password": "two words", "user": "bob"}', "two words", "secret"),
        ("{'apiKey': 'k-123'}", "k-123", "secret"),
        ("export DB_PASSWD='s3 cr3t'", "s3 cr3t", "secret"),
        ("passphrase=hello", "hello", "secret"),
        ("CLIENT_SECRET=abc", "abc", "secret"),
        ("client-secret: abc", "abc", "secret"),
        ("credentials=abc", "abc", "secret"),
        ("x-api-key: abc123", "abc123", "secret"),
        ("SIGNING_KEY=abc123", "abc123", "secret"),
        ("mysql --password s3cret --verbose", "s3cret", "secret"),
        ("tool --api-key=s3cret", "s3cret", "secret"),
        ("gh auth --with-token tok3n", "tok3n", "secret"),
        ("postgres://alice:s3cr3t@db:5432/x", "s3cr3t", "url_password"),
        ("redis://:pw123@cache", "pw123", "url_password"),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
            "T000/B000/XXXXXXXX",
            "slack_webhook",
        ),
        # API keys of the sk- shape (OpenAI and the services that copied it), Anthropic's,
        # Stripe's; names ending in _PASS / _PWD; curl's -u; the AWS CLI's own prompt.
        (f"export OPENAI_API_KEY={SK}", SK, "api_key"),
        (f"echo {SK_PROJ} | tool", SK_PROJ, "api_key"),
        (f"ANTHROPIC_API_KEY {SK_ANT}", SK_ANT, "anthropic_api_key"),
        ("stripe sk_live_51HxYzAbCdEfGhIjKlMnOpQr0123 ok", "sk_live_51HxYzAbCdEfGhIjKlMnOpQr0123", "stripe_key"),
        ("export DB_PASS=hunter2", "hunter2", "secret"),
        ("MYSQL_PWD=s3cret mysql -u root", "s3cret", "secret"),
        ("smtp --smtp-pass hunter2", "hunter2", "secret"),
        ("PASS=hunter2 ./deploy", "hunter2", "secret"),
        ("curl -u alice:Wonderland https://api.x", "Wonderland", "url_password"),
        ("curl -s --user bob:pw1 https://x", "pw1", "url_password"),
        (f"AWS Secret Access Key [None]: {AWS_SECRET}", AWS_SECRET, "aws_secret_key"),
    ],
)
def test_default_shapes(text: str, secret: str, kind: str) -> None:
    out, n = redact(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert n == out.count("[REDACTED:")


def test_kinds_are_documented_names() -> None:
    assert set(DEFAULT_KINDS) >= {
        "private_key", "aws_access_key", "aws_secret_key", "github_token", "gitlab_token",
        "slack_token", "google_api_key", "jwt", "auth_header", "secret", "url_password",
        "api_key", "anthropic_api_key", "stripe_key",
    }  # fmt: skip


def test_name_is_kept_value_hidden() -> None:
    assert redact("DB_PASSWORD=hunter2 next") == ("DB_PASSWORD=[REDACTED:secret] next", 1)
    assert redact("postgres://alice:pw@h") == ("postgres://alice:[REDACTED:url_password]@h", 1)


def test_token_inside_assignment_counts_once_with_specific_kind() -> None:
    assert redact(f"GITHUB_TOKEN={GH}") == ("GITHUB_TOKEN=[REDACTED:github_token]", 1)


def test_several_secrets_counted() -> None:
    out, n = redact(f"{GH} and {AWS_ID} and password=x")
    assert n == 3
    assert GH not in out and AWS_ID not in out


def test_pem_without_end_is_hidden_to_where_it_stops() -> None:
    cut = PEM.split("-----END")[0]  # the output cap can cut a key in half
    out, n = redact("$ cat id_rsa\n" + cut)
    assert n == 1
    assert "MIIE" not in out and "aFDr" not in out
    assert out.startswith("$ cat id_rsa\n")


def test_pem_block_ends_at_end_line() -> None:
    out, _ = redact(PEM + "\nnext line stays")
    assert out.endswith("\nnext line stays")


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=5 tokenizer=bert tokens: 3",
        "key=value monkey=1 hotkey: F1",  # a key that belongs to nothing secret
        "PWD=/home/x OLDPWD=/tmp",
        "mkdir -p foo && ssh -p 22 host",  # -p is not a password flag by default
        "mysql --password --verbose",  # the next option is not the value
        "http://host:8080/path@x",
        "see https://example.com/a:b",
        "Password:",
        "the token expired; bearer authentication failed",
        "ghp_short",
        "xghp_" + "a" * 36,  # glued to a longer word
        "AKIAshort",
        "eyJ alone",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "drwxr-xr-x 2 root root 4096 Nov 25 09:12 tokens",
        "héllo ✓ wörld — naïve café",
        "pip install sk-video-processing-toolkit-long-name2",  # lower case: a name, not a key
        "task-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",  # glued: not an sk- key
        "5 passed, 1 skipped; pass: 3",  # test counts
        "bypass=1 compass: north",
        "cd --pwd /tmp/x",
        "docker run -u 1000:1000 img; git push -u origin main:main",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == (text, 0)


def test_placeholders_are_not_redacted_again() -> None:
    once, n = redact(
        f"password=x 'token': 'a b' Authorization: Bearer {AWS_SECRET} postgres://u:p@h {GH}"
    )
    assert n == 5
    assert redact(once) == (once, 0)


def test_non_ascii_and_surrogates_survive_around_secrets() -> None:
    text = "héllo ✓ password=ünï \udcff end"  # a surrogateescape'd byte from a non-UTF-8 path
    assert redact(text) == ("héllo ✓ password=[REDACTED:secret] \udcff end", 1)


def test_case_insensitive_names() -> None:
    for name in ("PASSWORD", "Password", "passWord", "Api_Key", "AUTH-TOKEN"):
        out, n = redact(f"{name}=abc")
        assert (out, n) == (f"{name}=[REDACTED:secret]", 1)


def test_empty_text() -> None:
    assert redact("") == ("", 0)


# -- switching off and user patterns ---------------------------------------------------------
def test_defaults_off_means_no_default_redaction() -> None:
    r = Redactor(defaults=False)
    assert not r.enabled
    assert r.redact(f"{GH} password=x") == (f"{GH} password=x", 0)


def test_disable_one_kind() -> None:
    r = Redactor(disabled=["jwt"])
    out, n = r.redact(f"{JWT} {GH}")
    assert JWT in out and GH not in out and n == 1
    assert "jwt" not in r.kinds


def test_disabling_one_kind_of_a_merged_probe_keeps_the_other() -> None:
    r = Redactor(disabled=["google_api_key"])
    out, _ = r.redact(f"{GOOGLE} {AWS_ID}")
    assert GOOGLE in out and AWS_ID not in out


def test_user_pattern_whole_match() -> None:
    r = Redactor(defaults=False, rules=[user_rule(r"EMP-\d{6}")])
    assert r.redact("id EMP-123456 ok") == ("id [REDACTED:custom] ok", 1)


def test_user_pattern_named_group() -> None:
    r = Redactor(defaults=False, rules=[user_rule(r"mysql\b.*?\s-p(?P<secret>\S+)")])
    assert r.redact("mysql -uroot -phunter2 db") == ("mysql -uroot -p[REDACTED:custom] db", 1)


def test_user_pattern_first_group() -> None:
    r = Redactor(defaults=False, rules=[user_rule(r"pin (\d+)")])
    assert r.redact("pin 1234 pin 99") == ("pin [REDACTED:custom] pin [REDACTED:custom]", 2)


def test_user_pattern_matching_empty_never_counts() -> None:
    r = Redactor(defaults=False, rules=[user_rule(r"x*")])
    assert r.redact("abc") == ("abc", 0)


def test_bad_user_pattern_names_itself() -> None:
    with pytest.raises(CfsessionError) as err:
        user_rule("ab(", 2)
    assert "#3" in err.value.message and "'ab('" in err.value.message
    assert err.value.hint and "patterns" in err.value.hint


def test_load_redactor_from_config_file(tmp_path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[redact]\ndisable = ["url_password"]\npatterns = ["EMP-\\\\d{6}"]\n')
    r = load_redactor(load_config(cfg))
    out, n = r.redact(f"EMP-123456 postgres://u:pw@h {GH}")
    assert n == 2
    assert "EMP-123456" not in out and GH not in out and "u:pw@h" in out


def test_load_redactor_defaults_false(tmp_path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[redact]\ndefaults = false\n")
    assert not load_redactor(load_config(cfg)).enabled


def test_call_is_the_cast_writer_shape() -> None:
    assert Redactor()(f"x {GH}") == "x [REDACTED:github_token]"


# -- streams -------------------------------------------------------------------------------
STREAM = (
    "$ cat key\r\n"
    + PEM.replace("\n", "\r\n")
    + "\r\n$ export password = 'abc def' TOKEN="
    + GH
    + " done\r\n$ "
)
STREAM_SECRETS = ("MIIEow", "aFDrBz", "abc def", GH, "Proc-Type: 4")


def _run_stream(chunks: list[str]) -> tuple[str, int]:
    s = StreamRedactor(Redactor())
    out = "".join(s.feed(c) for c in chunks) + s.flush()
    return out, s.count


def test_stream_every_two_way_split() -> None:
    for cut in range(len(STREAM) + 1):
        out, n = _run_stream([STREAM[:cut], STREAM[cut:]])
        for secret in STREAM_SECRETS:
            assert secret not in out, (cut, secret)
        assert out.startswith("$ cat key\r\n") and out.endswith(" done\r\n$ ")
        assert n >= 3


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8))
def test_stream_random_chunkings(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    out, _ = _run_stream([STREAM[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
    for secret in STREAM_SECRETS:
        assert secret not in out


_plain = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF), max_size=300
)


@settings(max_examples=200, deadline=None)
@given(_plain, st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_stream_passes_text_without_secrets_through_exactly(text: str, cuts: list[int]) -> None:
    if Redactor().redact(text)[1]:  # hypothesis found a secret shape: not this property
        return
    bounds = [0, *sorted(c for c in cuts if c <= len(text)), len(text)]
    out, n = _run_stream([text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
    assert (out, n) == (text, 0)


def test_stream_holds_a_partial_word_until_the_next_chunk() -> None:
    s = StreamRedactor(Redactor())
    assert s.feed("$ echo ghp_") == "$ echo "
    assert s.feed("aB3" * 12 + " ok\r\n$ ") == "[REDACTED:github_token] ok\r\n$ "
    assert s.flush() == ""


def test_stream_does_not_hold_a_prompt() -> None:
    s = StreamRedactor(Redactor())
    assert s.feed("user@host:~$ ") == "user@host:~$ "


def test_stream_endless_word_is_not_held_forever() -> None:
    s = StreamRedactor(Redactor())
    blob = "A" * 10_000
    assert s.feed(blob) == blob


@given(_plain)
@settings(max_examples=300, deadline=None)
def test_redact_never_raises_and_is_idempotent(text: str) -> None:
    once, n = Redactor().redact(text)
    assert Redactor().redact(once) == (once, 0)
    assert once.count("[REDACTED:") == text.count("[REDACTED:") + n


# -- argv ------------------------------------------------------------------------------------
def test_redact_argv_elements_and_split_options() -> None:
    argv = ["sh", "-c", f"echo {GH}", "--password", "hunter2", "--api-key", "k1", "--verbose"]
    out, n = redact_argv(Redactor(), argv)
    assert out == [
        "sh", "-c", "echo [REDACTED:github_token]", "--password", "[REDACTED:secret]",
        "--api-key", "[REDACTED:secret]", "--verbose",
    ]  # fmt: skip
    assert n == 3


def test_redact_argv_leaves_ordinary_commands_and_next_options() -> None:
    argv = ["mysql", "--password", "--user", "bob", "ls", "-la"]
    assert redact_argv(Redactor(), argv) == (argv, 0)
    assert redact_argv(Redactor(defaults=False), ["--password", "x"]) == (["--password", "x"], 0)
