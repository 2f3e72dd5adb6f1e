"""Writing a file the safe way: atomic for regular files, through links and into special files.

This is the one atomic writer, and the one place directories are made private. Every file
chatterm writes whole (exports, the config, the models cache, the screen state, the
database backup) goes through `write_file` (or `write_text`, its one-line-error form):

- a regular file (or a path not there yet) is written to a temp file in the same
  directory, fsynced and renamed over it, so a reader never sees half a file;
- a symlink is followed: the file it points to is replaced, the link stays a link;
- a FIFO, a terminal or another device, and `/dev/stdout`-style links into /proc or
  /dev/fd, are written in place: renaming over `/dev/stdout` would replace that link with
  a regular file (as root in a container, for every process after us).

A temp file is named `.NAME.PID-RANDOM.tmp` and is flock-ed while it is written. A kill
mid-write leaves it behind; the next write of the same file removes such leftovers, but
only when they are provably stale: the name matches, the pid is not running, and nobody
holds the lock (which also covers a writer in another pid namespace).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from chatterm.errors import ChattermError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

_MAX_LINK_HOPS = 40
# Links into these are a process's own descriptors or devices, never files to replace.
_PASS_THROUGH_PREFIXES = ("/proc/", "/dev/fd/", "/dev/std")


def write_file(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` to `path` as described above; OSError on failure (old file kept)."""
    path = Path(path)
    if _writes_in_place(path):
        _write_in_place(path, data)
        return
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    replace_atomically(target, data, mode=mode)


def write_text(path: Path, text: str, *,
               error: type[ChattermError] = ChattermError) -> None:
    """`write_file` for UTF-8 text; a failure is one line, `cannot write PATH: why`, raised
    as `error` (ConfigError for the config), and the old file is kept."""
    path = Path(path)
    try:
        write_file(path, text.encode("utf-8"))
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from exc


def ensure_private_dir(path: Path, *, tighten: bool = True) -> Path:
    """Create `path` (and parents) readable by the owner only.

    An existing directory is tightened to 0700 too, unless `tighten` is False: a directory
    the user chose for the config (say `$CHATTERM_CONFIG=/tmp/x/config.toml`) keeps its
    permissions, and only one chatterm creates is made private.
    """
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (tighten or not existed) and path.stat().st_mode & 0o077:
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def replace_atomically(target: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Temp file next to `target`, fsync, chmod `mode`, rename over `target`."""
    directory = target.parent
    sweep_stale(directory, target.name)
    fd, temp = open_temp(directory, target.name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.chmod(temp, mode)  # before the rename: never readable by others
            os.replace(temp, target)  # while still locked: a sweep never sees it unlocked
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    sync_directory(directory)


def open_temp(directory: Path, name: str) -> tuple[int, Path]:
    """A new 0600 temp file for `name` in `directory`, locked; (fd, path)."""
    while True:
        temp = directory / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, temp


def sweep_stale(directory: Path, name: str) -> list[Path]:
    """Remove stale temp files left for `name` in `directory` by killed writers."""
    # SQLite's side files of a temp database (a backup copy) go with it.
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)-[0-9a-f]{{8}}\.tmp(-journal|-wal|-shm)?")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _pid_alive(pid) or _locked(Path(entry.path)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def sync_directory(directory: Path) -> None:
    # Makes a rename itself durable; not possible everywhere, hence best effort.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _writes_in_place(path: Path) -> bool:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(info.st_mode):
        return False  # write_file reports it
    if not stat.S_ISREG(info.st_mode):
        return True  # FIFO, character device (a terminal, /dev/null), socket
    return any(hop.startswith(_PASS_THROUGH_PREFIXES) for hop in _link_chain(path))


def _link_chain(path: Path) -> list[str]:
    """The absolute paths a chain of symlinks at `path` passes through (itself included)."""
    current = os.path.abspath(path)
    chain = [current]
    for _ in range(_MAX_LINK_HOPS):
        try:
            target = os.readlink(current)
        except OSError:
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        chain.append(current)
    return chain


def _write_in_place(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | _truncate_flag(path))
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def _truncate_flag(path: Path) -> int:
    # `/dev/stdout` redirected to a file: replace its content, as `> /dev/stdout` would.
    with contextlib.suppress(OSError):
        if stat.S_ISREG(os.stat(path).st_mode):
            return os.O_TRUNC
    return 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return True  # cannot tell: keep the file
    return True


def _locked(path: Path) -> bool:
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # cannot tell: keep it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
