"""Checked command-line values and output locations, shared by the tools (``tools/infer.py``,
``tools/infer_seg.py``, ``tools/froc_eval.py``, ``tools/browse_dataset.py``).

Numbers: the ``type=`` functions below raise :class:`argparse.ArgumentTypeError`, so a bad
value is argparse's own usage error, one line naming the option and the value::

    infer.py: error: argument --batch-size: must be an integer >= 1, got '-1'

:class:`OrderedPair` is the ``action=`` of a ``nargs=2`` option whose two numbers must be
ordered (``--image-hu-range LOW HIGH``: LOW < HIGH; ``--slices FIRST LAST``: FIRST <= LAST).

Output locations: :func:`check_output_dir` is called before any work (before a model is
loaded, a volume read or a picture drawn), so an output folder that cannot be written fails
at once, with one line, instead of after the whole run. It refuses a file where the folder
should be, a folder where one of the tool's files should be, and a folder that cannot be
written (a write probe: a temp file created there with :func:`tempfile.mkstemp` and
removed). It creates nothing: the tools create their folders when they write.

Written here because argparse has no range-checked types, and the four tools need the same
ones (each of them used ``type=int`` / ``type=float``, which accepts ``-1``, ``0``, ``nan``).
"""
import argparse
import math
import os
import os.path as osp
import tempfile
from typing import Callable, Iterable, Optional

__all__ = [
    'finite_float', 'positive_float', 'nonnegative_float', 'positive_int', 'nonnegative_int',
    'probability', 'positive_fraction', 'OrderedPair', 'check_output_dir', 'write_probe'
]


def _checked(kind: type, ok: Callable[[float], bool], what: str, name: str) -> Callable:
    """An argparse ``type=`` function: ``kind(text)``, finite, and ``ok``; otherwise
    ``ArgumentTypeError('must be <what>, got <text>')``."""
    def parse(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f'must be {what}, got {text!r}')
        return value
    parse.__name__ = parse.__qualname__ = name
    parse.__doc__ = f'argparse ``type=``: {what}.'
    return parse


finite_float = _checked(float, lambda v: True, 'a finite number', 'finite_float')
positive_float = _checked(float, lambda v: v > 0, 'a finite number > 0', 'positive_float')
nonnegative_float = _checked(float, lambda v: v >= 0, 'a finite number >= 0',
                             'nonnegative_float')
positive_int = _checked(int, lambda v: v >= 1, 'an integer >= 1', 'positive_int')
nonnegative_int = _checked(int, lambda v: v >= 0, 'an integer >= 0', 'nonnegative_int')
probability = _checked(float, lambda v: 0 <= v <= 1, 'a number in [0, 1]', 'probability')
positive_fraction = _checked(float, lambda v: 0 < v <= 1, 'a number in (0, 1]',
                             'positive_fraction')


def _fmt(v) -> str:
    return f'{v:g}' if isinstance(v, float) else str(v)


class OrderedPair(argparse.Action):
    """``action=`` of a ``nargs=2`` option whose values must be ordered.

    Args:
        strict (bool): True: first < second (a range such as LOW HIGH); False: first <=
            second (an inclusive index range such as FIRST LAST). Default True.

    The names in the message are the option's ``metavar`` (default ``('FIRST', 'SECOND')``)::

        error: argument --image-hu-range: LOW must be < HIGH, got 100 -100
    """

    def __init__(self, option_strings, dest, strict: bool = True, **kwargs):
        if kwargs.get('nargs') != 2:
            raise ValueError(f'OrderedPair needs nargs=2, got {kwargs.get("nargs")!r}')
        self.strict = strict
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        first, second = values
        if first > second or (self.strict and first == second):
            names = self.metavar if isinstance(self.metavar, tuple) else ('FIRST', 'SECOND')
            raise argparse.ArgumentError(
                self, f'{names[0]} must be {"<" if self.strict else "<="} {names[1]}, got '
                f'{_fmt(first)} {_fmt(second)}')
        setattr(namespace, self.dest, list(values))


def write_probe(folder: str, where: str) -> None:
    """Create and remove a temp file in ``folder``; ``ValueError`` (one line, starting with
    ``where``) when that fails (read-only folder or file system, no permission)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix='.write_probe_')
    except OSError as err:
        raise ValueError(f'{where}: cannot write in {folder} '
                         f'({err.strerror or type(err).__name__})') from None
    os.close(fd)
    os.remove(tmp)


def check_output_dir(path: str, option: str = '--out-dir', files: Iterable[str] = (),
                     folders: Iterable[str] = (), label: Optional[str] = None) -> None:
    """Check, before any work, that a tool can write its outputs into folder ``path``.

    Args:
        path (str): The output folder (created later by the tool when it does not exist).
        option (str): The option that named it, for the message. Default ``'--out-dir'``.
        files (Iterable[str]): Names of the files the tool will write in ``path``: none of
            them may be a folder.
        folders (Iterable[str]): Names of sub-folders the tool will write in: none may be a
            file, and an existing one must be writable.
        label (str, optional): Replaces ``f'{option} {path}'`` at the start of the message
            (e.g. ``'output folder of RESULTS (default --out-dir) /x'``).

    Raises:
        ValueError: one line, e.g. ``--out-dir out/x: is a file, expected a folder``,
            ``--out-dir ro/x: cannot write in ro (Permission denied)``,
            ``--out-dir out: out/detections.json is a folder, expected a file``.
    """
    where = label or f'{option} {path}'
    if osp.exists(path) and not osp.isdir(path):
        raise ValueError(f'{where}: is a file, expected a folder')
    # the folder will be created in its nearest existing ancestor: that one must be a
    # folder and writable
    probe = osp.abspath(path)
    while not osp.exists(probe) and osp.dirname(probe) != probe:
        probe = osp.dirname(probe)
    if not osp.isdir(probe):
        raise ValueError(f'{where}: cannot create the folder: {probe} is a file')
    subdirs = [osp.join(path, name) for name in folders]
    for sub in subdirs:
        if osp.exists(sub) and not osp.isdir(sub):
            raise ValueError(f'{where}: {sub} is a file, expected a folder')
    for name in files:
        target = osp.join(path, name)
        if osp.isdir(target):
            raise ValueError(f'{where}: {target} is a folder, expected a file')
    write_probe(probe if probe != osp.abspath(path) else path, where)
    for sub in subdirs:
        if osp.isdir(sub):
            write_probe(sub, where)
