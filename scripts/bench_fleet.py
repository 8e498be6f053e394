"""Benchmark the fleet server path (DESIGN.md §7 "fleet ingest", issue: ≥ 50,000 commands/s,
``search --remote`` ≤ 100 ms over 1M commands).

In one run, on a throw-away PostgreSQL 15 cluster on loopback (or ``--url`` of an
administrator on an existing server, which gets scratch databases):

1. ingest: N commands (~540 B of output each, hash-chained JSONL written here) shipped by
   ``cfsession ship --once --no-index`` (the CLI, one shipper, one stream) into a fresh
   database, against ``psql \\copy`` of the very rows ingest stores into the same schema in
   another fresh database; then the deferred text indexing (``index_pending``) of the
   shipped rows, and, for scale, ``\\copy`` with the text indexing done inline;
2. search: ``--search-commands`` rows in a third database — shipped (``--ship-search``) or
   bulk-loaded by SQL with the same shapes (default: faster to set up, same query
   plans) — then ``cfsession.fleet.api.search`` (the query alone) and ``cfsession search
   --remote`` (a user's whole command: interpreter start-up included), median of runs.

    python scripts/bench_fleet.py --commands 100000 --search-commands 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fleet"))

RARE = "xylophonequartz"
COMMON = "warning"
PROGRAMS = ["git status", "git diff", "make test", "make build", "ls -la", "grep -rn {w} .",
            "pytest -k {w}", "cat {w}.txt", "docker ps", "npm run {w}", "curl -s https://example.com/{w}"]
COLUMNS = ("session_guid, seq, host_id, command_seq, started_at, ended_at, duration_ms, exit_code,"
           " status_kind, cwd, command, output, line, hash")


def _words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
            for _ in range(n)]


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def generate(home: Path, commands: int, per_session: int = 1000, seed: int = 7) -> list[dict[str, Any]]:
    """Hash-chained sessions in ``home``; returns every terminal_capture record written."""
    from cfsession.integrity import GENESIS, seal
    from cfsession.records import dumps

    rng = random.Random(seed)
    vocab = _words(rng, 5000)
    sdir = home / "sessions"
    sdir.mkdir(parents=True, mode=0o700)
    out: list[dict[str, Any]] = []
    t0 = time.time() - 90 * 86400
    done = 0
    while done < commands:
        n = min(per_session, commands - done)
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        t = t0 + done * 3.0
        recs: list[dict[str, Any]] = [{
            "event_type": "session_start", "ts": _ts(t), "schema_version": 1, "name": "bench",
            "session_type": "interactive", "parent_session_id": None, "correlation_id": sid,
            "started_at": _ts(t), "host": "bench-host", "user": "bench", "pid": 1, "shell": "/bin/bash",
            "shell_kind": "bash", "cwd": "/home/bench", "cols": 120, "rows": 40}]
        for i in range(1, n + 1):
            w = rng.choice(vocab)
            words = rng.choices(vocab, k=80)  # ~540 B of output
            if rng.random() < 0.02:
                words[rng.randrange(80)] = COMMON
            if rng.random() < 10 / max(commands, 1):
                words[0] = RARE
            t += 3.0
            recs.append({
                "event_type": "terminal_capture", "ts": _ts(t + 1), "correlation_id": sid,
                "command_seq": i, "command": rng.choice(PROGRAMS).format(w=w),
                "command_source": "history", "cwd": "/home/bench", "cwd_end": "/home/bench",
                "exit_code": 0 if rng.random() > 0.1 else 1, "status_kind": "exited",
                "pipestatus": None, "started_at": _ts(t), "ended_at": _ts(t + 1),
                "duration_ms": 1000.0, "output": " ".join(words) + "\n", "output_length": 560,
                "output_truncated": False, "alt_screen": False, "cast_start": 1.0, "cast_end": 2.0,
                "redactions": 0, "anomalies": []})
        recs.append({"event_type": "session_end", "ts": _ts(t + 2), "ended_at": _ts(t + 2),
                     "duration_ms": 1.0, "command_count": n, "failed_count": 0, "exit_code": 0,
                     "reason": "exit"})
        prev = GENESIS
        lines = []
        for seq, rec in enumerate(recs, start=1):
            rec["session_id"], rec["seq"] = sid, seq
            prev = seal(rec, prev)["hash"]
            lines.append(dumps(rec))
        out.extend(recs[1:-1])
        (sdir / f"{sid}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        done += n
    return out


def _copy_file(records: list[dict[str, Any]], path: Path, host_id: int) -> None:
    """The rows ingest stores for these records, as COPY text."""
    from cfsession.integrity import canonical

    def esc(v: Any) -> str:
        if v is None:
            return "\\N"
        s = str(v)
        return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")

    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            line = canonical(r).decode()
            f.write("\t".join(esc(v) for v in (
                r["session_id"], r["seq"], host_id, r["command_seq"], r["started_at"], r["ended_at"],
                r["duration_ms"], r["exit_code"], r["status_kind"], r["cwd"], r["command"], r["output"],
                line, r["hash"])) + "\n")


def _db(admin_url: str, name: str) -> str:
    from cfsession.fleet import config, schema

    with config.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    with config.connect(url, autocommit=True) as conn:
        schema.migrate(conn)
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'bench_shipper'").fetchone():
            conn.execute("CREATE ROLE bench_shipper LOGIN IN ROLE cfsession_shipper")
    return url


def _prepare_copy_target(url: str, records: list[dict[str, Any]]) -> int:
    """Host, sessions and month partitions, as ingest would have made them (not timed)."""
    from cfsession.fleet import config

    with config.connect(url, autocommit=True) as conn:
        host_id = conn.execute("INSERT INTO cfsession.hosts (name, login) VALUES ('bench-host', 'bench_shipper')"
                               " RETURNING host_id").fetchone()[0]
        sids = sorted({r["session_id"] for r in records})
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO cfsession.sessions (session_guid, host_id, last_hash) VALUES (%s, %s, '')",
                            [(s, host_id) for s in sids])
        months = conn.execute("SELECT DISTINCT date_trunc('month', t::timestamptz) FROM unnest(%s::text[]) t",
                              ([records[0]["started_at"], records[-1]["started_at"]],)).fetchall()
        for (m,) in months:
            conn.execute("SELECT cfsession.ensure_partition(%s)", (m,))
        conn.execute("SELECT cfsession.ensure_partition(date_trunc('month', %s::timestamptz) + interval '1 month')",
                     (records[0]["started_at"],))
    return int(host_id)


def _psql_copy(url: str, path: Path, extra: str = "") -> float:
    t = time.perf_counter()
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                    f"\\copy cfsession.commands ({COLUMNS}{extra}) FROM '{path}'"], check=True,
                   capture_output=True)
    return time.perf_counter() - t


def _copy_file_indexed(src: Path, dst: Path) -> None:
    with open(src) as fi, open(dst, "w") as fo:
        for line in fi:
            fo.write(line[:-1] + "\tt\n")


_CLUSTER_DATA: Path | None = None  # the throw-away cluster's data directory, for _server_cpu


def _server_cpu() -> float:
    """CPU seconds the whole server has used so far (postmaster, live backends and the
    backends that ended: a machine shared with other work slows wall clocks, not this);
    0.0 without a throw-away cluster. Waits (≤ 5 s) for the backends of connections
    already closed to be reaped, so that their time is counted."""
    if _CLUSTER_DATA is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    master = int((_CLUSTER_DATA / "postmaster.pid").read_text().split()[0])

    def stat(pid: int) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    deadline = time.monotonic() + 5
    while True:
        children: list[list[str]] = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    f = stat(int(entry.name))
                except OSError:
                    continue
                if int(f[1]) == master:
                    children.append(f)
        # Background processes only (checkpointer, writers, launchers, logger): no backend left.
        if len(children) <= _BACKGROUND or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    total = sum(int(x) for x in stat(master)[11:15])  # utime stime cutime cstime
    total += sum(int(x) for f in children for x in f[11:15])
    return total / tick


_BACKGROUND = 0  # the cluster's own processes, counted once it is up


def _ppid(entry: Path) -> str:
    try:
        return (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
    except OSError:
        return ""


def _ship_v2(url: str, home: Path) -> float:
    """Seconds to ship with the version-2 protocol (COPY into the staging table + ingest(),
    two parses per line), which a version-4 server still serves to older shippers."""
    from cfsession.fleet import batch, shipper

    def legacy(conn: Any) -> bool:
        with conn.transaction():
            conn.execute("SET temp_buffers = '64MB'")
            conn.execute("SELECT cfsession.open_batch()")
        return False

    real, batch.prepare = batch.prepare, legacy
    try:
        t = time.perf_counter()
        shipper.ship(url, home=home, index=False)
        return time.perf_counter() - t
    finally:
        batch.prepare = real


def ingest(admin_url: str, commands: int, rounds: int = 3, v2: bool = False) -> dict[str, Any]:
    """Alternate \\copy and ship ``rounds`` times (fresh databases each time) so that load
    from elsewhere on the machine hits both alike; the ratio is the median of the rounds.
    ``v2``: also ship with the version-2 protocol in each round (the before/after figure)."""
    from cfsession.fleet import config, shipper

    work = Path(tempfile.mkdtemp(prefix="cfbench-fleet-"))
    try:
        t = time.perf_counter()
        records = generate(work / "home", commands)
        gen_s = time.perf_counter() - t
        rows = work / "rows.copy"
        copy_rates, ship_rates, ratios, two_rates, v2_rates, v2_ratios = [], [], [], [], [], []
        copy_cpu: list[float] = []
        ship_cpu: list[float] = []
        client_cpu: list[float] = []
        v2_cpu: list[float] = []
        for _ in range(rounds):
            if v2:
                v2_url = _db(admin_url, "cfbench_v2")
                (work / "home" / "ship.sqlite").unlink(missing_ok=True)
                c0 = _server_cpu()
                v2_s = _ship_v2(v2_url.replace("://postgres@", "://bench_shipper@"), work / "home")
                v2_cpu.append(_server_cpu() - c0)
                v2_rates.append(commands / v2_s)
            copy_url = _db(admin_url, "cfbench_copy")
            _copy_file(records, rows, _prepare_copy_target(copy_url, records))
            c0 = _server_cpu()
            copy_s = _psql_copy(copy_url, rows)
            copy_cpu.append(_server_cpu() - c0)
            ship_url = _db(admin_url, "cfbench_ship")
            (work / "home" / "ship.sqlite").unlink(missing_ok=True)
            t, c0, p0 = time.perf_counter(), _server_cpu(), time.process_time()
            report = shipper.ship(ship_url.replace("://postgres@", "://bench_shipper@"),
                                  home=work / "home", index=False)
            ship_s = time.perf_counter() - t
            ship_cpu.append(_server_cpu() - c0)
            client_cpu.append(time.process_time() - p0)
            assert report.lines == commands + 2 * len({r["session_id"] for r in records}), report
            two_url = _db(admin_url, "cfbench_two")
            (work / "home" / "ship.sqlite").unlink(missing_ok=True)
            t = time.perf_counter()
            shipper.ship(two_url.replace("://postgres@", "://bench_shipper@"), home=work / "home",
                         index=False, streams=2)
            two_rates.append(commands / (time.perf_counter() - t))
            copy_rates.append(commands / copy_s)
            ship_rates.append(commands / ship_s)
            ratios.append(copy_s / ship_s)
            if v2:
                v2_ratios.append(copy_s / v2_s)
        with config.connect(ship_url, autocommit=True) as conn:
            t = time.perf_counter()
            while conn.execute("SELECT cfsession.index_pending(20000)").fetchone()[0] == 20000:
                pass
            index_s = time.perf_counter() - t
        (work / "home" / "ship.sqlite").unlink(missing_ok=True)
        cli_url = _db(admin_url, "cfbench_cli")
        env = dict(os.environ, CFSESSION_HOME=str(work / "home"))
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cfsession", "ship", "--once", "--no-index", "--url",
                        cli_url.replace("://postgres@", "://bench_shipper@")], env=env, check=True,
                       capture_output=True)
        cli_s = time.perf_counter() - t
        inline_url = _db(admin_url, "cfbench_inline")
        _prepare_copy_target(inline_url, records)
        with config.connect(inline_url, autocommit=True) as conn:
            # \copy cannot compute the stored tsvector: a row trigger does, as index_pending would.
            conn.execute("CREATE FUNCTION cfsession.bench_doc() RETURNS trigger LANGUAGE plpgsql AS"
                         " $$BEGIN NEW.doc := cfsession.search_doc(NEW.command, NEW.output); RETURN NEW; END$$")
            conn.execute("CREATE TRIGGER bench_doc BEFORE INSERT ON cfsession.commands"
                         " FOR EACH ROW EXECUTE FUNCTION cfsession.bench_doc()")
        indexed_rows = work / "rows-indexed.copy"
        _copy_file_indexed(rows, indexed_rows)
        inline_s = _psql_copy(inline_url, indexed_rows, ", indexed")
        med = statistics.median
        return {
            "commands": commands,
            "rounds": rounds,
            "generate_s": round(gen_s, 2),
            "psql_copy_per_s": [round(r) for r in copy_rates],
            "ship_per_s": [round(r) for r in ship_rates],
            "ship_vs_copy": [round(r, 3) for r in ratios],
            "ship_vs_copy_median": round(med(ratios), 3),
            **({"ship_v2_protocol_per_s": [round(r) for r in v2_rates],
                "ship_v2_protocol_vs_copy": [round(r, 3) for r in v2_ratios]} if v2 else {}),
            **({"server_cpu_us_per_command": {
                "psql_copy": [round(c * 1e6 / commands, 1) for c in copy_cpu],
                "ship": [round(c * 1e6 / commands, 1) for c in ship_cpu],
                **({"ship_v2_protocol": [round(c * 1e6 / commands, 1) for c in v2_cpu]} if v2 else {})},
                "shipper_cpu_us_per_command": [round(c * 1e6 / commands, 1) for c in client_cpu]}
               if _CLUSTER_DATA is not None else {}),
            "ship_2_streams_per_s": [round(r) for r in two_rates],
            "ship_2_streams_vs_copy_median": round(med(two_rates) / med(copy_rates), 3),
            "ship_cli_per_s (interpreter start-up included)": round(commands / cli_s),
            "index_pending_per_s": round(commands / index_s),
            "psql_copy_inline_indexing_per_s": round(commands / inline_s),
            "ship_then_index_per_s": round(commands / (commands / med(ship_rates) + index_s)),
            "ship_then_index_vs_copy_inline": round(inline_s / (commands / med(ship_rates) + index_s), 3),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- search -------------------------------------------------------------------------------
_BULK = """
WITH v AS (SELECT array_agg(w) AS words FROM (
    SELECT substr(md5(i::text), 1, 3 + i % 7) AS w FROM generate_series(1, 5000) i) x)
