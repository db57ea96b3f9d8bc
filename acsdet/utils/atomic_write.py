"""Atomic writes: every file the tools write appears whole or not at all.

One implementation for the whole package: a temp file beside the target (same folder, so
``os.replace`` is an atomic rename on POSIX), replaced on success and removed on failure or
interruption. Temp names come from ``tempfile.mkstemp``, so concurrent writers (dataloader
workers, parallel tools) never share one.

``mkstemp`` creates its file owner-only (0o600) and ``os.replace`` keeps the temp file's mode,
so before the rename the temp file gets the mode a plain ``open(path, 'w')`` would leave:
``0o666 & ~umask`` for a new file, the old file's permission bits when ``path`` exists.
"""
import contextlib
import os
import os.path as osp
import tempfile
import threading
from typing import Iterator, Optional, TextIO

import numpy as np

__all__ = ['atomic_file_path', 'atomic_text_file', 'write_text_atomic', 'atomic_savez']


def _suffix(path: str) -> str:
    """The file's extension, two parts for compressed ones ('.nii.gz')."""
    root, ext = osp.splitext(path)
    if ext in ('.gz', '.bz2', '.xz'):
        ext = osp.splitext(root)[1] + ext
    return ext


_PROC_STATUS = '/proc/self/status'
_UMASK_LOCK = threading.Lock()


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows.

    Linux (4.7+) reports it on the ``Umask:`` line of ``/proc/self/status``: a plain read,
    so it cannot race with other threads. Elsewhere the only way is the ``os.umask(0)`` /
    ``os.umask(old)`` pair, which sets the process-wide umask to 0 for an instant (a file
    another thread creates meanwhile gets 0o666); the lock at least keeps two callers from
    interleaving their pairs, which could leave the umask at 0 for good. Read on every
    write, not cached: the umask may change while the process runs.
    """
    try:
        with open(_PROC_STATUS, encoding='ascii') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        old = os.umask(0)
        os.umask(old)
    return old


def _target_mode(path: str) -> int:
    """The permission bits ``open(path, 'w')`` would leave: the existing file's (setuid,
    setgid and sticky bits not carried over, as a plain write clears the first two), else
    ``0o666 & ~umask``."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_file_path(path: str, suffix: Optional[str] = None) -> Iterator[str]:
    """Yield the path of an empty temp file beside ``path`` for a writer that wants a file
    name (``cv2.imwrite``, ``np.save``, ``nib.save``, a visualizer's ``out_file``); on success
    it replaces ``path``.

    Args:
        path (str): The target; its folder is created if needed.
        suffix (str, optional): The temp file's extension, for writers that pick the format
            from it. Defaults to ``path``'s own ('.png', '.npz', '.nii.gz', ...).

    On success the file gets the mode ``open(path, 'w')`` would leave (``0o666 & ~umask``,
    or the permission bits of the file it replaces). If the block raises (or is interrupted)
    the temp file is removed and ``path`` keeps its previous content.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.tmp_{osp.basename(path)}.',
                               suffix=_suffix(path) if suffix is None else suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _target_mode(path))  # by name: a writer may have recreated the file
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_text_file(path: str) -> Iterator[TextIO]:
    """Open a UTF-8 temp file beside ``path``; on success it replaces ``path``.

    As :func:`atomic_file_path`, for text: lets large outputs (e.g. ``json.dump``) stream to
    disk instead of being built as one string first.
    """
    with atomic_file_path(path) as tmp, open(tmp, 'w', encoding='utf-8') as f:
        yield f


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_text_file`)."""
    with atomic_text_file(path) as f:
        f.write(text)


def atomic_savez(path: str, **arrays: np.ndarray) -> None:
    """``np.savez_compressed(path, **arrays)``, atomically."""
    with atomic_file_path(path) as tmp, open(tmp, 'wb') as f:
        np.savez_compressed(f, **arrays)
