"""Benchmark redaction throughput (issue 6: keep it well above 50 MB/s).

Two 10 MB corpora of ordinary text: ``ls -lR /usr`` output (terminal-like) and the
Python standard library's sources (dense in ``key``/``token``/``password`` words and
``=``, the adversarial case). Each is redacted whole and in 64 KiB and 4 KiB chunks (the
sizes the recorder hands over); best of three.

    python scripts/bench_redact.py [--mb 10]
    python scripts/bench_redact.py --prefilter   # µs per call by text length: stdlib re vs RE2


``run(mb) -> dict`` is what ``scripts/bench.py`` may call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from cfsession.redact import Redactor
from cfsession.redact_stream import StreamRedactor


def _corpus_ls(size: int) -> str:
    out = subprocess.run(
        ["ls", "-lR", "/usr"], capture_output=True, text=True, errors="replace", check=False
    ).stdout
    return (out * (1 + size // max(1, len(out))))[:size]


def _corpus_py(size: int) -> str:
    parts: list[str] = []
    n = 0
    for f in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        t = f.read_text(errors="replace")
        parts.append(t)
        n += len(t)
        if n > size:
            break
    text = "".join(parts)
    return (text * (1 + size // max(1, len(text))))[:size]


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run(mb: float = 10) -> dict[str, float]:
    size = int(mb * 1_000_000)
    red = Redactor()
    results: dict[str, float] = {}
    for name, text in (("ls", _corpus_ls(size)), ("pysrc", _corpus_py(size))):
        for chunk in (len(text), 65536, 4096):

            def once(text: str = text, chunk: int = chunk) -> None:
                for i in range(0, len(text), chunk):
                    red.redact(text[i : i + chunk])

            label = f"{name}_{'whole' if chunk == len(text) else chunk}_MBps"
            results[label] = round(len(text) / _best(once) / 1e6, 1)

        def stream(text: str = text) -> None:
            s = StreamRedactor(red)
            for i in range(0, len(text), 4096):
                s.feed(text[i : i + 4096])
            s.flush()

        results[f"{name}_stream4096_MBps"] = round(len(text) / _best(stream) / 1e6, 1)
    return results


def prefilter() -> dict[str, dict[str, float]]:
    """The anchor scan of short texts, per call: where the stdlib's ``re`` stops being
    cheaper than RE2 (``redact.SHORT_TEXT``)."""
    import timeit

    from cfsession import redact

    raw = redact._RAW
    assert raw is not None, "google-re2 is needed to compare"

    def starts_re(data: bytes) -> None:
        m = redact._SHORT.search(data)
        while m is not None:
            m = redact._SHORT.search(data, m.start() + 1)

    def starts_re2(data: bytes) -> None:
        pos = raw(data, 0)
        while pos >= 0:
            pos = raw(data, pos + 1)

    out: dict[str, dict[str, float]] = {}
    base = b"user@host:~/src$ echo i\r\n"
    for n in (2, 4, 6, 8, 10, 12, 16, 24, 64):
        data = (base * n)[:n]
        out[str(n)] = {
            name: round(min(timeit.repeat(lambda f=f, d=data: f(d), number=5000, repeat=5)) / 5000 * 1e6, 3)  # type: ignore[misc]
            for name, f in (("re_us", starts_re), ("re2_us", starts_re2))
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--prefilter", action="store_true", help="only the short-text anchor scan, per call")
    args = ap.parse_args()
    json.dump(prefilter() if args.prefilter else run(args.mb), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
