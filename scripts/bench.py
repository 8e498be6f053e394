#!/usr/bin/env python3
"""cfsession against its peers, on the same work in the same run (DESIGN.md §7, issue 7).

    python scripts/bench.py              # full run, ~5-8 min on 2 cores
    python scripts/bench.py --quick      # ~1 min smoke run (small sizes, few rounds)
    python scripts/bench.py --only bulk,startup --out results.json
    python scripts/bench.py --dry-run    # resolve tools, print the plan, run nothing

Variants: ``none`` (no recorder), ``pty-script`` / ``pty-py`` (a bare extra PTY in C /
in Python with ptyprocess, recording nothing), util-linux ``script``, asciinema 2.4.0
(installed into a temp venv when missing) and ``cfsession``. Every round runs every
variant once, the start rotating by one each round so drift hits all alike; ``xNAME`` is
the median over rounds of the paired ratio (this round's time / NAME's time this round).

Workloads: ``bulk`` (``cat`` of a 100 MiB text file, ``yes | head -c 10M``; recorder
stdin is an idle outer PTY, stdout /dev/null; CPU and peak RSS from ``wait4``), ``cmds``
(1,000 ``echo i`` typed into an interactive bash, then zsh and fish; ms per command),
``startup`` (launch to first prompt), ``rss`` (one cfsession run over >= 1 GiB of output: peak RSS stays flat),
``etw`` and ``store`` (``scripts/bench_etw.py`` / ``scripts/bench_store.py`` when present),
``storm`` (``scripts/bench_storm.py``: a flood of secret shapes under ~50 resizes a second),
``export`` (peak RSS of export in every streamed format and of replay, 1 GiB .cast: scripts/bench_readback.py).
The interactive bash of every variant reads the same hermetic ``HOME/.bashrc`` (it sets
``PS1``); cfsession injects its hooks but keeps that prompt.

The harness in ``../shared/bench`` (or ``$CFSESSION_SHARED``) is used when present for its
data maker and ``pypty.py`` so figures line up with its anchors; without it the compact
copies below are used. docs/BENCH.md has the latest figures.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import importlib.util
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROMPT = "CFBPROMPT> "
WINSIZE = (50, 200)  # rows, cols
MIB = 1 << 20
ASCIINEMA_VERSION = "2.4.0"
TARGETS = {  # DESIGN.md §7
    "bulk": 0.9,  # cfsession throughput >= 0.9 x script's (same run)
    "rss_mib": 40.0,
    "cmd_ms": 0.5,
    "startup_ms": 60.0,
    "etw_enabled_us": 50.0,
    "etw_off_us": 2.0,
    "list_ms": 150.0,
    "search_ms": 100.0,
}
RSS_FLAT_SLACK_MIB = 4.0  # "flat": 10x the output may add at most this much
# GNU time gives a peak RSS with a ~2 MiB floor; without it wait4's figure starts at this
# process's own size (a forked child keeps its parent's high-water mark across exec).
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

# The Python floor when ../shared is absent: ptyprocess passthrough, no recording.
PYPTY_SRC = r"""
import errno, os, select, sys, termios, tty
from ptyprocess import PtyProcess
argv = sys.argv[1:]
argv = argv[1:] if argv and argv[0] == "--" else argv
try:
    rows, cols = termios.tcgetwinsize(0)
except Exception:
    rows, cols = 24, 80
p = PtyProcess.spawn(argv, dimensions=(rows, cols))
saved = termios.tcgetattr(0) if os.isatty(0) else None
if saved:
    tty.setraw(0)
fds = [p.fd, 0]
try:
    while True:
        r, _, _ = select.select(fds, [], [])
        if p.fd in r:
            try:
                d = os.read(p.fd, 65536)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                d = b""
            if not d:
                break
            os.write(1, d)
        if 0 in r:
            d = os.read(0, 65536)
            if d:
                os.write(p.fd, d)
            else:
                fds.remove(0)
finally:
    if saved:
        termios.tcsetattr(0, termios.TCSAFLUSH, saved)
