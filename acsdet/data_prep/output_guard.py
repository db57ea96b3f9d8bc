"""Output guards of the data preparation: a write probe before any work, and all-or-nothing
output for one run.

* :func:`check_writable` creates and removes a temp file in the output folder (or, when the
  folder does not exist yet, in its nearest existing parent) before the work starts. An
  unwritable location is then reported in one line at once, not after a long conversion
  (GrabCut over the whole of DeepLesion).
* :func:`staged_output` makes a whole run all-or-nothing. Inside it, every file written through
  :func:`output_file_path` is written to a temp file beside its target. The temp files replace
  their targets only when the block ends without an error (:meth:`StagedOutput.commit`). If the
  block raises, or is interrupted, the temp files and the folders this run created are removed
  (:meth:`StagedOutput.rollback`). The files of an earlier run are then left as they were.
  Outside a stage, :func:`output_file_path` is the plain atomic write of one file
  (:func:`acsdet.utils.atomic_write.atomic_file_path`).

The writers of :mod:`acsdet.data_prep.volume_prep` (``atomic_save_nifti``, ``atomic_savez``,
``write_split_json``) and :func:`acsdet.data_prep.deeplesion_coco.atomic_write_json` all write
through :func:`output_file_path`. ``volume_prep.run_converter`` runs each converter of
``data_prep/`` inside a stage, and so does ``convert_deeplesion`` for its json files.

A run killed with SIGKILL may leave its temp files (``.tmp_<name>.*``) beside the targets.
The targets themselves are always whole files, either the old ones or the new ones.
"""
import contextlib
import contextvars
import os
import os.path as osp
import tempfile
from typing import Dict, Iterator, List, Optional

from acsdet.utils.atomic_write import atomic_file_path

__all__ = ['OutputNotWritableError', 'check_writable', 'StagedOutput', 'staged_output',
           'output_file_path']


class OutputNotWritableError(OSError):
    """The output location cannot be written; the message is one line naming the folder."""


def check_writable(folder: str) -> None:
    """Check that files can be written to ``folder`` before any work is done.

    The check creates and removes a temp file (a write probe). It probes ``folder`` itself
    when it exists, else its nearest existing parent (where ``folder`` will be created).
    Nothing is left behind, and a missing ``folder`` is not created.

    Args:
        folder (str): The output folder.

    Raises:
        OutputNotWritableError: One line, e.g. ``output folder /data/out is not writable
            (Permission denied)``.
    """
    folder = osp.abspath(folder)
    probe = folder
    while not osp.lexists(probe):
        parent = osp.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not osp.isdir(probe):
        if probe == folder:
            raise OutputNotWritableError(f'output folder {folder} is not a folder')
        raise OutputNotWritableError(f'output folder {folder} cannot be created: {probe} is '
                                     'not a folder')
    try:
        fd, tmp = tempfile.mkstemp(prefix='.acsdet_write_probe.', dir=probe)
        os.close(fd)
        os.remove(tmp)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if probe == folder:
            raise OutputNotWritableError(
                f'output folder {folder} is not writable ({reason})') from None
        raise OutputNotWritableError(f'output folder {folder} cannot be created: {probe} is '
                                     f'not writable ({reason})') from None


class StagedOutput:
    """The files that one run writes, held back until the whole run has succeeded.

    Each file is written to a temp file beside its target (same folder, so the final
    ``os.replace`` is a rename). :meth:`commit` moves them all into place, with the mode a
    plain ``open(path, 'w')`` gives. :meth:`rollback` removes them, together with the folders
    this run created that are still empty.
    """

    def __init__(self):
        self._files: Dict[str, str] = {}  # target -> staged temp file, in write order
        self._new_dirs: List[str] = []     # folders created by this run, parents first

    def _makedirs(self, folder: str) -> None:
        missing = []
        f = folder
        while not osp.isdir(f):
            missing.append(f)
            parent = osp.dirname(f)
            if parent == f:
                break
            f = parent
        os.makedirs(folder, exist_ok=True)
        self._new_dirs.extend(reversed(missing))

    @contextlib.contextmanager
    def file_path(self, path: str, suffix: Optional[str] = None) -> Iterator[str]:
        """Yield a temp file path for the writer of ``path``; on success it is staged.

        Args:
            path (str): The target file.
            suffix (str, optional): The temp file's extension, for writers that pick the
                format from it. Defaults to ``path``'s own (two parts for ``.nii.gz``).
        """
        target = osp.abspath(path)
        folder = osp.dirname(target)
        self._makedirs(folder)
        if suffix is None:
            root, suffix = osp.splitext(target)
            if suffix in ('.gz', '.bz2', '.xz'):
                suffix = osp.splitext(root)[1] + suffix
        fd, tmp = tempfile.mkstemp(prefix=f'.tmp_{osp.basename(target)}.', suffix=suffix,
                                   dir=folder)
        os.close(fd)
        try:
            yield tmp
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise
        old = self._files.pop(target, None)  # written twice in one run: the last one counts
        if old is not None and osp.exists(old):
            os.remove(old)
        self._files[target] = tmp

    @property
    def staged(self) -> List[str]:
        """The target paths written so far (in write order)."""
        return list(self._files)

    def commit(self) -> None:
        """Move every staged file onto its target (each one an atomic rename)."""
        while self._files:
            target = next(iter(self._files))
            tmp = self._files[target]
            # atomic_file_path gives the file the mode a plain open() would leave, then
            # renames it onto the target; the staged content takes the place of its temp file
            with atomic_file_path(target) as final:
                os.replace(tmp, final)
            del self._files[target]
        self._new_dirs.clear()

    def rollback(self) -> None:
        """Remove the staged files and the folders this run created (when empty)."""
        for tmp in self._files.values():
            if osp.exists(tmp):
                os.remove(tmp)
        self._files.clear()
        for folder in reversed(self._new_dirs):
            try:
                os.rmdir(folder)
            except OSError:  # not empty (someone else wrote there) or already gone
                pass
        self._new_dirs.clear()


_ACTIVE: contextvars.ContextVar = contextvars.ContextVar('acsdet_staged_output', default=None)


@contextlib.contextmanager
def staged_output() -> Iterator[StagedOutput]:
    """Make the block's writes through :func:`output_file_path` all-or-nothing.

    The staged files replace their targets when the block ends normally. When it raises
    (``KeyboardInterrupt`` included), they are removed and the exception goes on. Inside an
    active stage, a nested call joins it, and the outer block commits.
    """
    active = _ACTIVE.get()
    if active is not None:
        yield active
        return
    stage = StagedOutput()
    token = _ACTIVE.set(stage)
    try:
        yield stage
    except BaseException:
        _ACTIVE.reset(token)
        stage.rollback()
        raise
    _ACTIVE.reset(token)
    try:
        stage.commit()
    except BaseException:
        stage.rollback()
        raise


@contextlib.contextmanager
def output_file_path(path: str, suffix: Optional[str] = None) -> Iterator[str]:
    """A temp file path for a writer of ``path``: staged inside :func:`staged_output`, else
    an atomic write of this one file (:func:`acsdet.utils.atomic_write.atomic_file_path`)."""
    stage = _ACTIVE.get()
    ctx = stage.file_path(path, suffix) if stage is not None else atomic_file_path(path, suffix)
    with ctx as tmp:
        yield tmp
