"""Benchmark the read side: ``list`` and ``search`` on a warm index (DESIGN.md §7).

Generates N sessions holding M commands in total straight into a temporary store (JSONL
files written directly, realistic shapes, no recorder), builds the index once
(``reindex``), then times, on the warm index:

* library path (``cfsession.api``): ``list_sessions(limit=50)``, ``list_sessions()`` (all),
  ``search(word, limit=20)`` for a common output word, a rare one, a command word and
  with ``failed=True``; each call includes the catch-up stat scan that answers begin with;
* ``stats()`` over everything;
* catch-up when the sessions directory changed (a scandir, no per-file stat);
* the CLI as a user runs it (``cfsession list`` / ``search`` in a subprocess: interpreter
  start-up and imports included).

    python scripts/bench_store.py --sessions 10000 --commands 1000000

``run(sessions, commands) -> dict`` is what ``scripts/bench.py`` calls.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

RARE = "xylophonequartz"  # appears in ~10 outputs in the whole store
COMMON = "warning"  # appears in ~2% of outputs
PROGRAMS = ["git status", "git diff", "git log --oneline", "make test", "make build", "ls -la",
            "cd src", "grep -rn {w} .", "pytest -k {w}", "cat {w}.txt", "docker ps", "npm run {w}",
            "python manage.py {w}", "vim {w}.py", "curl -s https://example.com/{w}", "echo {w}"]


def _words(rng: random.Random, n: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(n)]


def generate(home: Path, sessions: int, commands: int, seed: int = 7) -> None:
    """Write ``sessions`` JSONL files with ``commands`` terminal_capture lines in total."""
    rng = random.Random(seed)
    vocab = _words(rng, 5000)
    sdir = home / "sessions"
    sdir.mkdir(parents=True, mode=0o700)
    per, extra = divmod(commands, sessions)
    rare_left = 10
    t0 = time.time() - sessions * 600.0
    dumps = json.dumps
    for s in range(sessions):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        start = t0 + s * 600.0
        n_cmds = per + (1 if s < extra else 0)
        lines = [dumps({
            "event_type": "session_start", "session_id": sid, "seq": 1, "ts": _ts(start),
            "schema_version": 1, "session_type": "interactive", "name": f"bench {s}",
            "parent_session_id": None, "correlation_id": sid, "started_at": _ts(start),
            "host": "bench-host", "user": "bench", "pid": 99_999_999, "shell": "/bin/bash",
            "shell_kind": "bash", "cwd": f"/home/bench/p{s % 50}", "cols": 120, "rows": 40,
            "term": "xterm-256color", "platform": "linux", "cfsession_version": "bench",
            "etw": "unavailable: bench", "integration": "active", "command_argv": None,
            "prev_hash": "0" * 64, "hash": "0" * 64})]
        t, failed = start, 0
        for n in range(1, n_cmds + 1):
            w = rng.choice(vocab)
            cmd = rng.choice(PROGRAMS).format(w=w)
            out_words = rng.choices(vocab, k=rng.randint(4, 30))
            if rng.random() < 0.02:
                out_words.insert(rng.randrange(len(out_words)), COMMON)
            if rare_left and rng.random() < 20 / max(commands, 1):
                out_words.append(RARE)
                rare_left -= 1
            code = 0 if rng.random() > 0.1 else rng.choice([1, 2, 127])
            failed += code != 0
            dur = rng.expovariate(1 / 800.0)
            t += 2 + dur / 1000
            lines.append(dumps({
                "event_type": "terminal_capture", "session_id": sid, "seq": n + 1, "ts": _ts(t),
                "correlation_id": sid, "command_seq": n, "command": cmd, "command_source": "history",
                "cwd": f"/home/bench/p{s % 50}", "cwd_end": f"/home/bench/p{s % 50}",
                "exit_code": code, "status_kind": "exited", "pipestatus": None,
                "started_at": _ts(t - dur / 1000), "ended_at": _ts(t), "duration_ms": round(dur, 3),
                "output": " ".join(out_words) + "\n", "output_length": 200, "output_truncated": False,
                "alt_screen": False, "cast_start": 1.0, "cast_end": 2.0, "redactions": 0,
                "anomalies": [], "cast_sha256": "", "cast_bytes": 0,
                "prev_hash": "0" * 64, "hash": "0" * 64}))
        complete = s % 100 != 0  # 1% incomplete: live files the catch-up must stat
        if complete:
            lines.append(dumps({
                "event_type": "session_end", "session_id": sid, "seq": n_cmds + 2, "ts": _ts(t + 1),
                "ended_at": _ts(t + 1), "duration_ms": (t + 1 - start) * 1000,
                "command_count": n_cmds, "failed_count": failed, "exit_code": 0, "reason": "exit",
                "cast_sha256": "", "cast_bytes": 0, "prev_hash": "0" * 64, "hash": "0" * 64}))
        (sdir / f"{sid}.jsonl").write_text("\n".join(lines) + "\n")


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _time_ms(fn: Any, repeat: int = 7) -> float:
    fn()  # warm: page cache, sqlite cache, imports
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(samples), 2)


def _cli_ms(home: Path, argv: list[str], clis: list[list[str]], repeat: int = 5) -> list[float]:
    """Median wall time of each of ``clis`` running ``argv``, the order rotating every round
    so drift hits all alike. Run from ``home``: ``python -m`` puts the cwd first on sys.path,
    which would shadow a ``PYTHONPATH`` given for a second build."""
    env = dict(os.environ, CFSESSION_HOME=str(home), COLUMNS="120")
    samples: list[list[float]] = [[] for _ in clis]
    for cli in clis:  # warm
        subprocess.run([*cli, *argv], env=env, cwd=home, capture_output=True, check=True)
    for r in range(repeat):
        for k in range(len(clis)):
            i = (k + r) % len(clis)
            t = time.perf_counter()
            subprocess.run([*clis[i], *argv], env=env, cwd=home, capture_output=True, check=True)
            samples[i].append((time.perf_counter() - t) * 1000)
    return [round(statistics.median(xs), 1) for xs in samples]


def run(sessions: int = 10_000, commands: int = 1_000_000, keep: bool = False,
        cli: list[str] | None = None, cli_b: list[str] | None = None) -> dict[str, Any]:
    """Generate, index, and time list/search; returns the figures (ms unless named _s/_mb).

    ``cli`` runs cfsession as a process (default: this Python's ``-m cfsession``); with
    ``cli_b`` (a second build) its CLI figures are taken in the same rounds, under "b"."""
    from cfsession import api
    from cfsession.index import Index

    home = Path(tempfile.mkdtemp(prefix="cfbench-store-"))
    try:
        t = time.perf_counter()
        generate(home, sessions, commands)
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        api.reindex(home=home)
        build_s = time.perf_counter() - t
        time.sleep(1.1)  # let the directory mtime age past the racy window, as in real use
        api.list_sessions(limit=1, home=home)

        def full_scan() -> None:
            with Index(home) as ix:  # as after a new session file appeared
                ix.conn.execute("UPDATE meta SET value = -1 WHERE key = 'dir_mtime_ns'")
                ix.catch_up()

        res: dict[str, Any] = {
            "sessions": sessions, "commands": commands,
            "generate_s": round(gen_s, 1), "index_build_s": round(build_s, 1),
            "index_mb": round(sum(p.stat().st_size for p in home.glob("index.sqlite*")) / 2**20, 1),
            "lib_list_50_ms": _time_ms(lambda: api.list_sessions(limit=50, home=home)),
            "lib_list_all_ms": _time_ms(lambda: api.list_sessions(home=home)),
            "lib_search_common_ms": _time_ms(lambda: api.search(COMMON, home=home)),
            "lib_search_rare_ms": _time_ms(lambda: api.search(RARE, home=home)),
            "lib_search_command_word_ms": _time_ms(lambda: api.search("docker", home=home)),
            "lib_search_failed_ms": _time_ms(lambda: api.search(COMMON, failed=True, home=home)),
            "lib_search_phrase_ms": _time_ms(lambda: api.search('"git status"', home=home)),
            "lib_stats_ms": _time_ms(lambda: api.stats(home=home), repeat=3),
            "catch_up_full_scan_ms": _time_ms(full_scan, repeat=3),
            "rare_hits": len(api.search(RARE, limit=100, home=home)),
        }
        clis = [cli or [sys.executable, "-m", "cfsession"], *([cli_b] if cli_b else [])]
        for key, argv in (("cli_list_ms", ["list"]), ("cli_list_json_all_ms", ["list", "--json"]),
                          ("cli_search_ms", ["search", COMMON]), ("cli_startup_ms", ["--version"])):
            got = _cli_ms(home, argv, clis)
            res[key] = got[0]
            if cli_b:
                res.setdefault("b", {})[key] = got[1]
        return res
    finally:
        if keep:
            print(f"store kept at {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--commands", type=int, default=1_000_000)
    p.add_argument("--keep", action="store_true", help="keep the generated store")
    p.add_argument("--cli", help="how to run cfsession [this Python's -m cfsession]")
    p.add_argument("--cli-b", help="a second cfsession timed in the same rounds (A/B)")
    args = p.parse_args()
    split = lambda cmd: shlex.split(cmd) if cmd else None  # noqa: E731
    print(json.dumps(run(args.sessions, args.commands, args.keep, split(args.cli), split(args.cli_b)), indent=2))


if __name__ == "__main__":
    main()
