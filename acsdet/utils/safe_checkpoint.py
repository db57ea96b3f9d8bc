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

A file that is no checkpoint at all is a one-line :class:`CheckpointFormatError`,
``checkpoint FILE: <what is wrong>``, raised by :func:`load_local_checkpoint` (so by every local
load: mmengine's Runner, :func:`read_state_dict`, ``acsdet.apis``) instead of torch's
tracebacks: a directory, an empty file, a text or other non-checkpoint file, a plain pickle, a
truncated or corrupt zip / legacy file, a pickle that is not a dict.  A dict without tensors
and whether the tensors fit a model (names, shapes, dtypes) are checked one layer up, by
``acsdet.engine.hooks.checkpoint_match_hook.verify_checkpoint`` (whole-model loads) and by
``acsdet.models.converters.load_2d_weights`` (2D weights).
"""
import os.path as osp
import pickle
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = [
    'UnsafeCheckpointError', 'CheckpointFormatError', 'allow_mmengine_checkpoint_types',
    'load_local_checkpoint', 'install_safe_checkpoint_loading', 'read_state_dict',
    'checkpoint_state_dict'
]

_installed = False


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Raised when a checkpoint holds globals that are not on the allow-list."""


class CheckpointFormatError(ValueError, KeyError):
    """A file that is not a readable checkpoint, or a checkpoint without a state dict.

    One line, ``checkpoint FILE: <what is wrong>``.  A ``ValueError`` (what the tools catch)
    and a ``KeyError`` (what :func:`read_state_dict` raised before for a non-state dict), with
    ``ValueError``'s message (``KeyError`` would quote it).
    """

    __str__ = BaseException.__str__


# What ``torch.save(..., _use_new_zipfile_serialization=False)`` writes first: its magic
# number 0x1950a86a20f9469cfc6c pickled with protocol 2.
_LEGACY_HEADER = b'\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19'


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
    for i, ln in enumerate(lines):  # 'WeightsUnpickler error: ' then the reason
        if ln.endswith('WeightsUnpickler error:') and i + 1 < len(lines):
            return lines[i + 1]
    return lines[-1] if lines else 'unknown reason'


def _first_line(err: BaseException) -> str:
    """The first line of an exception, without torch's advice after it."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    for advice in ('. This is an internal', ' The file might be corrupted'):
        if advice in text:
            text = text[:text.index(advice)]
    return text.rstrip('. ')


def _file_kind(filename: str) -> str:
    """``'zip'`` (torch >= 1.6), ``'legacy'`` (older ``torch.save``), ``'pickle'`` (a pickle
    without torch's header); anything else raises :class:`CheckpointFormatError`."""
    if osp.isdir(filename):
        raise CheckpointFormatError(f'checkpoint {filename}: is a directory, not a checkpoint '
                                    'file')
    size = osp.getsize(filename)
    if size == 0:
        raise CheckpointFormatError(f'checkpoint {filename}: empty file (0 bytes)')
    with open(filename, 'rb') as f:
        head = f.read(64)
    if head[:4] in (b'PK\x03\x04', b'PK\x05\x06'):
        return 'zip'
    if head.startswith(_LEGACY_HEADER):
        return 'legacy'
    if head[:1] == b'\x80':  # pickle protocol >= 2
        return 'pickle'
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError as err:  # a character cut at byte 64 still reads as text
        text = head[:err.start].decode('utf-8') if err.start >= len(head) - 3 else ''
    if text and all(c.isprintable() or c in '\t\r\n' for c in text):
        raise CheckpointFormatError(
            f'checkpoint {filename}: a text file, not a PyTorch checkpoint (it starts with '
            f'{text[:24]!r})')
    raise CheckpointFormatError(
        f'checkpoint {filename}: not a PyTorch checkpoint (neither a zip archive nor a '
        f'torch.save pickle; it starts with {head[:8]!r})')


_KIND_PROBLEM = {
    'zip': 'truncated or corrupt zip archive (or not one written by torch.save)',
    'legacy': 'truncated or corrupt torch.save file (legacy format)',
    'pickle': "a pickle without torch.save's header (pickle.dump?), not a PyTorch checkpoint",
}


def load_local_checkpoint(filename: str, map_location: Optional[Union[str, Callable]] = None):
    """Load a local checkpoint with ``weights_only=True`` and check that it is a dict.

    Every problem is a one-line error naming the file, ``checkpoint FILE: <what is wrong>``
    (:class:`CheckpointFormatError`): a directory, an empty (0 byte) file, a text file or other
    non-checkpoint bytes, a plain pickle, a truncated or corrupt zip / legacy file, a pickle
    that is not a dict (``expected a state dict, got list``).  A dict without tensors is
    returned: the callers that need a model's weights refuse it with
    :func:`checkpoint_state_dict` (``verify_checkpoint``), while 2D-weight loading
    (:func:`read_state_dict` -> ``load_2d_weights``) reports the keys it misses.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: As in :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointFormatError: Not a readable checkpoint (see above).
        UnsafeCheckpointError: The checkpoint holds pickled code or a type that is not
            allow-listed; the message names the file and the globals.
    """
    filename = osp.expanduser(filename)
    if not osp.exists(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    kind = _file_kind(filename)
    try:
        ckpt = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _unpickler_reason(str(err))
        names = []
        if kind == 'zip':
            try:
                names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
            except Exception:  # a corrupt archive: fall back on torch's message
                names = []
        if not names and not ('Unsupported global' in reason or 'not allowed' in reason):
            raise CheckpointFormatError(
                f'checkpoint {filename}: {_KIND_PROBLEM[kind]} ({reason})') from None
        what = ', '.join(names) if names else reason
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {filename}: it holds globals that are not on '
            f"acsdet's allow-list ({what}); it may carry pickled code. Only load checkpoints "
            'you trust; to accept a known-safe type, pass it to '
            'torch.serialization.add_safe_globals before loading.') from None
    except (OSError, MemoryError):
        raise
    except Exception as err:  # RuntimeError (zip, magic number), EOFError, struct.error, ...
        raise CheckpointFormatError(
            f'checkpoint {filename}: {_KIND_PROBLEM[kind]}: {_first_line(err)}') from None
    checkpoint_state_dict(ckpt, filename, require_tensors=False)
    return ckpt


def checkpoint_state_dict(checkpoint, filename: Optional[str] = None,
                          require_tensors: bool = True) -> dict:
    """The state dict inside a loaded checkpoint, after checking that it is one.

    A ``'state_dict'`` or ``'model'`` entry holding a dict is unwrapped (mmengine / other
    trainers); otherwise the checkpoint itself is the state dict.  Nothing is renamed.

    Args:
        checkpoint: What :func:`torch.load` returned.
        filename (str, optional): Named in the message (``(in memory)`` when None).
        require_tensors (bool): Refuse a state dict without any tensor. Default True.

    Returns:
        dict: The state dict (the object inside ``checkpoint``, not a copy).

    Raises:
        CheckpointFormatError: ``checkpoint FILE: expected a state dict, got list`` (not a
            dict), ``checkpoint FILE: expected a state dict, got a dict without tensors
            (keys [...])``.
    """
    name = filename or '(in memory)'
    if not isinstance(checkpoint, dict):
        raise CheckpointFormatError(
            f'checkpoint {name}: expected a state dict, got {type(checkpoint).__name__}')
    state = checkpoint
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), dict):
            state = checkpoint[wrapper]
            break
    if require_tensors and not any(isinstance(v, torch.Tensor) for v in state.values()):
        keys = sorted(map(str, checkpoint))
        shown = ', '.join(keys[:6] + (['...'] if len(keys) > 6 else []))
        where = '' if state is checkpoint else f'; its {wrapper!r} entry holds none'
        raise CheckpointFormatError(
            f'checkpoint {name}: expected a state dict, got a dict without tensors '
            f'(keys [{shown}]{where})')
    return state


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
        CheckpointFormatError: Not a readable checkpoint, or not a dict: one line,
            ``checkpoint FILE: <what is wrong>`` (:func:`load_local_checkpoint`); a
            ``KeyError`` and a ``ValueError``.  A dict without tensors is returned as it is
            (the caller names the keys it misses).
    """
    allow_mmengine_checkpoint_types()  # a full mmengine checkpoint carries its message hub
    if '://' in filename:
        ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu', logger='current')
    else:
        ckpt = load_local_checkpoint(filename, map_location='cpu')
    ckpt = checkpoint_state_dict(ckpt, filename, require_tensors=False)  # callers name keys
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt.items()}
    for prefix in strip_common:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state
