"""Files only their owner can read: every file rehabtrack writes holds health data or a secret.

Whatever the process's umask, rehabtrack creates its folders with mode ``0700``
and its files with mode ``0600`` (owner read and write only): the store and its
WAL and shared-memory files, kept originals of uploads, backups, research
exports, reports, FHIR exports, the users file and the keys. The functions here
open files with that mode from the start (never a readable file made private
afterwards) and write them atomically.

:func:`secret_key` keeps a random key in a ``0600`` file of the data directory
(created once, atomically, by the first process that needs it): the backup
signing key and the key of the login cookies use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "FILE_MODE",
    "DIR_MODE",
    "make_private_dir",
    "open_private",
    "write_private",
    "make_private",
    "fsync_dir",
    "secret_key",
]

#: Mode of every file rehabtrack writes (owner read and write).
FILE_MODE = 0o600
#: Mode of every folder rehabtrack creates (owner only).
DIR_MODE = 0o700


def make_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create a folder (and missing parents) with mode 0700, whatever the umask; return it.

    A folder that already exists keeps its mode (an administrator may have chosen it),
    except that the folders this call creates are all 0700.
    """
    folder = Path(path)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            created.mkdir(mode=DIR_MODE)
            os.chmod(created, DIR_MODE)  # mkdir's mode is masked by the umask
    return folder


@contextlib.contextmanager
def open_private(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a file for writing bytes with mode 0600 from the start.

    An existing file is truncated and made 0600 before anything is written.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        yield fh


def write_private(path: str | os.PathLike[str], data: bytes | str, *, durable: bool = False) -> Path:
    """Write a whole file atomically with mode 0600 (a temporary file renamed into place).

    Parameters
    ----------
    path
        The file.
    data
        Its content (text is written as UTF-8).
    durable
        ``fsync`` the file and its folder before returning, so that the file
        survives a power cut (the kept original of an upload, before its rows commit).
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fsync_dir(target.parent)
    return target


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """``fsync`` a folder so that a file just created or renamed in it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def make_private(path: str | os.PathLike[str]) -> None:
    """Make an existing file 0600 (a folder 0700) when this process owns it; otherwise leave it."""
    p = Path(path)
    try:
        info = p.stat()
    except OSError:
        return
    if info.st_uid != os.geteuid():
        return
    wanted = DIR_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
    if stat.S_IMODE(info.st_mode) != wanted:
        with contextlib.suppress(OSError):
            os.chmod(p, wanted)


def secret_key(path: str | os.PathLike[str], *, nbytes: int = 32) -> bytes:
    """The random key kept in ``path`` (64 hexadecimal characters, mode 0600), created on first use.

    Two processes creating it at once end with the same key: it is written under a
    temporary name and linked into place only if absent.

    Returns
    -------
    bytes
        The file's content without surrounding white space, as UTF-8 bytes.
    """
    target = Path(path)
    if not target.is_file():
        make_private_dir(target.parent)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(nbytes) + "\n")
        try:
            os.link(tmp, target)  # atomic: fails if another process created the key first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return target.read_text(encoding="utf-8").strip().encode("utf-8")
