"""Refuse a checkpoint that does not fit the model instead of running with random weights."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from acsdet.registry import HOOKS

__all__ = ['CheckpointMatchHook', 'CheckpointMismatchError']


class CheckpointMismatchError(ValueError):
    """A checkpoint whose tensors mostly do not fit the model (another architecture)."""


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Check ``load_from`` / ``--resume`` / ``tools/test.py`` checkpoints against the model.

    mmengine 0.10.7 loads checkpoints with ``strict=False``: a checkpoint of another
    architecture only logs "missing keys" and the run goes on with random weights (and reports
    a meaningless metric).  This hook compares names and shapes before the weights are copied
    and raises a one-line :class:`CheckpointMismatchError` when fewer than ``min_fraction`` of
    the model's tensors are found with the right shape.  Partial loads (a head with another
    number of classes, an extra layer) stay allowed, as in mmengine.

    Args:
        min_fraction (float): Least fraction of the model's state-dict tensors that the
            checkpoint must hold with the same name and shape. Default 0.5.
    """
    priority = 'VERY_HIGH'

    def __init__(self, min_fraction: float = 0.5) -> None:
        self.min_fraction = float(min_fraction)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        check_checkpoint_fits(runner.model, checkpoint, self.min_fraction,
                              getattr(runner, '_load_from', None))


def check_checkpoint_fits(model, checkpoint: dict, min_fraction: float = 0.5,
                          filename: Optional[str] = None) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``checkpoint`` fits ``model``.

    Args:
        model (nn.Module): The model (a DDP wrapper is unwrapped).
        checkpoint (dict): A loaded checkpoint (``state_dict`` inside, or a bare state dict).
        min_fraction (float): As in :class:`CheckpointMatchHook`. Default 0.5.
        filename (str, optional): Named in the message.
    """
    if is_model_wrapper(model):
        model = model.module
    state = checkpoint.get('state_dict', checkpoint)
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    own = model.state_dict()
    if not own:
        return
    fit = sum(1 for k, v in own.items()
              if tuple(getattr(state.get(k), 'shape', (-1, ))) == tuple(v.shape))
    if fit < min_fraction * len(own):
        missing = [k for k in own if k not in state]
        shaped = [k for k in own if k in state and k not in missing
                  and tuple(getattr(state[k], 'shape', ())) != tuple(own[k].shape)]
        example = (missing or shaped)[0]
        raise CheckpointMismatchError(
            f'checkpoint {filename or "(in memory)"} does not fit {type(model).__name__}: only '
            f'{fit} of its {len(own)} tensors match by name and shape ({len(missing)} missing, '
            f'{len(shaped)} with another shape, e.g. {example!r}); was it saved from another '
            'architecture or config?')
