"""Refuse a checkpoint that does not fit the model instead of running with random weights.

:func:`verify_checkpoint` is the one check every whole-model checkpoint goes through before its
weights are copied: :class:`CheckpointMatchHook` for the Runner (``tools/test.py``, ``load_from``,
``--resume``) and :func:`acsdet.apis.model_from_config.model_from_config` for inference
(``load_detector``, ``load_segmentor``, ``tools/infer.py``, ``tools/infer_seg.py``).  It lives
here, in ``acsdet.engine``, because :class:`CheckpointMismatchError` is raised from here (the
tools print its qualified name) and ``acsdet.apis`` may import ``acsdet.engine`` (not the other
way); the file-level checks it relies on
(:func:`acsdet.utils.safe_checkpoint.checkpoint_state_dict`) sit in ``acsdet.utils``.

What it checks (the model's ``state_dict()`` against the checkpoint's, ``module.`` stripped):

* **structure**: the checkpoint is a dict holding tensors (``checkpoint FILE: expected a state
  dict, got list``; raised by ``checkpoint_state_dict``);
* **names and shapes**, by one of two rules:

  - ``min_fraction=0.5`` (the Runner): at least that fraction of the model's tensors is found
    with the same name and shape; the rest keeps its initialisation (mmengine's
    ``strict=False``), so a head with another number of classes still loads;
  - ``min_fraction=None`` (inference): *every* model tensor is found with the same name and
    shape, except the names matching ``allow_missing`` (default :data:`ALLOW_MISSING`:
    BatchNorm's ``num_batches_tracked`` counters, which eval mode does not use); with
    ``allow_unexpected=False`` the file may not hold tensors the model lacks either.
    Inference never runs a partly random model;

* **dtypes**, under both rules, for every tensor that matched by name and shape: a floating
  model tensor must get a floating tensor.  ``float16`` / ``bfloat16`` / ``float64`` into a
  ``float32`` model are accepted and cast by ``Tensor.copy_`` (a half-precision or a
  ``.double()`` copy of a checkpoint holds the same weights, at its own precision); an integer
  or bool tensor where a floating one is expected is refused (it is not a weight: an
  ``int32`` copy of a checkpoint would run as rounded weights and give FROC 0.0).  An integer
  or bool model tensor (``num_batches_tracked``) takes an integer or bool tensor, or a floating
  one holding whole numbers (a checkpoint converted with ``{k: v.double()}``).  A value that is
  not a tensor (a numpy array) is refused: mmengine would skip it with a warning.
"""
from collections import OrderedDict
from fnmatch import fnmatchcase
from typing import Dict, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper

from acsdet.registry import HOOKS
from acsdet.utils.safe_checkpoint import checkpoint_state_dict

__all__ = ['CheckpointMatchHook', 'CheckpointMismatchError', 'verify_checkpoint',
           'check_checkpoint_fits', 'ALLOW_MISSING']

#: Model tensors a checkpoint may lack under the inference rule (``fnmatch`` patterns).
ALLOW_MISSING = ('*num_batches_tracked', )


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not fit the model: other names, shapes or dtypes."""


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Check ``load_from`` / ``--resume`` / ``tools/test.py`` checkpoints against the model.

    mmengine 0.10.7 loads checkpoints with ``strict=False``: a checkpoint of another
    architecture only logs "missing keys" and the run goes on with random weights (and reports
    a meaningless metric), and ``Tensor.copy_`` silently casts an integer tensor into a float
    weight.  This hook calls :func:`verify_checkpoint` before the weights are copied: a
    one-line :class:`CheckpointMismatchError` when fewer than ``min_fraction`` of the model's
    tensors are found with the right name and shape, or when a floating tensor gets an integer
    one.  Partial loads (a head with another number of classes, an extra layer) stay allowed,
    as in mmengine.

    Args:
        min_fraction (float): Least fraction of the model's state-dict tensors that the
            checkpoint must hold with the same name and shape. Default 0.5.
    """
    priority = 'VERY_HIGH'

    def __init__(self, min_fraction: float = 0.5) -> None:
        self.min_fraction = float(min_fraction)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        verify_checkpoint(runner.model, checkpoint, getattr(runner, '_load_from', None),
                          min_fraction=self.min_fraction)


def _shape(value) -> Optional[tuple]:
    shape = getattr(value, 'shape', None)
    return None if shape is None else tuple(shape)


def _dtype_problem(value, own: torch.Tensor) -> Optional[str]:
    """Why ``value`` cannot be copied into ``own`` (None when it can)."""
    if not isinstance(value, torch.Tensor):
        kind = type(value)
        return (f'is a {kind.__module__}.{kind.__qualname__} in the checkpoint where the model '
                f'has a {str(own.dtype)[6:]} tensor')
    got, want = str(value.dtype)[6:], str(own.dtype)[6:]
    if own.is_floating_point():
        ok = value.is_floating_point()
    elif own.is_complex():
        ok = value.is_complex()
    else:  # integer / bool: integers, or floats holding whole numbers
        ok = not value.is_complex() and (
            not value.is_floating_point()
            or bool(torch.isfinite(value).all() and torch.equal(value, value.trunc())))
    return None if ok else f'is {got} in the checkpoint where the model has {want}'


