"""Benchmark the agent side: MCP ``search`` over a large store, and what ``run()`` adds.

* MCP ``search``: the store of :mod:`bench_store` (N sessions, M commands, written
  straight to JSONL and indexed once), then ``cfsession mcp`` started by the MCP SDK's
  stdio client; each figure is the median round trip of one ``tools/call`` (JSON-RPC over
  the pipes, the catch-up stat scan, the FTS query, sanitising, JSON) — target ≤ 100 ms.
  The same calls on the library (:class:`cfsession.mcp_tools.LocalStore`) are shown too.
* ``run()`` overhead: the median of ``api.record().run(argv)`` minus the median of
  ``subprocess.run(argv)`` for the same short command, through pipes (``pty=False``,
  compared with ``subprocess.run`` capturing output) and through a PTY (compared with
  ``ptyprocess`` spawning it and reading to EOF) — target ≤ 5 ms.

    python scripts/bench_agents.py --sessions 10000 --commands 1000000
    python scripts/bench_agents.py --only run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_store  # noqa: E402  (the generator lives beside this script)

QUERIES = {"common": bench_store.COMMON, "rare": bench_store.RARE, "command_word": "docker",
           "phrase": '"git status"'}


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def mcp_search(sessions: int, commands: int, repeat: int = 15) -> dict[str, Any]:
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from cfsession import api
    from cfsession.mcp_tools import LocalStore

    home = Path(tempfile.mkdtemp(prefix="cfbench-mcp-"))
    try:
        t = time.perf_counter()
        bench_store.generate(home, sessions, commands)
        api.reindex(home=home)
        build_s = time.perf_counter() - t
        time.sleep(1.1)  # the directory mtime ages past the racy window, as in real use
        res: dict[str, Any] = {"sessions": sessions, "commands": commands,
                               "generate_and_index_s": round(build_s, 1)}
        store = LocalStore(home)
        for name, q in QUERIES.items():
            store.search(q)
            samples = []
            for _ in range(repeat):
                t = time.perf_counter()
                store.search(q)
                samples.append(time.perf_counter() - t)
            res[f"lib_search_{name}_ms"] = _median_ms(samples)

        async def client() -> None:
            params = StdioServerParameters(command=sys.executable, args=["-m", "cfsession", "mcp"],
                                           env={"CFSESSION_HOME": str(home)})
            async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
                await s.initialize()
                for name, q in {**QUERIES, "failed": bench_store.COMMON}.items():
                    args = {"query": q, "limit": 20, **({"failed": True} if name == "failed" else {})}
                    first = await s.call_tool("search", args)
                    assert not first.is_error, first.content
                    samples = []
                    for _ in range(repeat):
                        t = time.perf_counter()
                        await s.call_tool("search", args)
                        samples.append(time.perf_counter() - t)
                    res[f"mcp_search_{name}_ms"] = _median_ms(samples)
                samples = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    await s.call_tool("list_sessions", {"limit": 20})
                    samples.append(time.perf_counter() - t)
                res["mcp_list_sessions_ms"] = _median_ms(samples)

        anyio.run(client)
        return res
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_overhead(repeat: int = 60, argv: list[str] | None = None) -> dict[str, Any]:
    from ptyprocess import PtyProcess

    from cfsession import api

    argv = argv or [shutil.which("true") or "/bin/true"]
    home = Path(tempfile.mkdtemp(prefix="cfbench-run-"))

    def timed(fn: Any) -> float:
        fn()
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    def bare_pty() -> None:
        # The least a program can do to run a command on a PTY and keep its output.
        p = PtyProcess.spawn(argv, dimensions=(40, 120))
        out = bytearray()
        while True:
            try:
                data = os.read(p.fd, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            out += data
        p.wait()
        os.close(p.fd)  # not p.close(): it sleeps 0.1 s (ptyprocess's delayafterclose)

    try:
        with api.record("bench", actor="agent:bench", home=home) as rec:
            sub_pipes = timed(lambda: subprocess.run(argv, capture_output=True))
            run_pipes = timed(lambda: rec.run(argv, pty=False))
            sub_pty = timed(bare_pty)
            run_pty = timed(lambda: rec.run(argv))
        return {
            "command": " ".join(argv), "repeat": repeat,
            "subprocess_run_ms": round(sub_pipes * 1000, 2),
            "run_pipes_ms": round(run_pipes * 1000, 2),
            "run_pipes_overhead_ms": round((run_pipes - sub_pipes) * 1000, 2),
            "ptyprocess_ms": round(sub_pty * 1000, 2),
            "run_pty_ms": round(run_pty * 1000, 2),
            "run_pty_overhead_vs_ptyprocess_ms": round((run_pty - sub_pty) * 1000, 2),
            "run_pty_overhead_vs_subprocess_ms": round((run_pty - sub_pipes) * 1000, 2),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--commands", type=int, default=1_000_000)
    p.add_argument("--only", choices=("mcp", "run"), help="one part only")
    args = p.parse_args()
    out: dict[str, Any] = {}
    if args.only in (None, "run"):
        out["run_overhead"] = run_overhead()
    if args.only in (None, "mcp"):
        out["mcp_search"] = mcp_search(args.sessions, args.commands)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