p.wait()
sys.exit(128 + p.signalstatus if p.signalstatus is not None else p.exitstatus or 0)
"""


# ------------------------------------------------------------------------------ set-up
def shared_dir() -> Path | None:
    env = os.environ.get("CFSESSION_SHARED")
    for cand in ([Path(env), Path(env) / "bench"] if env else []) + [
        REPO.parent / "shared" / "bench"
    ]:
        if (cand / "cfbench.py").is_file():
            return cand
    return None


def load_shared(d: Path | None) -> ModuleType | None:
    if d is None:
        return None
    try:
        spec = importlib.util.spec_from_file_location("cfbench_shared", d / "cfbench.py")
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    except Exception:  # a broken checkout of shared/ must not stop the bench
        return None


def find_exe(name: str) -> str | None:
    """Prefer the interpreter's own bin dir: a pyenv shim adds ~30 ms of bash per launch."""
    own = Path(sys.executable).parent / name
    if own.is_file() and os.access(own, os.X_OK):
        return str(own)
    found = shutil.which(name)
    if found and "/shims/" in found:
        try:
            real = subprocess.run(
                ["pyenv", "which", name], capture_output=True, text=True, timeout=10
            )
            if real.returncode == 0 and real.stdout.strip():
                return real.stdout.strip()
        except OSError:
            pass
    return found


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return ((out.stdout or out.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"n/a ({exc.__class__.__name__})"


def ensure_asciinema(install: bool) -> str | None:
    exe = find_exe("asciinema")
    if exe and ASCIINEMA_VERSION in version_of([exe, "--version"]):
        return exe
    venv = Path(
        os.environ.get("CFBENCH_VENV", Path(tempfile.gettempdir()) / "cfsession-bench-venv")
    )
    exe = str(venv / "bin" / "asciinema")
    if Path(exe).exists() and ASCIINEMA_VERSION in version_of([exe, "--version"]):
        return exe
    if not install:
        return None
    print(f"# installing asciinema=={ASCIINEMA_VERSION} into {venv} (PyPI)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", f"asciinema=={ASCIINEMA_VERSION}"], check=True
    )
    return exe


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = version_of(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "bash": version_of(["bash", "--version"]),
        "script": version_of(["script", "--version"]),
        "git": git,
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def make_data(datadir: Path, size: int, shared: ModuleType | None) -> Path:
    if shared is not None:
        return Path(shared.make_data(str(datadir), size))
    path = datadir / f"bulk-text-{size}.txt"
    if path.exists() and path.stat().st_size == size:
        return path
    import random  # deterministic words and numbers, ~88 bytes a line (as the shared maker)

    datadir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1234)
    vocab = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(1, 11)))
        for _ in range(5000)
    ]
    vocab += [str(rng.randint(0, 10**6)) for _ in range(500)]
    tmp, written = path.with_suffix(".tmp"), 0
    with open(tmp, "wb") as f:
        while written < size:
            block = (
                "\n".join(" ".join(rng.choices(vocab, k=rng.randint(1, 24))) for _ in range(20000))
                + "\n"
            ).encode()
            block = block[: size - written]
            f.write(block)
            written += len(block)
        f.seek(size - 1)
        f.write(b"\n")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------ variants
class Variant:
    """``argv(inner, out)``: the recorder's command line; ``inner`` is a shell command line."""

    def __init__(
        self,
        name: str,
        build: Callable[[str, str], list[str]],
        records: bool,
        env: dict[str, str] | None = None,
    ):
        self.name, self.build, self.records, self.env = name, build, records, env or {}

    def argv(self, inner: str, out: str) -> list[str]:
        return self.build(inner, out)


def variants(tools: dict[str, Any], shell_mode: bool, shell: str = "bash") -> list[Variant]:
    py, cf, asc, pypty = sys.executable, tools["cfsession"], tools["asciinema"], tools["pypty"]
    vs = [
        Variant("none", lambda c, o: ["sh", "-c", c], False),
        Variant("pty-script", lambda c, o: ["script", "-q", "-e", "-c", c, "/dev/null"], False),
        Variant("pty-py", lambda c, o: [py, *pypty, "--", "sh", "-c", c], False),
        Variant("script", lambda c, o: ["script", "-q", "-e", "-c", c, o], True),
    ]
    if asc:
        vs.append(
            Variant("asciinema", lambda c, o: [asc, "rec", "-q", "--overwrite", "-c", c, o], True)
        )
    cfs = [("cfsession", cf)]
    if tools.get("cfsession_b"):  # a second build in the same run, for A/B of a patch
        cfs.append(("cfsession-b", tools["cfsession_b"]))
    vs += [cf_variant(name, cmd, shell_mode, shell) for name, cmd in cfs]
    if shell_mode:
        vs[0] = Variant("none", lambda c, o: [shell, "-i"], False)
    return vs


def cf_variant(name: str, cf: list[str], shell_mode: bool, shell: str = "bash") -> Variant:
    env = {"CFSESSION_HOME": "{out}"}
    if shell_mode:  # the recorder starts the shell itself, with its integration
        return Variant(name, lambda c, o: [*cf, "record", "-q", "--shell", shell], True, env)
    return Variant(name, lambda c, o: [*cf, "record", "-q", "--", "sh", "-c", c], True, env)