def verify_checkpoint(model: torch.nn.Module,
                      checkpoint,
                      filename: Optional[str] = None,
                      min_fraction: Optional[float] = 0.5,
                      allow_missing: Sequence[str] = ALLOW_MISSING,
                      allow_unexpected: bool = True) -> Dict[str, object]:
    """Raise a one-line :class:`CheckpointMismatchError` unless ``checkpoint`` fits ``model``.

    The rules are in the module docstring.

    Args:
        model (nn.Module): The model (a DDP or TTA wrapper is unwrapped).
        checkpoint (dict): A loaded checkpoint (``state_dict`` / ``model`` inside, or a bare
            state dict).
        filename (str, optional): Named in the message (``(in memory)`` when None).
        min_fraction (float | None): The Runner rule (least fraction of the model's tensors
            found with the same name and shape), or None for the inference rule (every tensor
            outside ``allow_missing``). Default 0.5.
        allow_missing (Sequence[str]): ``fnmatch`` patterns of model tensors the inference
            rule lets the file lack. Default :data:`ALLOW_MISSING`.
        allow_unexpected (bool): Inference rule: accept tensors of the file that the model
            lacks. Default True.

    Returns:
        OrderedDict: The checkpoint's state dict, ``module.`` stripped from its keys (its
        ``_metadata`` kept), ready for ``load_state_dict``.

    Raises:
        CheckpointMismatchError: Names, shapes or dtypes do not fit (a ``ValueError``).
        acsdet.utils.safe_checkpoint.CheckpointFormatError: Not a dict of tensors.
    """
    # a DDP wrapper, or a test-time-augmentation wrapper (``tools/test.py --tta``), whose
    # checkpoint is the wrapped detector's (mmengine's loader unwraps both the same way)
    if is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    name = filename or '(in memory)'
    raw = checkpoint_state_dict(checkpoint, filename)
    state = OrderedDict((k[7:] if k.startswith('module.') else k, v) for k, v in raw.items())
    state._metadata = getattr(raw, '_metadata', OrderedDict())  # BatchNorm versions etc.
    own = model.state_dict()
    if not own:
        return state
    owner = type(model).__name__
    fit = [k for k, v in own.items() if k in state and _shape(state[k]) == tuple(v.shape)]
    missing = [k for k in own if k not in state]
    shaped = [k for k in own if k in state and _shape(state[k]) != tuple(own[k].shape)]
    if min_fraction is not None:
        if len(fit) < min_fraction * len(own):
            example = (missing or shaped)[0]
            raise CheckpointMismatchError(
                f'checkpoint {name} does not fit {owner}: only {len(fit)} of its {len(own)} '
                f'tensors match by name and shape ({len(missing)} missing, {len(shaped)} with '
                f'another shape, e.g. {example!r}); was it saved from another architecture or '
                'config?')
    else:
        missing = [k for k in missing if not any(fnmatchcase(k, p) for p in allow_missing)]
        unexpected = [] if allow_unexpected else [k for k in state if k not in own]
        parts = []
        if missing:
            parts.append(f'{len(missing)} of its {len(own)} tensors '
                         f'{"is" if len(missing) == 1 else "are"} missing (e.g. {missing[0]!r})')
        if shaped:
            k = shaped[0]
            parts.append(f'{len(shaped)} of its {len(own)} tensors '
                         f'{"has" if len(shaped) == 1 else "have"} another shape (e.g. {k!r}: '
                         f'{_shape(state[k])} in the file, {tuple(own[k].shape)} in the model)')
        if unexpected:
            one = len(unexpected) == 1
            parts.append(f'{len(unexpected)} tensor{"" if one else "s"} of the file '
                         f'{"is" if one else "are"} not in the model (e.g. {unexpected[0]!r})')
        if parts:
            raise CheckpointMismatchError(
                f"checkpoint {name}: not a checkpoint of the config's model ({owner}): "
                f'{"; ".join(parts)}; inference loads every tensor (only names matching '
                f'{list(allow_missing)} may be missing): was it saved from another '
                'architecture or config?')
    wrong = [(k, p) for k in fit for p in (_dtype_problem(state[k], own[k]), ) if p]
    if wrong:
        key, problem = wrong[0]
        more = (f' (and {len(wrong) - 1} more tensor{"s" if len(wrong) > 2 else ""})'
                if len(wrong) > 1 else '')
        raise CheckpointMismatchError(
            f'checkpoint {name}: tensor {key!r} {problem}{more}; a floating weight needs a '
            'floating tensor (float16, bfloat16 and float64 are cast), an integer buffer an '
            'integer one: was the checkpoint converted to another dtype?')
    return state


def check_checkpoint_fits(model, checkpoint: dict, min_fraction: float = 0.5,
                          filename: Optional[str] = None) -> None:
    """The Runner rule of :func:`verify_checkpoint` (kept for its former callers).

    Args:
        model (nn.Module): The model (a DDP or TTA wrapper is unwrapped).
        checkpoint (dict): A loaded checkpoint (``state_dict`` inside, or a bare state dict).
        min_fraction (float): As in :class:`CheckpointMatchHook`. Default 0.5.
        filename (str, optional): Named in the message.
    """
    verify_checkpoint(model, checkpoint, filename, min_fraction=min_fraction)
