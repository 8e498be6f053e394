"""Put bash 5.3 at .cache/bash-5.3/bin/bash for the suite (scripts/test runs this).

Debian stable ships bash 5.2; users of Arch, Fedora and Homebrew already run 5.3, whose
prompt numbering differs (the first prompt's ``\\#``). The suite runs the bash
integration tests under both. This takes Debian's statically linked build
(``bash-static``, one file that runs on any glibc) at a pinned version, checks its
SHA-256 and unpacks it with the standard library (a .deb is an ``ar`` archive holding
``data.tar.xz``). When unstable has moved past the pinned revision (its pool keeps only
the current one), the current 5.3 revision is taken instead, checked against the SHA-256
that the archive's own index gives for it, and named on stderr.

    python scripts/get_bash53.py [DEST]     # default: .cache/bash-5.3 beside this repo
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import platform
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIRROR = "https://deb.debian.org/debian"
PINNED = {  # Debian architecture -> (version, SHA-256 of the .deb)
    "amd64": ("5.3-4", "95fcd8c7ad1adf50b2ef891cbd3def36df341ff3df4b0c599bf457ff5db9965d"),
}
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "i386", "ppc64le": "ppc64el", "s390x": "s390x"}


def say(msg: str) -> None:
    print(f"get_bash53: {msg}", file=sys.stderr)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310 - a fixed https mirror
        data: bytes = r.read()
    return data


def deb_arch() -> str:
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return _ARCH.get(platform.machine(), platform.machine())


def current(arch: str) -> tuple[str, str, str]:
    """(version, pool path, SHA-256) of bash-static in unstable's index now."""
    index = lzma.decompress(fetch(f"{MIRROR}/dists/sid/main/binary-{arch}/Packages.xz")).decode("utf-8", "replace")
    for stanza in index.split("\n\n"):
        if stanza.startswith("Package: bash-static\n"):
            fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
            return fields["Version"], fields["Filename"], fields["SHA256"]
    raise SystemExit("get_bash53: unstable's index has no bash-static")


def members(deb: bytes) -> dict[str, bytes]:
    """The members of an ``ar`` archive (a .deb), by name."""
    if not deb.startswith(b"!<arch>\n"):
        raise SystemExit("get_bash53: the download is not a .deb")
    out, pos = {}, 8
    while pos + 60 <= len(deb):
        head = deb[pos : pos + 60]
        name = head[:16].decode().strip().rstrip("/")
        size = int(head[48:58].decode().strip())
        out[name] = deb[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size & 1)
    return out


def bash_from_deb(deb: bytes) -> bytes:
    parts = members(deb)
    name = next((n for n in parts if n.startswith("data.tar")), None)
    if name is None:
        raise SystemExit("get_bash53: no data.tar in the .deb")
    with tarfile.open(fileobj=io.BytesIO(parts[name])) as tar:
        for m in tar.getmembers():
            if m.name.endswith("/bin/bash-static") and m.isfile():
                f = tar.extractfile(m)
                assert f is not None
                return f.read()
    raise SystemExit("get_bash53: no bin/bash-static in the .deb")


def main() -> int:
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".cache" / "bash-5.3"
    target = dest / "bin" / "bash"
    if target.is_file() and os.access(target, os.X_OK):
        return 0
    arch = deb_arch()
    version, sha = PINNED.get(arch, ("", ""))
    deb = b""
    if version:
        url = f"{MIRROR}/pool/main/b/bash/bash-static_{version}_{arch}.deb"
        try:
            deb = fetch(url)
        except OSError as exc:
            say(f"{url}: {exc}; looking for unstable's current revision")
    if not deb:
        version, path, sha = current(arch)
        if not version.startswith("5.3"):
            raise SystemExit(f"get_bash53: unstable has bash-static {version}, not 5.3")
        say(f"taking bash-static {version} (the pinned revision is gone from the pool)")
        deb = fetch(f"{MIRROR}/{path}")
    got = hashlib.sha256(deb).hexdigest()
    if got != sha:
        raise SystemExit(f"get_bash53: SHA-256 mismatch for bash-static {version}: {got}, expected {sha}")
    binary = bash_from_deb(deb)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(binary)
    tmp.chmod(0o755)
    tmp.replace(target)  # named bash: cfsession tells the shell by its name
    out = subprocess.run([str(target), "-c", "echo $BASH_VERSION"], capture_output=True, text=True)
    if not out.stdout.startswith("5.3"):
        target.unlink()
        raise SystemExit(f"get_bash53: the unpacked bash does not run as 5.3: {out.stdout!r} {out.stderr!r}")
    say(f"bash {out.stdout.strip()} (Debian bash-static {version}) at {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
