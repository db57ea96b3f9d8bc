"""Load mmengine checkpoints under ``torch.load(weights_only=True)``.

torch >= 2.6 loads checkpoints with ``weights_only=True``: the unpickler only rebuilds tensors,
containers and an allow-list of types.  mmengine 0.10.7 checkpoints also carry numpy scalars and
arrays (metrics, seeds) and :class:`mmengine.logging.HistoryBuffer` objects (the message hub), so
``--resume`` fails with ``Unsupported global``.  The popular work-around,
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, turns the protection off for every load: a checkpoint
is a pickle, and a malicious one then runs arbitrary code.

acsdet instead allow-lists exactly the types mmengine writes
(:func:`allow_mmengine_checkpoint_types`) and replaces mmengine's local-file loader with
:func:`load_local_checkpoint`, which keeps ``weights_only=True`` and turns a refusal into a
one-line error naming the file and the offending globals.  Both are applied by
:func:`acsdet.apis.register_all_modules` and by every tool.
One subtlety: ``HistoryBuffer.__getstate__`` pickles its statistics methods as
``getattr(HistoryBuffer, 'mean')``.  Allow-listing ``builtins.getattr`` itself would let a
checkpoint reach any attribute of any allowed type (``getattr(numpy.ndarray, 'tofile')`` writes
files), so we register a restricted stand-in under that name which only resolves the
statistics methods of ``HistoryBuffer``.
"""
import os.path as osp
import pickle
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = [
    'UnsafeCheckpointError', 'allow_mmengine_checkpoint_types',
    'load_local_checkpoint', 'install_safe_checkpoint_loading', 'read_state_dict'
]

_installed = False


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Raised when a checkpoint holds globals that are not on the allow-list."""


def _history_buffer_getattr(obj, name: str):
    """A ``getattr`` that only resolves ``HistoryBuffer``'s statistics methods."""
    if obj is HistoryBuffer and callable(
            getattr(HistoryBuffer, name, None)) and not name.startswith('_'):
        return getattr(HistoryBuffer, name)
    raise UnsafeCheckpointError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)!r}, {name!r}) '
        'is not allowed while loading a checkpoint')


def _numpy_types() -> List[Union[Callable, Tuple[Callable, str]]]:
    """numpy globals as pickled by numpy 1.x (``numpy.core``) and 2.x (``numpy._core``)."""
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    items: List[Union[Callable, Tuple[Callable, str]]] = [np.ndarray, np.dtype]
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        items.append((multiarray._reconstruct, f'{mod}._reconstruct'))
        items.append((multiarray.scalar, f'{mod}.scalar'))
    # dtype classes (numpy.dtypes.Float32DType, ...) appear when a dtype object is pickled.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        items += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return items


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list the non-tensor types found in mmengine/mmdet checkpoints (idempotent)."""
    torch.serialization.add_safe_globals(_numpy_types() + [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
    ])


def _unpickler_reason(message: str) -> str:
    """The line of torch's long weights-only message that says what was refused."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for ln in lines:
        if 'Unsupported global' in ln or 'not allowed' in ln:
            return ln
    return lines[-1] if lines else 'unknown reason'


def load_local_checkpoint(filename: str, map_location: Optional[Union[str, Callable]] = None):
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: As in :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The checkpoint holds pickled code or a type that is not
            allow-listed; the message names the file and the globals.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        try:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        except Exception:  # legacy / non-zip format: fall back on torch's message
            names = []
        what = ', '.join(names) if names else _unpickler_reason(str(err))
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {filename}: it holds globals that are not on '
            f"acsdet's allow-list ({what}); it may carry pickled code. Only load checkpoints "
            'you trust; to accept a known-safe type, pass it to '
            'torch.serialization.add_safe_globals before loading.') from None


def install_safe_checkpoint_loading() -> None:
    """Allow-list mmengine's types and make mmengine load local files with
    :func:`load_local_checkpoint` (idempotent)."""
    global _installed
    if _installed:
        return
    allow_mmengine_checkpoint_types()
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
    _installed = True


def read_state_dict(filename: str, strip_common: Sequence[str] = ('backbone.', )) -> dict:
    """The flat state dict of a checkpoint, however it was saved.

    Local files go through :func:`load_local_checkpoint` (weights-only, one-line errors);
    other URIs (``torchvision://...``, ``https://...``) through mmengine's
    ``CheckpointLoader``.  A ``'state_dict'`` or ``'model'`` entry is unwrapped (mmengine /
    other trainers), a ``'module.'`` prefix (DDP) is stripped from the keys that carry it,
    and each prefix of ``strip_common`` is stripped when *every* key carries it (a
    checkpoint of a whole segmentor whose ``backbone`` is the network).

    Args:
        filename (str): Path or URI.
        strip_common (Sequence[str]): Prefixes stripped when common to all keys.
            Defaults to ('backbone.', ).

    Raises:
        FileNotFoundError: No such local file.
        KeyError: The checkpoint is not a dict of tensors; the message names the file.
    """
    allow_mmengine_checkpoint_types()  # a full mmengine checkpoint carries its message hub
    if '://' in filename:
        ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu', logger='current')
    else:
        ckpt = load_local_checkpoint(filename, map_location='cpu')
    for wrapper in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(wrapper), dict):
            ckpt = ckpt[wrapper]
            break
    if not isinstance(ckpt, dict):
        raise KeyError(f'{filename}: expected a state dict, got {type(ckpt).__name__}')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt.items()}
    for prefix in strip_common:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state
