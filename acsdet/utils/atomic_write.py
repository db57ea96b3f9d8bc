"""Atomic writes: every file the tools write appears whole or not at all.

One implementation for the whole package: a temp file beside the target (same folder, so
``os.replace`` is an atomic rename on POSIX), replaced on success and removed on failure or
interruption. Temp names come from ``tempfile.mkstemp``, so concurrent writers (dataloader
workers, parallel tools) never share one.
"""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Iterator, Optional, TextIO

import numpy as np

__all__ = ['atomic_file_path', 'atomic_text_file', 'write_text_atomic', 'atomic_savez']


def _suffix(path: str) -> str:
    """The file's extension, two parts for compressed ones ('.nii.gz')."""
    root, ext = osp.splitext(path)
    if ext in ('.gz', '.bz2', '.xz'):
        ext = osp.splitext(root)[1] + ext
    return ext


@contextlib.contextmanager
def atomic_file_path(path: str, suffix: Optional[str] = None) -> Iterator[str]:
    """Yield the path of an empty temp file beside ``path`` for a writer that wants a file
    name (``cv2.imwrite``, ``np.save``, ``nib.save``, a visualizer's ``out_file``); on success
    it replaces ``path``.

    Args:
        path (str): The target; its folder is created if needed.
        suffix (str, optional): The temp file's extension, for writers that pick the format
            from it. Defaults to ``path``'s own ('.png', '.npz', '.nii.gz', ...).

    If the block raises (or is interrupted) the temp file is removed and ``path`` keeps its
    previous content.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.tmp_{osp.basename(path)}.',
                               suffix=_suffix(path) if suffix is None else suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
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