def child_env(home: Path, extra: dict[str, str], out: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CFSESSION_", "ASCIINEMA_"))}
    env.update(
        HOME=str(home),
        SHELL="/bin/sh",
        HISTFILE="/dev/null",
        LC_ALL="C.UTF-8",
        LANG="C.UTF-8",
        TERM="xterm-256color",
        COLUMNS=str(WINSIZE[1]),
        LINES=str(WINSIZE[0]),
        ASCIINEMA_CONFIG_HOME=str(home / ".config" / "asciinema"),
    )
    env.pop("PROMPT_COMMAND", None)
    # As after a pip install: bytecode cached. With this set (some CI images and sandboxes
    # do), every launch recompiles each module whose .pyc is missing or stale (~25 ms).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({k: v.replace("{out}", out) for k, v in extra.items()})
    return env


def hermetic_home(root: Path) -> Path:
    home = root / "home"
    (home / ".config" / "asciinema").mkdir(parents=True, exist_ok=True)
    # Every variant's interactive bash reads this (cfsession sources it from its init file).
    (home / ".bashrc").write_text(
        f"PS1='{PROMPT}'\nPS2=\nPROMPT_COMMAND=\nHISTFILE=/dev/null\nunset HISTTIMEFORMAT\n"
    )
    # The same prompt for zsh and fish, and no history file (fish rewrites its file as
    # it grows, which would make every round slower than the last).
    (home / ".zshrc").write_text(f"PS1='{PROMPT}'\nunset HISTFILE\n")
    fish_conf = home / ".config" / "fish"
    fish_conf.mkdir(parents=True, exist_ok=True)
    (fish_conf / "config.fish").write_text(
        f"function fish_prompt; printf '%s' '{PROMPT}'; end\n"
        "function fish_greeting; end\nset -g fish_history ''\n"
    )
    return home


def rec_size(out: str) -> int:
    total = 0
    for p in Path(out).parent.glob(Path(out).name + "*"):
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            shutil.rmtree(p, ignore_errors=True)
        else:
            total += p.stat().st_size
            p.unlink()
    return total


def fresh_out(outdir: Path, name: str) -> str:
    fd, out = tempfile.mkstemp(prefix=f"rec-{name}-", dir=outdir)
    os.close(fd)
    os.unlink(out)  # the recorder creates it (asciinema refuses an existing file)
    return out


def _exec_child(argv: list[str], env: dict[str, str], stdin: int, out: int, ctty: bool) -> None:
    try:
        # Start in the hermetic HOME: `python -m` puts the cwd first on sys.path, so a run
        # from a checkout would otherwise shadow a --cfsession-b PYTHONPATH.
        os.chdir(env.get("HOME", "/"))
        os.setsid()
        if ctty:
            fcntl.ioctl(stdin, termios.TIOCSCTTY, 0)
        os.dup2(stdin, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.closerange(3, 4096)
        os.execvpe(argv[0], argv, env)
    finally:
        os._exit(127)


def new_pty() -> tuple[int, int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", WINSIZE[0], WINSIZE[1], 0, 0))
    return master, slave


# ------------------------------------------------------------------------------ bulk
def bulk_once(v: Variant, cmd: str, ctx: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Recorder stdin = an idle outer PTY (it goes raw, as for a user), stdout = /dev/null.

    CPU (the recorder tree: its children are reaped inside it) and the peak RSS of its largest
    process come from GNU time when installed (Debian: ``time``), else from ``wait4``.
    """
    out = fresh_out(ctx["outdir"], v.name)
    argv = v.argv(cmd, out)
    env = child_env(ctx["home"], v.env, out)
    stats = None
    if GNU_TIME:  # a small C parent: its wait4 peak is the recorder's, not our forked image's
        stats = out + ".time"
        argv = [GNU_TIME, "-q", "-f", "%U %S %M", "-o", stats, "--", *argv]
    master, slave = new_pty()
    devnull = os.open(os.devnull, os.O_WRONLY)
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _exec_child(argv, env, slave, devnull, ctty=False)
    os.close(slave)
    os.close(devnull)
    deadline, status, ru = time.monotonic() + timeout, None, None
    while status is None:
        wpid, st, r = os.wait4(pid, os.WNOHANG)
        if wpid:
            status, ru = st, r
            break
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            _, status, ru = os.wait4(pid, 0)
            status = -1
            break
        select.select([], [], [], 0.002)  # 2 ms poll: at most 2 ms on a 1-4 s figure
    wall = time.perf_counter() - t0
    os.close(master)
    code = os.waitstatus_to_exitcode(status) if status != -1 else None
    cpu, peak = ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0
    if stats:
        try:
            u, s_, m = Path(stats).read_text().split()[-3:]
            cpu, peak = float(u) + float(s_), int(m) / 1024.0
        except (OSError, ValueError):
            pass
        Path(stats).unlink(missing_ok=True)
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_mib": peak,
        "exit": code,
        "rec_bytes": rec_size(out) if v.records else 0,
    }


def rotate(seq: list[Any], k: int) -> list[Any]:
    k %= len(seq)
    return seq[k:] + seq[:k]


def interleave(
    vs: list[Variant],
    rounds: int,
    warmup: int,
    one: Callable[[Variant], dict[str, Any]],
    label: str,
) -> list[dict[str, dict[str, Any]]]:
    for _ in range(warmup):
        for v in vs:
            one(v)
    res = []
    for i in range(rounds):
        this = {}
        for v in rotate(vs, i):
            r = this[v.name] = one(v)
            if r.get("exit") not in (0, None) or r.get("error"):
                print(f"# WARNING {label} round {i} {v.name}: {r}", file=sys.stderr)
        res.append(this)
    return res


def med(xs: list[float | None]) -> float | None:
    ys = [x for x in xs if x is not None]
    return statistics.median(ys) if ys else None


def paired(
    rounds: list[dict[str, dict[str, Any]]], a: str, b: str, key: str, op: str = "/"
) -> float | None:
    vals = []
    for r in rounds:
        x, y = r.get(a, {}).get(key), r.get(b, {}).get(key)
        if x is None or y is None or (op == "/" and not y):
            continue
        vals.append(x / y if op == "/" else x - y)
    return med(vals)


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def table(
    title: str,
    rounds: list[dict[str, dict[str, Any]]],
    vs: list[Variant],
    key: str,
    cols: list[tuple[str, str, str]],
    ratio_to: list[str],
) -> None:
    print(f"\n== {title} ==")
    ratio_to = [b for b in ratio_to if any(v.name == b for v in vs)]
    print(
        f"{'variant':<11} {key + ' med':>10} {'min':>8} {'max':>8}"
        + "".join(f" {h:>9}" for h, _, _ in cols)
        + "".join(f" {'x' + b:>11}" for b in ratio_to)
    )
    for v in vs:
        xs = [r[v.name][key] for r in rounds if r[v.name].get(key) is not None]
        line = f"{v.name:<11} {fmt(med(xs)):>10} {fmt(min(xs, default=None)):>8} {fmt(max(xs, default=None)):>8}"
        for _, k, spec in cols:
            line += f" {fmt(med([r[v.name].get(k) for r in rounds]), spec):>9}"
        print(
            line + "".join(f" {fmt(paired(rounds, v.name, b, key), '.2f'):>11}" for b in ratio_to)
        )


def run_bulk(ctx: dict[str, Any], a: argparse.Namespace, res: dict[str, Any]) -> None:
    vs = variants(ctx["tools"], shell_mode=False)
    data = make_data(ctx["datadir"], a.size, ctx["shared"])
    with open(data, "rb") as f:  # warm the page cache
        while f.read(1 << 24):
            pass
    for payload, cmd, nbytes in (
        ("cat", f"cat {data}", a.size),
        ("yes", f"yes | head -c {a.yes_size}", a.yes_size),
    ):
        rounds = interleave(
            vs, a.rounds, a.warmup, lambda v, c=cmd: bulk_once(v, c, ctx, a.run_timeout), payload
        )
        for r in rounds:
            for x in r.values():
                x["mib_s"] = nbytes / MIB / x["wall"]
                x["rec_mib"] = x["rec_bytes"] / MIB
        table(
            f"bulk {payload} {nbytes / MIB:.0f} MiB: {cmd}; {a.rounds} rounds + {a.warmup} warm-up; "
            "wall s launch->exit",
            rounds,
            vs,
            "wall",
            [
                ("MiB/s", "mib_s", ".0f"),
                ("cpu s", "cpu", ".2f"),
                ("peak MiB", "peak_mib", ".1f"),
                ("rec MiB", "rec_mib", ".1f"),
            ],
            ["none", "pty-py", "script", "asciinema"],
        )
        res[f"bulk_{payload}"] = {"cmd": cmd, "bytes": nbytes, "rounds": rounds}


# ------------------------------------------------------------------------------ interactive
class Term:
    """A child on a PTY that we type into and read prompts from (pexpect's job, minus its overhead)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = new_pty()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.master)
            _exec_child(argv, env, slave, slave, ctty=True)
        os.close(slave)
        self.buf = b""

    def expect(self, pat: re.Pattern[bytes], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            m = pat.search(self.buf)
            if m:
                self.buf = self.buf[m.end() :]
                return
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise TimeoutError(f"no prompt; last output {self.buf[-300:]!r}")
            try:
                data = os.read(self.master, 65536)
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                raise EOFError(f"child exited; last output {self.buf[-300:]!r}")
            self.buf = self.buf[-4096:] + data

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self, timeout: float = 10.0) -> int | None:
        with contextlib.suppress(OSError):
            self.send(b"exit\r")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # drain until EOF so the recorder is never blocked
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    if not os.read(self.master, 65536):
                        break
                except OSError:
                    break
            elif os.waitpid(self.pid, os.WNOHANG)[0]:
                os.close(self.master)
                return 0
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        os.close(self.master)
        _, st = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(st)


def interactive_once(
    v: Variant, ctx: dict[str, Any], count: int, shell: str = "bash"
) -> dict[str, Any]:
    out = fresh_out(ctx["outdir"], v.name)
    pat = re.compile(re.escape(PROMPT.encode()))
    t0 = time.perf_counter()
    term = Term(v.argv(f"{shell} -i", out), child_env(ctx["home"], v.env, out))
    res: dict[str, Any] = {}
    try:
        term.expect(pat)
        res["startup_ms"] = 1000 * (time.perf_counter() - t0)
        if count:
            t1 = time.perf_counter()
            for i in range(count):
                term.send(b"echo %d\r" % i)
                term.expect(pat)
            res["ms_per_cmd"] = 1000 * (time.perf_counter() - t1) / count
    except (TimeoutError, EOFError) as exc:
        res["error"] = str(exc)
    finally:
        term.close()
        res["rec_bytes"] = rec_size(out) if v.records else 0
    return res


BASH53 = REPO / ".cache" / "bash-5.3" / "bin" / "bash"  # scripts/get_bash53.py


def run_cmds(ctx: dict[str, Any], a: argparse.Namespace, res: dict[str, Any]) -> None:
    """bash (the judged figure), bash 5.3 when scripts/get_bash53.py has put it in
    .cache (its hook reads history without a file), then zsh and fish where installed."""
    b53 = str(BASH53) if a.shells_all and os.access(BASH53, os.X_OK) else None
    shells = ["bash"] + ([b53] if b53 else []) + [s for s in ("zsh", "fish") if a.shells_all and shutil.which(s)]
    for shell in shells:
        key = "cmds" if shell == "bash" else "cmds_bash53" if shell == b53 else f"cmds_{shell}"
        vs = variants(ctx["tools"], shell_mode=True, shell=shell)
        rounds = interleave(
            vs, a.cmd_rounds, 1, lambda v, sh=shell: interactive_once(v, ctx, a.count, sh), key
        )
        for r in rounds:
            for _name, x in r.items():
                if x.get("ms_per_cmd") is not None and r["none"].get("ms_per_cmd") is not None:
                    x["added_ms"] = x["ms_per_cmd"] - r["none"]["ms_per_cmd"]
        table(
            f"{key}: {a.count} x 'echo i' typed into {shell} -i (same rc file), "
            f"{a.cmd_rounds} rounds + 1 warm-up; ms per command",
            rounds,
            vs,
            "ms_per_cmd",
            [("+ms/none", "added_ms", "+.3f")],
            ["none", "pty-py", "script", "asciinema"],
        )
        res[key] = {"count": a.count, "rounds": rounds, "shell": shell}


def run_startup(ctx: dict[str, Any], a: argparse.Namespace, res: dict[str, Any]) -> None:
    vs = variants(ctx["tools"], shell_mode=True)
    rounds = interleave(vs, a.startup_rounds, 2, lambda v: interactive_once(v, ctx, 0), "startup")
    table(
        f"startup: launch -> first prompt of bash -i, {a.startup_rounds} rounds + 2 warm-up; ms",
        rounds,
        vs,
        "startup_ms",
        [],
        ["none", "pty-py", "script", "asciinema"],
    )
    floor = {}
    for label, argv in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("python -S -c pass (no site/.pth)", [sys.executable, "-S", "-c", "pass"]),
    ):
        xs = []
        for _ in range(max(5, a.startup_rounds // 2)):
            t = time.perf_counter()
            subprocess.run(argv, check=False)
            xs.append(1000 * (time.perf_counter() - t))
        floor[label] = statistics.median(xs)
    print(
        "   interpreter floor here: "
        + "; ".join(f"{k} {v:.1f} ms" for k, v in floor.items())
        + " (site-packages .pth files run at every Python start)"
    )
    res["startup"] = {"rounds": rounds, "python_floor_ms": floor}


def run_rss(ctx: dict[str, Any], a: argparse.Namespace, res: dict[str, Any]) -> None:
    """cfsession's peak RSS at 1x and ~10x the output: memory must not grow with output."""
    cf = [v for v in variants(ctx["tools"], shell_mode=False) if v.name == "cfsession"][0]
    data = make_data(ctx["datadir"], a.size, ctx["shared"])
    reps = -(-a.rss_total // a.size)
    small = bulk_once(cf, f"cat {data}", ctx, a.run_timeout)
    big = bulk_once(cf, "cat " + " ".join([str(data)] * reps), ctx, a.run_timeout * reps)
    print(
        f"\n== rss: cfsession peak RSS {small['peak_mib']:.1f} MiB at {a.size / MIB:.0f} MiB of output, "
        f"{big['peak_mib']:.1f} MiB at {reps * a.size / MIB:.0f} MiB ({big['wall']:.1f} s, "
        f"{reps * a.size / MIB / big['wall']:.0f} MiB/s, recorded {big['rec_bytes'] / MIB:.0f} MiB) =="
    )
    res["rss"] = {"small": small, "big": big, "small_bytes": a.size, "big_bytes": reps * a.size}


def run_readback(ctx: dict[str, Any], a: argparse.Namespace, res: dict[str, Any]) -> None:
    """Peak RSS of export (every streamed format) and replay of a 1 GiB .cast (64 MiB with
    --quick): reading back must not grow with the recording (scripts/bench_readback.py)."""
    mod = _script_module("bench_readback")
    if mod is None:
        print("\n== export: scripts/bench_readback.py not present; skipped ==")
        return
    size = 64 * MIB if a.quick else 1 << 30
    print(f"\n== export/replay peak RSS, {size // MIB} MiB .cast (target <= {mod.TARGET_MIB:.0f} MiB) ==")
    res["export"] = mod.run(size, cfsession=ctx["tools"]["cfsession"])


def _script_module(name: str) -> ModuleType | None:
    path = REPO / "scripts" / f"{name}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO))
    spec.loader.exec_module(mod)
    return mod


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def pick(d: dict[str, Any], *must: str, avoid: tuple[str, ...] = ()) -> float | None:
    """The first numeric figure whose dotted key holds every word of ``must`` (the helper
    scripts' dicts are free-form; median keys win over others)."""
    flat = {
        k.lower(): v
        for k, v in _flat(d).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    hits = [k for k in flat if all(w in k for w in must) and not any(w in k for w in avoid)]
    hits.sort(key=lambda k: (0 if "median" in k or "med" in k else 1, len(k)))
    return float(flat[hits[0]]) if hits else None


def run_helpers(
    ctx: dict[str, Any], a: argparse.Namespace, res: dict[str, Any], which: str
) -> None:
    calls: dict[str, tuple[str, Any]] = {
        "etw": ("bench_etw", lambda m: m.run(a.etw_n)),
        "store": ("bench_store", lambda m: m.run(a.sessions, a.commands, cli=ctx["tools"]["cfsession"],
                                                 cli_b=ctx["tools"]["cfsession_b"])),
        # a flood of secret shapes under ~50 SIGWINCH/s, both bookkeeping modes
        "storm": ("bench_storm", lambda m: m.run(60_000 if a.quick else 300_000)),
    }
    name, call = calls[which]
    try:
        mod = _script_module(name)
        if mod is None:
            print(f"\n== {which}: scripts/{name}.py not present; skipped ==")
            return
        t = time.perf_counter()
        out = call(mod)
        print(
            f"\n== {which}: scripts/{name}.py run() in {time.perf_counter() - t:.1f} s ==\n"
            + json.dumps(out, indent=1, default=str)[:3000]
        )
        res[which] = out
    except Exception as exc:  # another helper's script failing must not lose our figures
        print(f"\n== {which}: scripts/{name}.py failed: {exc.__class__.__name__}: {exc} ==")
        res[which] = {"error": str(exc)}


# ------------------------------------------------------------------------------ verdict
def summary(res: dict[str, Any], cf: str = "cfsession") -> list[dict[str, Any]]:
    """Verdict rows for ``cf`` (cfsession, or cfsession-b in an A/B run)."""
    rows: list[dict[str, Any]] = []

    def row(figure: str, value: str, ref: str, target: str, ok: bool | None) -> None:
        rows.append(
            {"figure": figure, "cfsession": value, "reference": ref, "target": target, "pass": ok}
        )

    for p in ("cat", "yes"):
        b = res.get(f"bulk_{p}")
        if b:
            r = b["rounds"]
            thr = paired(r, "script", cf, "wall")  # = cfsession throughput / script's
            row(
                f"bulk {p} {b['bytes'] / MIB:.0f} MiB throughput",
                f"{fmt(med([x[cf]['mib_s'] for x in r]), '.0f')} MiB/s",
                f"x script {fmt(thr, '.2f')} (pty-py {fmt(paired(r, 'script', 'pty-py', 'wall'), '.2f')}, "
                f"asciinema {fmt(paired(r, 'script', 'asciinema', 'wall'), '.2f')})",
                f">= {TARGETS['bulk']} x script",
                None if thr is None else thr >= TARGETS["bulk"],
            )
    if "bulk_cat" in res:
        r = res["bulk_cat"]["rounds"]
        peak = med([x[cf]["peak_mib"] for x in r])
        row(
            "peak RSS (bulk cat)",
            f"{fmt(peak, '.1f')} MiB",
            f"x asciinema {fmt(paired(r, cf, 'asciinema', 'peak_mib'), '.2f')}, "
            f"x pty-py {fmt(paired(r, cf, 'pty-py', 'peak_mib'), '.2f')}",
            f"<= {TARGETS['rss_mib']:.0f} MiB",
            None if peak is None else peak <= TARGETS["rss_mib"],
        )
    if "rss" in res and cf == "cfsession":
        s, b = res["rss"]["small"]["peak_mib"], res["rss"]["big"]["peak_mib"]
        row(
            f"peak RSS at {res['rss']['big_bytes'] / MIB:.0f} MiB out",
            f"{b:.1f} MiB",
            f"{s:.1f} MiB at {res['rss']['small_bytes'] / MIB:.0f} MiB (x {b / s:.2f})",
            f"<= {TARGETS['rss_mib']:.0f} MiB, flat (+<= {RSS_FLAT_SLACK_MIB:.0f})",
            b <= TARGETS["rss_mib"] and b - s <= RSS_FLAT_SLACK_MIB,
        )
    if "export" in res and cf == "cfsession":
        ops = res["export"]["operations"]
        worst = max(ops, key=lambda k: ops[k]["peak_mib"])
        row(
            f"export/replay peak RSS ({res['export']['cast_mib']:.0f} MiB .cast)",
            f"{ops[worst]['peak_mib']:.1f} MiB",
            f"worst of {len(ops)}: {worst}",
            f"<= {res['export']['target_mib']:.0f} MiB",
            all(o["peak_mib"] <= res["export"]["target_mib"] and o["exit"] == 0 for o in ops.values()),
        )
    for key, shell in (("cmds", "bash"), ("cmds_bash53", "bash 5.3"), ("cmds_zsh", "zsh"), ("cmds_fish", "fish")):
        if key not in res:
            continue
        r = res[key]["rounds"]
        add = paired(r, cf, "none", "ms_per_cmd", "-")
        row(
            "added ms per command" + ("" if shell == "bash" else f" ({shell})"),
            f"{fmt(add, '+.3f')} ms",
            f"script {fmt(paired(r, 'script', 'none', 'ms_per_cmd', '-'), '+.3f')}, asciinema "
            f"{fmt(paired(r, 'asciinema', 'none', 'ms_per_cmd', '-'), '+.3f')}; x script "
            f"{fmt(paired(r, cf, 'script', 'ms_per_cmd'), '.2f')}",
            f"<= {TARGETS['cmd_ms']} ms over bare {shell}",
            None if add is None else add <= TARGETS["cmd_ms"],
        )
    if "startup" in res:
        r = res["startup"]["rounds"]
        ms = med([x[cf].get("startup_ms") for x in r])
        row(
            "launch to first prompt",
            f"{fmt(ms, '.1f')} ms",
            f"x asciinema {fmt(paired(r, cf, 'asciinema', 'startup_ms'), '.2f')}, x pty-py "
            f"{fmt(paired(r, cf, 'pty-py', 'startup_ms'), '.2f')}, x bash "
            f"{fmt(paired(r, cf, 'none', 'startup_ms'), '.1f')}",
            f"<= {TARGETS['startup_ms']:.0f} ms",
            None if ms is None else ms <= TARGETS["startup_ms"],
        )
    etw = res.get("etw") if cf == "cfsession" else None
    if isinstance(etw, dict) and "error" not in etw:
        # enabled_ctypes_us: the real emitter path (advapi32 behind its fake); the capture seam
        # writes a file per event and is a debugging aid, shown for reference only.
        on = etw.get("enabled_ctypes_us", pick(etw, "enabled", "us"))
        off = etw.get("no_listener_us", pick(etw, "listener", "us"))
        row(
            "ETW encode+write, enabled",
            f"{fmt(on, '.2f')} µs",
            f"encode only {fmt(etw.get('enabled_encode_us'), '.2f')}, capture file "
            f"{fmt(etw.get('enabled_capture_us'), '.2f')} µs",
            f"<= {TARGETS['etw_enabled_us']:.0f} µs",
            None if on is None else on <= TARGETS["etw_enabled_us"],
        )
        row(
            "ETW, no listener",
            f"{fmt(off, '.2f')} µs",
            "scripts/bench_etw.py",
            f"<= {TARGETS['etw_off_us']:.0f} µs",
            None if off is None else off <= TARGETS["etw_off_us"],
        )
    st = res.get("store")
    if cf != "cfsession" and isinstance(st, dict):  # the second build: its CLI figures only
        st = {"sessions": st.get("sessions"), "commands": st.get("commands"), **st.get("b", {})}
    if isinstance(st, dict) and "error" not in st:
        n = f"{st.get('sessions', '?')} sessions"
        lib_list = st.get("lib_list_50_ms", pick(st, "list", "ms"))
        searches = [
            v for k, v in st.items() if k.startswith("lib_search") and isinstance(v, (int, float))
        ]
        lib_search = max(searches) if searches else pick(st, "search", "ms")
        if cf != "cfsession":  # the library is this process's: only the CLI was timed for B
            lib_list = lib_search = None
        for label, ms, ref, tgt in (
            (
                f"`list`, {n} (library)",
                lib_list,
                f"all rows {fmt(st.get('lib_list_all_ms'), '.1f')} ms",
                "list_ms",
            ),
            (
                f"`list`, {n} (CLI process)",
                st.get("cli_list_ms"),
                f"CLI start-up alone {fmt(st.get('cli_startup_ms'), '.1f')} ms",
                "list_ms",
            ),
            (
                f"`search`, {st.get('commands', '?')} commands (library, worst query)",
                lib_search,
                f"rare {fmt(st.get('lib_search_rare_ms'), '.1f')} ms",
                "search_ms",
            ),
            (
                "`search` (CLI process)",
                st.get("cli_search_ms"),
                f"CLI start-up alone {fmt(st.get('cli_startup_ms'), '.1f')} ms",
                "search_ms",
            ),
        ):
            if ms is None and "library" in label and cf != "cfsession":
                continue
            row(
                label,
                f"{fmt(ms, '.1f')} ms",
                ref,
                f"<= {TARGETS[tgt]:.0f} ms",
                None if ms is None else ms <= TARGETS[tgt],
            )
    return rows


def print_summary(rows: list[dict[str, Any]], quick: bool) -> None:
    print(
        "\n== cfsession against DESIGN.md §7"
        + (" (QUICK run: small sizes, indicative only)" if quick else "")
        + " =="
    )
    w = [
        max(
            len(str(r[k]))
            for r in rows
            + [
                dict(
                    figure="figure",
                    cfsession="cfsession",
                    reference="reference / paired ratios",
                    target="target",
                )
            ]
        )
        for k in ("figure", "cfsession", "reference", "target")
    ]
    print(
        f"{'figure':<{w[0]}}  {'cfsession':<{w[1]}}  {'reference / paired ratios':<{w[2]}}  {'target':<{w[3]}}  result"
    )
    for r in rows:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[r["pass"]]
        print(
            f"{r['figure']:<{w[0]}}  {r['cfsession']:<{w[1]}}  {r['reference']:<{w[2]}}  {r['target']:<{w[3]}}  {verdict}"
        )


# ------------------------------------------------------------------------------ main
WORKLOADS = ("bulk", "cmds", "startup", "rss", "etw", "store", "storm", "export")


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)i?[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    return int(
        float(m.group(1)) * {"": 1, "k": 1 << 10, "m": MIB, "g": 1 << 30}[m.group(2).lower()]
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="~1 min smoke run: small sizes, few rounds")
    p.add_argument(
        "--dry-run", action="store_true", help="resolve tools and print the plan; run nothing"
    )
    p.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help=f"workloads, comma-separated [{','.join(WORKLOADS)}]",
    )
    p.add_argument("--out", help="write all raw results and the verdict here as JSON")
    p.add_argument(
        "--cfsession",
        metavar="CMD",
        help="how to run cfsession, e.g. 'python -m cfsession' "
        "[the console script beside this Python]",
    )
    p.add_argument(
        "--cfsession-b",
        metavar="CMD",
        help="a second cfsession (e.g. 'env PYTHONPATH=/tmp/wt "
        "python -m cfsession') run as variant cfsession-b in the same rounds, for A/B",
    )
    p.add_argument(
        "--size", type=parse_size, default=None, help="cat payload size [100M; quick 20M]"
    )
    p.add_argument(
        "--yes-size", type=parse_size, default=None, help="yes | head -c N [10M; quick 2M]"
    )
    p.add_argument(
        "--rss-total", type=parse_size, default=None, help="output for the RSS run [1G; quick 200M]"
    )
    p.add_argument("--rounds", type=int, default=None, help="bulk rounds [5; quick 2]")
    p.add_argument("--warmup", type=int, default=None, help="bulk warm-up rounds [1; quick 0]")
    p.add_argument(
        "--count", type=int, default=None, help="commands per cmds round [1000; quick 200]"
    )
    p.add_argument("--cmd-rounds", type=int, default=None, help="cmds rounds [7; quick 3]")
    p.add_argument(
        "--bash-only",
        dest="shells_all",
        action="store_false",
        help="cmds: bash only (default: also zsh and fish, where installed)",
    )
    p.add_argument("--startup-rounds", type=int, default=None, help="startup rounds [20; quick 5]")
    p.add_argument(
        "--etw-n", type=int, default=None, help="events for bench_etw.run [100000; quick 10000]"
    )
    p.add_argument(
        "--sessions",
        type=int,
        default=None,
        help="sessions for bench_store.run [10000; quick 1000]",
    )
    p.add_argument(
        "--commands",
        type=int,
        default=None,
        help="commands for bench_store.run [1000000; quick 100000]",
    )
    p.add_argument(
        "--no-install", action="store_true", help="never pip-install asciinema (skip it if missing)"
    )
    p.add_argument(
        "--outdir",
        default="/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(),
        help="recordings go under here, deleted after each run [/dev/shm: tmpfs, no writeback noise]",
    )
    p.add_argument("--datadir", default=str(Path(tempfile.gettempdir()) / "cfbench-data"))
    p.add_argument("--run-timeout", type=float, default=300.0)
    return p


def resolve(a: argparse.Namespace) -> None:
    full = dict(
        size=100 * MIB,
        yes_size=10 * MIB,
        rss_total=1 << 30,
        rounds=5,
        warmup=1,
        count=1000,
        cmd_rounds=7,
        startup_rounds=20,
        etw_n=100_000,
        sessions=10_000,
        commands=1_000_000,
    )
    quick = dict(
        size=20 * MIB,
        yes_size=2 * MIB,
        rss_total=200 * MIB,
        rounds=2,
        warmup=0,
        count=200,
        cmd_rounds=3,
        startup_rounds=5,
        etw_n=10_000,
        sessions=1_000,
        commands=100_000,
    )
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.workloads = [w.strip() for w in a.only.split(",") if w.strip()]
    bad = [w for w in a.workloads if w not in WORKLOADS]
    if bad:
        raise SystemExit(f"bench.py: unknown workload(s) {bad}; known: {', '.join(WORKLOADS)}")


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    resolve(a)
    sdir = shared_dir()
    shared = load_shared(sdir)
    cf = find_exe("cfsession")
    tools: dict[str, Any] = {
        "cfsession": shlex.split(a.cfsession)
        if a.cfsession
        else [cf]
        if cf
        else [sys.executable, "-m", "cfsession"],
        "cfsession_b": shlex.split(a.cfsession_b) if a.cfsession_b else None,
        "pypty": [str(sdir / "pypty.py")]
        if sdir and (sdir / "pypty.py").is_file()
        else ["-c", PYPTY_SRC],
        "script": shutil.which("script"),
        "asciinema": ensure_asciinema(install=not (a.dry_run or a.no_install)),
    }
    plan = {k: v for k, v in vars(a).items()}
    print(
        f"# bench.py: shared harness {'at ' + str(sdir) if shared else 'not found (own copies used)'}; "
        f"cfsession = {' '.join(tools['cfsession'])}; asciinema = {tools['asciinema'] or 'MISSING'}; "
        f"script = {tools['script'] or 'MISSING'}",
        file=sys.stderr,
    )
    if not tools["script"]:
        print(
            "bench.py: util-linux `script` is missing — on Debian/Ubuntu: apt-get install bsdutils",
            file=sys.stderr,
        )
        if not a.dry_run:
            return 2
    if a.dry_run:
        print(
            json.dumps(
                {
                    "plan": plan,
                    "tools": {k: v if k != "pypty" else v[:1] for k, v in tools.items()},
                    "etw_script": (REPO / "scripts/bench_etw.py").is_file(),
                    "store_script": (REPO / "scripts/bench_store.py").is_file(),
                },
                indent=1,
                default=str,
            )
        )
        return 0
    info = machine()
    info.update(
        asciinema=version_of([tools["asciinema"], "--version"]) if tools["asciinema"] else None,
        cfsession=version_of([*tools["cfsession"], "--version"]),
    )
    print(
        f"# {info['utc']} {info['nproc']} cpus ({info['cpu']}), kernel {info['kernel']}, Python {info['python']}, "
        f"git {info['git']}, load {' '.join(info['loadavg'])}"
    )
    res: dict[str, Any] = {
        "machine": info,
        "plan": plan,
        "tools": {k: v for k, v in tools.items() if k != "pypty"},
    }
    with tempfile.TemporaryDirectory(prefix="cfbench-", dir=a.outdir, ignore_cleanup_errors=True) as tmp:
        ctx = {
            "tools": tools,
            "outdir": Path(tmp),
            "home": hermetic_home(Path(tmp)),
            "datadir": Path(a.datadir),
            "shared": shared,
        }
        steps = {
            "bulk": run_bulk,
            "cmds": run_cmds,
            "startup": run_startup,
            "rss": run_rss,
            "etw": lambda c, a, r: run_helpers(c, a, r, "etw"),
            "store": lambda c, a, r: run_helpers(c, a, r, "store"),
            "storm": lambda c, a, r: run_helpers(c, a, r, "storm"),
            "export": run_readback,
        }
        for w in a.workloads:
            t = time.perf_counter()
            steps[w](ctx, a, res)
            sys.stdout.flush()
            print(f"# {w} took {time.perf_counter() - t:.0f} s", file=sys.stderr)
    res["summary"] = summary(res)
    if tools["cfsession_b"]:
        res["summary_b"] = summary(res, "cfsession-b")
    res["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print_summary(res["summary"], a.quick)
    if tools["cfsession_b"]:
        print(f"\n# cfsession-b = {' '.join(tools['cfsession_b'])}")
        print_summary(res["summary_b"], a.quick)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1, default=str))
        print(f"# raw results: {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
