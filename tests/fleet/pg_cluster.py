"""A throw-away PostgreSQL 15 cluster on loopback for the fleet tests.

initdb and postgres refuse to run as root, so as root the cluster runs as the
``postgres`` system user (made by Debian's postgresql package) through ``runuser``.
TLS is on, with a CA and a server certificate for ``localhost`` made here with openssl.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("CFSESSION_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> str | None:
    """None when a cluster can be made here, else why not."""
    if not (BIN / "initdb").exists():
        return f"PostgreSQL 15 server binaries not found in {BIN} (apt install postgresql postgresql-contrib)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no `postgres` user to run the cluster as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    port: int
    ca: Path
    other_ca: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, user: str = "postgres", db: str = "cfsession", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def ctl(self, *args: str) -> None:
        subprocess.run(
            self._as_owner([str(BIN / "pg_ctl"), "-D", str(self.data), "-l",
                            str(self.root / "server.log"), *args]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
        )

    def start(self) -> None:
        self.ctl("-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-w", "-t", "30", "-m", mode, "stop")

    def restart(self) -> None:
        self.ctl("-w", "-t", "30", "-m", "fast", "restart")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_certs(d: Path) -> None:
    for ca in ("ca", "other_ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                 f"/CN=cfsession test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.crt", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt", cwd=d)


def create(durable: bool = False) -> Cluster:
    """A running cluster with a ``cfsession`` database; ``durable``: keep fsync (benchmarks)."""
    root = Path(tempfile.mkdtemp(prefix="cfsession-pg-"))
    os.chmod(root, 0o755)
    port = _free_port()
    certs = root / "certs"
    certs.mkdir()
    _make_certs(certs)
    cluster = Cluster(root, port, certs / "ca.crt", certs / "other_ca.crt")
    sock = root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        for f in ("server.key", "server.crt"):
            shutil.chown(certs / f, "postgres")
    os.chmod(certs / "server.key", 0o600)
    subprocess.run(
        cluster._as_owner([str(BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                           "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
        check=True, capture_output=True, timeout=120,
    )
    with open(cluster.data / "postgresql.conf", "a") as f:
        f.write(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sock}'\n"
            f"ssl = on\nssl_cert_file = '{certs / 'server.crt'}'\nssl_key_file = '{certs / 'server.key'}'\n"
            "shared_buffers = 128MB\nmax_connections = 40\n"
        )
        if not durable:  # a test cluster's data is thrown away: skip the disk flushes
            f.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
    cluster.start()
    subprocess.run(
        [str(BIN.parent / "bin" / "createdb") if (BIN / "createdb").exists() else "createdb",
         "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "cfsession"],
        check=True, capture_output=True, timeout=60,
    )
    return cluster


def destroy(cluster: Cluster) -> None:
    try:
        cluster.stop("immediate")
    except (subprocess.SubprocessError, OSError):
        pass
    shutil.rmtree(cluster.root, ignore_errors=True)
