"""Save the random number generators in every checkpoint and restore them on resume."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from acsdet.registry import HOOKS

__all__ = ['RNGStateHook']


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make ``--resume`` continue with the random streams of the interrupted run.

    mmengine 0.10.7 saves the seed in a checkpoint but not the generator states: a resumed run
    re-seeds, so the RPN / RoI samplers (``torch.randperm``) and the random augmentations
    (``numpy.random`` / ``random``) draw other numbers than the run that was killed, and the
    weights drift apart.  This hook writes the CPU states of ``random``, ``numpy.random`` and
    ``torch`` (plus CUDA where present) into ``checkpoint['rng_state']`` as plain tensors (so
    the weights-only loader accepts them) and puts them back when training restarts:

    * ``IterBasedTrainLoop``: mmengine re-loads the batches already trained ("Advance
      dataloader N steps"), which consumes random numbers; the states are restored right
      after that advance, before the first new batch is loaded.
    * ``EpochBasedTrainLoop``: restored before the first resumed epoch.

    Why a hook of our own: neither mmengine nor mmdet keeps generator states (checked in
    mmengine 0.10.7).  Data loading must run in the main process (``num_workers=0``): worker
    processes seed their own generators.

    Args:
        None.
    """
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._saved: Optional[dict] = None

    # ------------------------------------------------------------------ save
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        version, py_state, py_gauss = random.getstate()
        state = dict(
            torch=torch.get_rng_state(),
            numpy_keys=torch.from_numpy(keys.astype(np.int64)),
            numpy_pos=int(pos), numpy_has_gauss=int(has_gauss), numpy_gauss=float(gauss),
            python=torch.tensor(py_state, dtype=torch.int64), python_version=int(version),
            python_gauss=float('nan') if py_gauss is None else float(py_gauss))
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    # --------------------------------------------------------------- restore
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._saved = checkpoint.get('rng_state')
        if self._saved is None and checkpoint.get('meta', {}).get('iter', 0):
            print_log('RNGStateHook: the checkpoint holds no generator states; the resumed '
                      'run draws other random numbers than the interrupted one',
                      logger='current')

    def before_train_epoch(self, runner) -> None:
        if self._saved is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RestoreAfter(loop.dataloader_iterator, loop.iter,
                                                     self._saved)
        else:
            _restore(self._saved)
        self._saved = None


def _restore(state: dict) -> None:
    torch.set_rng_state(state['torch'])
    np.random.set_state(('MT19937', state['numpy_keys'].numpy().astype(np.uint32),
                         state['numpy_pos'], state['numpy_has_gauss'], state['numpy_gauss']))
    gauss = state['python_gauss']
    random.setstate((state['python_version'], tuple(int(v) for v in state['python']),
                     None if gauss != gauss else gauss))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfter:
    """Iterator proxy: pass ``skip`` batches through, then restore the generator states."""

    def __init__(self, iterator, skip: int, state: dict) -> None:
        self._iterator, self._left, self._state = iterator, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self._left == 0 and self._state is not None:
            _restore(self._state)
            self._state = None
        self._left -= 1
        return next(self._iterator)
