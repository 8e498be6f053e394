"""Where the time per interactive command goes: the breakdown behind docs/BENCH.md.

    python scripts/bench_parts.py                 # bash, 2,000 commands a variant, 3 rounds
    python scripts/bench_parts.py --shell zsh --count 3000
    python scripts/bench_parts.py --shell .cache/bash-5.3/bin/bash   # scripts/get_bash53.py

Each variant types ``echo i`` COUNT times into an interactive shell through a raw PTY
and waits for the prompt each time (no pexpect): ms per command, and the CPU of the
process under test itself (for cfsession: the recorder without its shell, and apart the
CPU of its bookkeeping child). Variants:

* ``bare``: the shell alone;
* ``relay``: under a bare ptyprocess relay (``../shared/bench/pypty.py`` when present, else
  bench.py's copy of it; recording nothing);
* ``hooks-bare``: the shell with cfsession's integration, no relay, no recorder (the
  markers go to the bench's PTY and are discarded): what the hooks cost the shell;
* ``hooks``: the same under that relay (no recorder);
* ``cfsession``, and ``cfsession-inline`` (``CFSESSION_BOOKKEEPING=inline``).

Rounds alternate the variants. Figures move by ±10 % on a shared 2-vCPU VM: compare
within a run. Nothing here is a test; the suite never times anything.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench import PROMPT as _PROMPT  # noqa: E402 - the same prompt and rc files as bench.py
from bench import PYPTY_SRC, hermetic_home, shared_dir  # noqa: E402

PROMPT = _PROMPT.encode()


def hooked(shell: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The shell started with cfsession's integration, as the recorder would, but bare."""
    sys.path.insert(0, str(ROOT))
    from cfsession.shell import LaunchContext, prepare, shell_kind

    tmp = Path(tempfile.mkdtemp(prefix="cfparts-"))
    ctx = LaunchContext(shell=shell, kind=shell_kind(shell), nonce="0" * 32, login=False, env=dict(env), tmpdir=tmp)
    launch = prepare(ctx)
    return launch.argv, launch.env


def cpu_s(pid: int) -> float:
    """CPU seconds of the process under test only, not its children: schedstat's run time
    in ns (stat's utime + stime count whole clock ticks, 10 ms, too coarse here)."""
    try:
        with open(f"/proc/{pid}/schedstat") as fh:
            return int(fh.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def helper_cpu_s(pid: int) -> float:
    """CPU seconds of the children running the same program as ``pid`` (cfsession's
    bookkeeping child; not the shell)."""
    total = 0.0
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            kids = [int(k) for k in fh.read().split()]
    except (OSError, ValueError):
        return 0.0
    for k in kids:
        try:
            if os.readlink(f"/proc/{k}/exe") == exe:
                total += cpu_s(k)
        except OSError:
            pass
    return total


def once(argv: list[str], env: dict[str, str], count: int) -> tuple[float, float, float]:
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    buf = b""

    def expect() -> None:
        nonlocal buf
        while True:
            i = buf.find(PROMPT)
            if i >= 0:
                buf = buf[i + len(PROMPT) :]
                return
            r, _, _ = select.select([fd], [], [], 30)
            if not r:
                raise TimeoutError(buf[-200:])
            buf += os.read(fd, 65536)

    expect()
    cpu0, helper0 = cpu_s(pid), helper_cpu_s(pid)
    t = time.perf_counter()
    for i in range(count):
        os.write(fd, b"echo %d\r" % i)
        expect()
    dt = time.perf_counter() - t
    cpu, helper = cpu_s(pid) - cpu0, helper_cpu_s(pid) - helper0
    os.write(fd, b"exit\r")
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    os.waitpid(pid, 0)
    return 1000 * dt / count, 1000 * cpu / count, 1000 * helper / count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shell", default="bash")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    shell = a.shell
    sdir = shared_dir()
    if sdir is not None and (sdir / "pypty.py").is_file():
        relay = [sys.executable, str(sdir / "pypty.py"), "--"]
    else:
        relay = [sys.executable, "-c", PYPTY_SRC, "--"]  # bench.py's copy of the same relay
    home = hermetic_home(Path(tempfile.mkdtemp(prefix="cfparts-")))
    base = {k: v for k, v in os.environ.items() if not k.startswith("CFSESSION_")}
    base.update(HOME=str(home), TERM="xterm", LC_ALL="C.UTF-8", CFSESSION_HOME=str(home / "cf"))
    base.pop("PROMPT_COMMAND", None)
    cf = [sys.executable, "-m", "cfsession", "record", "-q", "--shell", shell]
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        "bare": ([shell, "-i"], base),
        "relay": ([*relay, shell, "-i"], base),
    }
    if Path(shell).name in ("bash", "zsh", "fish"):  # a name or a path (bash 5.3 in .cache)
        argv, env = hooked(shell, base)
        variants["hooks-bare"] = (argv, env)
        variants["hooks"] = ([*relay, *argv], env)
    variants["cfsession"] = (cf, base)
    variants["cfsession-inline"] = (cf, dict(base, CFSESSION_BOOKKEEPING="inline"))
    results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in variants}
    for _ in range(a.rounds):
        for name, (argv, env) in variants.items():
            results[name].append(once(argv, env, a.count))
    print(f"{shell}: {a.count} x 'echo i', {a.rounds} rounds; ms per command (median), own CPU ms per command")
    bare = sorted(x[0] for x in results["bare"])[len(results["bare"]) // 2]
    for name, xs in results.items():
        ms = sorted(x[0] for x in xs)[len(xs) // 2]
        cpu = sorted(x[1] for x in xs)[len(xs) // 2]
        helper = sorted(x[2] for x in xs)[len(xs) // 2]
        extra = f" + bookkeeper {helper:.3f} ms" if helper else ""
        print(f"  {name:17s} {ms:7.3f} ms  (+{ms - bare:.3f} over bare)  cpu {cpu:.3f} ms{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
