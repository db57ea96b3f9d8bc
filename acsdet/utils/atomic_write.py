"""Atomic writes: every file the tools write appears whole or not at all."""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Iterator, TextIO

__all__ = ['atomic_text_file', 'write_text_atomic']


@contextlib.contextmanager
def atomic_text_file(path: str) -> Iterator[TextIO]:
    """Open a UTF-8 temp file beside ``path``; on success it replaces ``path`` (``os.replace``).

    The folder is created if needed. If the block raises (or is interrupted) the temp file is
    removed and ``path`` keeps its previous content. Lets large outputs (e.g. ``json.dump``)
    stream to disk instead of being built as one string first.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix=osp.splitext(path)[1], dir=folder)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_text_file`)."""
    with atomic_text_file(path) as f:
        f.write(text)
