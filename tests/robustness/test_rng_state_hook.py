"""RNGStateHook alone: the states survive a weights-only checkpoint and are restored after the
batches that mmengine re-reads on resume (the end-to-end check is test_kill_resume.py)."""
import io
import random
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.runner import IterBasedTrainLoop

from acsdet.engine.hooks import RNGStateHook


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def _saved_checkpoint():
    hook, checkpoint = RNGStateHook(), {'meta': {'iter': 3}}
    random.gauss(0, 1)  # leaves a cached Gaussian in random's state
    hook.before_save_checkpoint(None, checkpoint)
    buf = io.BytesIO()
    torch.save(checkpoint, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)  # plain tensors and numbers only


def test_states_round_trip_through_weights_only_checkpoint():
    checkpoint = _saved_checkpoint()
    expected = (_draw(), random.gauss(0, 1))
    _draw()
    hook = RNGStateHook()
    hook.after_load_checkpoint(None, checkpoint)
    runner = SimpleNamespace(train_loop=SimpleNamespace(iter=0))
    hook.before_train_epoch(runner)  # epoch loop: restored at once
    assert (_draw(), random.gauss(0, 1)) == expected


def test_iteration_loop_restores_after_the_skipped_batches():
    checkpoint = _saved_checkpoint()
    expected = _draw()

    def batches():  # a data pipeline drawing random numbers for every batch
        while True:
            yield _draw()

    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    loop._iter, loop.dataloader_iterator = 2, batches()
    hook = RNGStateHook()
    hook.after_load_checkpoint(None, checkpoint)
    hook.before_train_epoch(SimpleNamespace(train_loop=loop))
    next(loop.dataloader_iterator), next(loop.dataloader_iterator)  # mmengine's advance
    assert next(loop.dataloader_iterator) == expected  # first new batch: the saved streams
