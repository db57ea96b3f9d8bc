"""Validate the epoch a resumed run restarts from, so that a run killed between an epoch's
checkpoint and its validation loses no validation."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from acsdet.registry import HOOKS

__all__ = ['ValidateOnResumeHook']


@HOOKS.register_module()
class ValidateOnResumeHook(Hook):
    """On ``--resume``, validate the restored epoch before training continues.

    mmengine's ``CheckpointHook`` saves in ``after_train_epoch``, before that epoch's
    validation: a run killed in between resumes at the next epoch and the checkpointed epoch
    is never validated (its figures are missing from the logs, and with ``save_best`` the best
    epoch may be missed).  A checkpoint cannot tell whether its epoch was validated later (it
    was written before), so this hook validates the restored epoch on every resume when it
    was due a validation (``val_begin`` / ``val_interval``).  When the killed run had
    validated it, the logs hold that epoch twice, with the same figures (the same weights;
    the validation loop draws no random numbers with an unshuffled sampler); ``save_best``
    keeps its checkpoint (an equal score is no improvement).  Epoch-based loops only.

    Why a hook of our own: mmengine 0.10.7 has no such option (checked).
    """
    # after every other before_train (CheckpointHook's, VERY_LOW, sets up its file backend)
    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, EpochBasedTrainLoop) or runner.epoch == 0 or \
                runner.val_loop is None:
            return
        if runner.epoch >= loop.val_begin and runner.epoch % loop.val_interval == 0:
            print_log(f'ValidateOnResumeHook: validating the resumed epoch {runner.epoch} (a '
                      'run stopped after its checkpoint may not have)', logger='current')
            runner.val_loop.run()
