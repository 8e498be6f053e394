"""Benchmark ``cfsession mcp --remote`` against ``cfsession mcp`` over the same sessions.

N commands (``bench_fleet.generate``: 1000 per session, ~540 B of output each) are written
to a store here, shipped to a throw-away PostgreSQL 15 cluster on loopback, and then both
servers are driven by the MCP SDK's stdio client: the median of one ``tools/call`` round
trip per tool. ``get_command`` first (the session copied from the server) and again (the
copy reused) show what the private copy costs.

    python scripts/bench_mcp_remote.py --commands 50000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
sys.path.insert(0, str(ROOT / "scripts"))


async def _measure(args: list[str], env: dict[str, str], sid: str, repeat: int) -> dict[str, float]:
    from bench_fleet import COMMON, RARE
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    calls = {
        "search rare word": ("search", {"query": RARE}),
        "search common word": ("search", {"query": COMMON}),
        "list_sessions": ("list_sessions", {}),
        "get_session (1000 commands, first page)": ("get_session", {"session": sid}),
        "verify_session (1000 commands)": ("verify_session", {"session": sid}),
        "stats": ("stats", {}),
    }
    out: dict[str, float] = {}
    params = StdioServerParameters(command=sys.executable, args=["-m", "cfsession", "mcp", *args], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        t = time.perf_counter()
        res = await s.call_tool("get_command", {"session": sid, "seq": 500})
        out["get_command first call ms"] = round((time.perf_counter() - t) * 1000, 1)
        assert not res.is_error, res
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            await s.call_tool("get_command", {"session": sid, "seq": 500})
            samples.append((time.perf_counter() - t) * 1000)
        out["get_command again ms"] = round(statistics.median(samples), 1)
        for label, (tool, arguments) in calls.items():
            res = await s.call_tool(tool, arguments)  # warm
            assert not res.is_error, (label, res)
            samples = []
            for _ in range(repeat):
                t = time.perf_counter()
                await s.call_tool(tool, arguments)
                samples.append((time.perf_counter() - t) * 1000)
            out[f"{label} ms"] = round(statistics.median(samples), 1)
    return out


def main() -> int:
    import anyio
    import pg_cluster
    from bench_fleet import generate

    from cfsession.fleet import config, schema, shipper

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=9)
    a = ap.parse_args()
    why = pg_cluster.available()
    if why:
        print(why, file=sys.stderr)
        return 1
    cluster = pg_cluster.create()
    work = Path(tempfile.mkdtemp(prefix="cfbench-mcpremote-"))
    try:
        with config.connect(cluster.url(), autocommit=True) as conn:
            schema.migrate(conn)
        home = work / "home"
        records = generate(home, a.commands)
        t = time.perf_counter()
        shipper.ship(cluster.url(), home=home)
        ship_s = time.perf_counter() - t
        sid = str(records[0]["session_id"])
        base = {"LANG": "C.UTF-8", "CFSESSION_HOME": str(home)}
        result: dict[str, Any] = {"commands": a.commands, "ship_s": round(ship_s, 1)}
        result["local"] = anyio.run(_measure, [], base, sid, a.repeat)
        remote_env = {**base, "CFSESSION_HOME": str(work / "empty"), "CFSESSION_REMOTE_URL": cluster.url()}
        result["remote"] = anyio.run(_measure, ["--remote"], remote_env, sid, a.repeat)
        print(json.dumps(result, indent=2))
    finally:
        pg_cluster.destroy(cluster)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", "120")
    sys.exit(main())
