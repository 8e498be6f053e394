"""Where sessions live: ``$CFSESSION_HOME`` or the platform's user data dir.

Directories are created 0700 and files 0600 regardless of the umask (DESIGN.md §3, §6):
recordings hold everything a user's terminal showed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cfsession.errors import StoreError

DIR_MODE = 0o700
FILE_MODE = 0o600


def home() -> Path:
    """The storage root (not created)."""
    env = os.environ.get("CFSESSION_HOME")
    if env:
        return Path(env).expanduser()
    # platformdirs is imported lazily: the record path must start fast.
    import platformdirs

    return Path(platformdirs.user_data_dir("cfsession", appauthor=False))


def working_dir() -> str:
    """The current directory. One removed from under the user (a build tree wiped under
    their shell) has no path any more: then where they were, as their shell says
    (``$PWD``); the command still runs there, as it would without the recorder."""
    try:
        return os.getcwd()
    except OSError:
        return os.environ.get("PWD", "")


def sessions_dir(root: Path | None = None) -> Path:
    return (root or home()) / "sessions"


def index_path(root: Path | None = None) -> Path:
    return (root or home()) / "index.sqlite"


def logs_dir(root: Path | None = None) -> Path:
    return (root or home()) / "logs"


def config_path(root: Path | None = None) -> Path:
    return (root or home()) / "config.toml"


def jsonl_path(session_id: str, root: Path | None = None) -> Path:
    return sessions_dir(root) / f"{session_id}.jsonl"


def cast_path(session_id: str, root: Path | None = None) -> Path:
    return sessions_dir(root) / f"{session_id}.cast"


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as 0700; refuse a directory owned by someone else."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    check_owner(path)
    return path


def check_owner(path: Path) -> None:
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: ACLs, not uids; the profile dir is already private.
        return
    st = path.stat()
    if st.st_uid != getuid():
        raise StoreError(
            f"{path} belongs to uid {st.st_uid}, not to you (uid {getuid()})",
            "use your own store: set CFSESSION_HOME to a directory you own",
        )
    if not stat.S_ISDIR(st.st_mode):
        # Never chmod what is not a store: a file named by mistake (as root, /etc/passwd
        # made 0700 locks every other user out).
        raise StoreError(f"{path} is not a directory", "set CFSESSION_HOME to a directory of its own")
    if st.st_mode & stat.S_ISVTX:
        # A shared sticky directory (/tmp): tightening it would take it from everyone.
        raise StoreError(f"{path} is a shared directory", "set CFSESSION_HOME to a directory of its own inside it")
    if st.st_mode & 0o077:
        # Tighten rather than refuse: older versions or a copy may have left it open.
        try:
            os.chmod(path, DIR_MODE)
        except OSError:
            pass  # a read-only store (a copy kept as evidence, a backup) still reads


def open_private(path: Path, mode: str = "ab") -> int:
    """Open (creating 0600, umask-independent) and return a raw fd for ``mode`` a/w."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    flags |= os.O_APPEND if mode.startswith("a") else os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is filtered by the umask; fchmod is not
    except OSError:
        os.close(fd)
        raise
    return fd
