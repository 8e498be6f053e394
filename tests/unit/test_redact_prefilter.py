"""The RE2 prefilter must let through every text a default probe could match."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfsession import redact
from cfsession.redact import PREFILTER_PATTERN, Redactor, _default_probes

SAMPLES = [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "AIza" + "a" * 35,
    "ghp_" + "a" * 36,
    "github_pat_" + "a" * 30,
    "glpat-" + "a" * 20,
    "xoxb-1234567890-abcdef",
    "xapp-1-abcdefghijkl",
    "eyJhbGciOiJ.eyJzdWIiOiIx.abc",
    "https://user:pw@example.com",
    "Authorization: Bearer abcdefghijkl1",
    "PASSWORD=hunter2",
    "Secret: x",
    "TOKEN=abc",
    "credentials = 'x'",
    "API_KEY=abc",
    "sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "sk_live_51HxYzAbCdEfGhIjKlMnOpQr0123",
    "DB_PASS=hunter2",
    "MYSQL_PWD=s3cret",
    "curl -u alice:pw https://x",
    "AWS Secret Access Key [None]: wJalrXUtnFEMI",
]


def test_prefilter_is_active() -> None:
    assert redact._PREFILTER is not None, "google-re2 is a dependency: the fast path must be on"


@pytest.mark.parametrize("text", SAMPLES)
def test_every_sample_passes_the_prefilter_and_is_redacted(text: str) -> None:
    assert re.search(PREFILTER_PATTERN, text.encode()) is not None
    out, n = Redactor().redact(text)
    assert n >= 1 and "[REDACTED:" in out


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80), st.sampled_from(SAMPLES))
def test_no_probe_match_without_a_prefilter_match(noise: str, sample: str) -> None:
    # Wherever a probe matches, the prefilter matches too (it is a superset).
    for text in (noise, noise + sample, sample + noise, noise[:10] + sample + noise[10:]):
        data = text.encode()
        low = data.lower()
        anchors = set(redact._anchor_starts(data))
        for p in _default_probes():
            for m in p.regex.finditer(low if p.folded else data):
                # The fast path tries probes only where an anchor starts.
                assert m.start() in anchors, (text, p.regex.pattern[:40])
        # …and finds what the full scan finds.
        assert Redactor().redact(text) == _full_scan(text)


def _full_scan(text: str) -> tuple[str, int]:
    saved = redact._PREFILTER
    redact._PREFILTER = None
    try:
        return Redactor().redact(text)
    finally:
        redact._PREFILTER = saved


@pytest.mark.parametrize("text", ["eyJhbGciOiJ.eyJzdWIiOiIx.abc0.", "KeyJhbGciOiJ.eyJzdWIiOiIx.abc"])
def test_overlapping_anchors_match_the_full_scan(text: str) -> None:
    assert Redactor().redact(text) == _full_scan(text)


def test_plain_text_skips_the_probes() -> None:
    text = "lorem ipsum dolor 12345\r\n" * 1000
    assert Redactor().redact(text) == (text, 0)


def _starts_by(search: object, data: bytes) -> list[int]:
    out: list[int] = []
    m = search(data)  # type: ignore[operator]
    while m is not None:
        out.append(m.start())
        m = search(data, m.start() + 1)  # type: ignore[operator]
    return out


def _all_paths(data: bytes) -> tuple[list[int], list[int], list[int]]:
    """The anchor starts found by the stdlib's compile, RE2's public API and RE2's raw call."""
    assert redact._RAW is not None, "google-re2's search call must be usable: the fast path must be on"
    raw: list[int] = []
    pos = redact._RAW(data, 0)
    while pos >= 0:
        raw.append(pos)
        pos = redact._RAW(data, pos + 1)
    return _starts_by(redact._SHORT.search, data), _starts_by(redact._PREFILTER.search, data), raw


@pytest.mark.parametrize("text", [*SAMPLES, "", "x", "KeyJ", "eyJ", "a token", "TOKENkey://", "\u00e9key\u00e9"])
def test_stdlib_re2_and_raw_re2_find_the_same_anchor_starts(text: str) -> None:
    for data in (text.encode(), text.encode()[:redact.SHORT_TEXT - 1], text.lower().encode()):
        re_starts, re2_starts, raw_starts = _all_paths(data)
        assert re_starts == re2_starts == raw_starts
        assert redact._anchor_starts(data) == re2_starts


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40), st.sampled_from(SAMPLES))
def test_short_and_long_paths_agree_on_random_bytes(noise: bytes, sample: str) -> None:
    for data in (noise, noise + sample.encode(), noise[:5] + sample.encode()[:12] + noise[5:]):
        re_starts, re2_starts, raw_starts = _all_paths(data)
        assert re_starts == re2_starts == raw_starts, data
        assert redact._anchor_starts(data) == re2_starts


def test_short_texts_are_redacted_like_the_full_scan() -> None:
    for text in ("key=abc", "token=x", "pass=1", "AKIA", "x", "eyJa.b.c"):
        assert len(text.encode()) < redact.SHORT_TEXT
        assert Redactor().redact(text) == _full_scan(text)
