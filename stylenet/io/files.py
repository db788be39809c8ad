"""Atomic file writes: nothing half-written is ever visible, nothing is replaced unasked."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def check_input_file(path: Path, kind: str, error: type[Exception]) -> None:
    """``error`` naming ``path`` if it is missing, a folder or empty (``kind``: "an image", "a video")."""
    if not path.exists():
        raise error(f"{path}: no such file")
    if path.is_dir():
        raise error(f"{path}: is a folder, not {kind}")
    if path.stat().st_size == 0:
        raise error(f"{path}: empty file (0 bytes)")


def check_output(dest: str | os.PathLike, overwrite: bool, option: str = "overwrite (--overwrite)") -> None:
    """``FileExistsError`` if ``dest`` exists and ``overwrite`` is off, is a folder, or is a name the file system
    refuses: the check and the message of every writer (``option`` names the way to ask: the argument, or a
    command's ``--overwrite``)."""
    path = Path(dest)
    try:
        folder, exists = path.is_dir(), path.exists()
    except OSError as e:  # a name the file system refuses (too long, ...)
        raise FileExistsError(f"{dest}: not a usable output file name ({e.strerror}); give a shorter one") from None
    if folder:
        raise FileExistsError(f"{dest}: is a folder; give a file name, e.g. {path / 'out'}{path.suffix or ''}")
    if exists and not overwrite:
        raise FileExistsError(_exists(dest, option))


def _exists(dest: str | os.PathLike, option: str = "overwrite (--overwrite)") -> str:
    return f"{dest}: exists; pass {option} to replace it"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(dest: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; when the block succeeds, move it into place.

    The file gets the usual permissions (0666 less the umask). Without ``overwrite`` an
    existing ``dest`` is never replaced, even one that appears while writing: that is
    a ``FileExistsError``. On any error the temporary file is removed.
    """
    dest = Path(dest)
    check_output(dest, overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # fails if a file appeared meanwhile
            except FileExistsError:
                raise FileExistsError(_exists(dest)) from None
            except OSError:  # a filesystem without hard links
                os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