INSERT INTO cfsession.commands (session_guid, seq, host_id, command_seq, started_at, ended_at,
    duration_ms, exit_code, status_kind, cwd, command, output, line, hash, indexed, doc)
SELECT q.*, cfsession.search_doc(q.command, q.output) FROM (
SELECT s.session_guid, (g % 1000 + 2)::int, s.host_id, (g % 1000 + 1)::int,
       now() - interval '80 days' + g * interval '3 seconds',
       now() - interval '80 days' + g * interval '3 seconds' + interval '1 second',
       1000, CASE WHEN g % 10 = 0 THEN 1 ELSE 0 END, 'exited', '/home/bench',
       (ARRAY['git status ', 'make test ', 'grep -rn ', 'pytest -k ', 'cat '])[g % 5 + 1]
           || v.words[((g * 7919) % 5000 + 1)::int] AS command,
       CASE WHEN g % 50 = 0 THEN 'warning ' WHEN g % 100000 = 7 THEN 'xylophonequartz ' ELSE '' END
           || array_to_string(v.words[((g * 31) % 4900 + 1)::int:((g * 31) % 4900 + 80)::int], ' ') AS output,
       '{}', '', true
FROM generate_series(0::bigint, %(n)s - 1) g
JOIN cfsession.sessions s ON s.pid = g / 1000, v) q
"""


def _say(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def search(admin_url: str, n: int, ship: bool, repeat: int = 7) -> dict[str, Any]:
    from cfsession.fleet import api, config

    url = _db(admin_url, "cfbench_search")
    t = time.perf_counter()
    if ship:
        work = Path(tempfile.mkdtemp(prefix="cfbench-search-"))
        try:
            generate(work / "home", n)
            env = dict(os.environ, CFSESSION_HOME=str(work / "home"))
            subprocess.run([sys.executable, "-m", "cfsession", "ship", "--once",
                            "--url", url.replace("://postgres@", "://bench_shipper@")],
                           env=env, check=True, capture_output=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    else:
        with config.connect(url, autocommit=True) as conn:
            host = conn.execute("INSERT INTO cfsession.hosts (name) VALUES ('bench-host') RETURNING host_id").fetchone()[0]
            conn.execute("INSERT INTO cfsession.sessions (session_guid, host_id, pid, last_hash, started_at)"
                         " SELECT gen_random_uuid(), %s, i, '', now() - interval '80 days'"
                         " FROM generate_series(0, %s) i", (host, n // 1000))
            for m in range(5):
                conn.execute("SELECT cfsession.ensure_partition(date_trunc('month', now() - interval '80 days')"
                             " + %s * interval '1 month')", (m,))
            # Bulk load, then build the text indexes once (deferred indexing at its cheapest).
            conn.execute("DROP INDEX cfsession.commands_doc, cfsession.commands_trgm_command,"
                         " cfsession.commands_trgm_output")
            _say(f"bulk insert of {n} commands")
            conn.execute(_BULK.replace("%", "%%").replace("%%(n)s", "%(n)s"), {"n": n})
            _say("text indexes")
            conn.execute("SET maintenance_work_mem = '512MB'")
            sql = "".join(p.read_text() for p in sorted((ROOT / "cfsession/fleet/sql").glob("*.sql")))
            for stmt in sql.split(";"):
                if "CREATE INDEX commands_doc" in stmt or "CREATE INDEX commands_trgm" in stmt:
                    conn.execute(stmt[stmt.index("CREATE INDEX"):])
            conn.execute("UPDATE cfsession.sessions s SET command_count = 1000")
    _say("vacuum analyze")
    with config.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        held = conn.execute("SELECT count(*) FROM cfsession.commands").fetchone()[0]
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {"commands": held, "loaded_by": "ship" if ship else "sql", "load_s": round(load_s, 1)}
    queries = {"rare word": (RARE, False), "common word": (COMMON, False),
               "two words": ("make test", False), "substring rare": ("lophonequ", True),
               "substring command": ("grep -rn a", True)}
    with config.connect(url, autocommit=True) as conn:
        for label, (q, sub) in queries.items():
            api.search(q, substring=sub, conn=conn)
            samples = []
            for _ in range(repeat):
                t = time.perf_counter()
                hits = api.search(q, substring=sub, conn=conn, limit=20)
                samples.append((time.perf_counter() - t) * 1000)
            out[f"api {label} ms"] = round(statistics.median(samples), 1)
            out[f"api {label} hits"] = len(hits)
    env = dict(os.environ, CFSESSION_REMOTE_URL=url, COLUMNS="120")
    for label, argv in {"cli search --remote rare": [RARE], "cli search --remote common": [COMMON],
                        "cli search --remote --substring": ["--substring", "lophonequ"]}.items():
        exe = [sys.executable, "-m", "cfsession", "search", "--remote", *argv]
        subprocess.run(exe, env=env, check=True, capture_output=True)
        samples = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run(exe, env=env, check=True, capture_output=True)
            samples.append((time.perf_counter() - t) * 1000)
        out[f"{label} ms"] = round(statistics.median(samples), 1)
    exe = [sys.executable, "-c", "import cfsession.cli.main"]
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(exe, check=True)
        samples.append((time.perf_counter() - t) * 1000)
    out["python + cfsession CLI import ms (for scale)"] = round(statistics.median(samples), 1)
    return out


def breakdown(admin_url: str, repeat: int = 10) -> dict[str, float]:
    """Server CPU per line of one 5,000-line batch, part by part (each statement run
    ``repeat`` times and rolled back; the backend's own CPU time, so load elsewhere on the
    machine does not count): what a line costs ingest beyond what COPY costs."""
    from cfsession.fleet import batch, config, shipper

    work = Path(tempfile.mkdtemp(prefix="cfbench-parts-"))
    try:
        records = generate(work / "home", 10_000)
        reader = shipper.Shipper("postgresql://unused@127.0.0.1:1/x", home=work / "home")
        first, rows = reader._collect(), reader._collect()
        url = _db(admin_url, "cfbench_parts")
        out: dict[str, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        with config.connect(url) as conn:
            batch.send(conn, first, True, lambda: None)  # sessions and partitions exist
            for r in (records[len(first)], records[-1]):
                conn.execute("SELECT cfsession.ensure_partition(date_trunc('month', %s::timestamptz))",
                             (r["started_at"],))
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            conn.commit()

            def cpu() -> float:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(f[11]) + int(f[12])) / tick

            args = ([r.line for r in rows], [r.hash for r in rows], [r.session_id for r in rows],
                    [r.seq for r in rows], [r.prev for r in rows], [r.kind for r in rows])
            arrays = "%b::text[], %b::text[], %b::text[], %b::integer[], %b::text[], %b::text[]"
            u = f"unnest({arrays}) AS u(line, hash, guid, seq, prev, type)"
            cols = ("session_id uuid, seq integer, event_type text, prev_hash text, started_at timestamptz,"
                    " ts text, ended_at timestamptz, command_seq integer, duration_ms double precision,"
                    " exit_code integer, status_kind text, cwd text, command text, output text")
            ins = f"INSERT INTO cfsession.commands ({COLUMNS})"
            parts = {
                "arrays sent and received": "SELECT " + " + ".join(f"cardinality({a})" for a in arrays.split(", ")),
                "arrays + unnest": f"SELECT count(*) FROM {u}",
                "arrays + unnest + sha256": f"SELECT count(*) FROM {u} WHERE encode(sha256(convert_to(u.line, 'UTF8')), 'hex') = u.hash",
                "arrays + unnest + text to json (a validating parse)": f"SELECT count(*) FROM {u} WHERE u.line::json IS NOT NULL",
                "arrays + unnest + json_to_record (text to json included)": f"SELECT count(x.seq) FROM {u} CROSS JOIN LATERAL json_to_record(u.line::json) x({cols})",
                "arrays + unnest + INSERT of constant columns (no parse)": (
                    f"{ins} SELECT u.guid::uuid, u.seq + 100000, 1, 1, {{t}}, {{t}}, 1, 0, 'exited', '/home',"
                    f" 'git status', substr(u.line, 200, 540), u.line, u.hash FROM {u}"),
                "arrays + unnest + INSERT of the parsed columns (no hash, no checks)": (
                    f"{ins} SELECT u.guid::uuid, u.seq + 100000, 1, x.command_seq, x.started_at, x.ended_at,"
                    f" x.duration_ms, x.exit_code, x.status_kind, x.cwd, x.command, x.output, u.line, u.hash"
                    f" FROM {u} CROSS JOIN LATERAL json_to_record(u.line::json) x({cols})"
                    " WHERE x.event_type = 'terminal_capture'"),
                "ingest_lines() (all of it)": (
                    "SELECT cfsession.ingest_lines(" + arrays + ", %b::text[])"),
            }
            started = "'" + records[len(first)]["started_at"] + "'::timestamptz"  # our own text
            for label, sql in parts.items():
                params: tuple[Any, ...] = args
                sql = sql.replace("{t}", started)
                if "ingest_lines" in label:
                    params = args + ([r.started for r in rows],)
                c0 = cpu()
                for _ in range(repeat):
                    conn.execute(sql, params)
                    conn.rollback()
                out[label] = round((cpu() - c0) * 1e6 / repeat / len(rows), 1)
            # \copy's part, the same way: COPY of the rows ingest stores for this batch.
            keys = {(r.session_id, r.seq) for r in rows}
            stored = [r for r in records if (r["session_id"], r["seq"]) in keys]
            copy_rows = work / "rows.copy"
            _copy_file(stored, copy_rows, 1)
            data = copy_rows.read_bytes()
            c0 = cpu()
            for _ in range(repeat):
                with conn.cursor() as cur, cur.copy(f"COPY cfsession.commands ({COLUMNS}) FROM STDIN") as copy:
                    copy.write(data)
                conn.rollback()
            out["COPY of the stored rows (what \\copy does)"] = round((cpu() - c0) * 1e6 / repeat / len(stored), 1)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=100_000, help="commands for the ingest comparison (0: skip)")
    ap.add_argument("--search-commands", type=int, default=1_000_000, help="commands to search over (0: skip)")
    ap.add_argument("--ship-search", action="store_true", help="load the search set by shipping it")
    ap.add_argument("--rounds", type=int, default=3, help="ingest rounds (\\copy and ship alternated; default 3)")
    ap.add_argument("--v2", action="store_true",
                    help="also ship with the version-2 protocol (COPY + ingest()) in each round, for comparison")
    ap.add_argument("--breakdown", action="store_true",
                    help="server CPU per line of one batch, part by part (the server must be on this machine)")
    ap.add_argument("--url", help="administrator URL of an existing server (default: a throw-away cluster)")
    args = ap.parse_args()
    cluster = None
    if args.url:
        admin = args.url
    else:
        import pg_cluster

        why = pg_cluster.available()
        if why:
            print(why, file=sys.stderr)
            return 1
        cluster = pg_cluster.create(durable=True)
        admin = cluster.url(db="postgres")
        global _CLUSTER_DATA, _BACKGROUND
        _CLUSTER_DATA = cluster.data
        master = (cluster.data / "postmaster.pid").read_text().split()[0]  # (no backend connected now)
        _BACKGROUND = sum(1 for e in Path("/proc").iterdir() if e.name.isdigit()
                          and _ppid(e) == master)
    try:
        result: dict[str, Any] = {}
        if args.breakdown:
            result["server_cpu_us_per_line"] = breakdown(admin)
            print(json.dumps(result, indent=2), flush=True)
        if args.commands:
            result["ingest"] = ingest(admin, args.commands, args.rounds, args.v2)
            print(json.dumps(result, indent=2), flush=True)
        if args.search_commands:
            result["search"] = search(admin, args.search_commands, args.ship_search)
        print(json.dumps(result, indent=2))
    finally:
        if cluster is not None:
            pg_cluster.destroy(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
