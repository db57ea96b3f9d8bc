"""Checkpoints load under weights_only=True; pickled code is refused with a clear error."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

from acsdet.utils import UnsafeCheckpointError, install_safe_checkpoint_loading


@pytest.fixture(autouse=True)
def _safe_loading():
    install_safe_checkpoint_loading()


def test_mmengine_style_checkpoint_loads(tmp_path):
    hub = MessageHub.get_instance('test_safe_checkpoint')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('seed', np.int64(7))
    ckpt = dict(
        meta=dict(message_hub=hub.state_dict(), best_score=np.float32(0.25),
                  dtype=np.dtype('float32'), hist=np.arange(3)),
        state_dict={'w': torch.ones(2)})
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)

    loaded = _load_checkpoint(str(path), map_location='cpu')
    buf = loaded['meta']['message_hub']['log_scalars']['train/loss']
    assert buf.mean() == pytest.approx(1.0)  # HistoryBuffer and its statistics methods
    assert buf.current() == pytest.approx(0.5)
    assert loaded['meta']['best_score'] == np.float32(0.25)
    assert loaded['meta']['dtype'] == np.float32
    assert loaded['meta']['message_hub']['runtime_info']['seed'] == 7
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_pickled_function_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'hook': os.system}, path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r'refusing to load checkpoint .*evil\.pth.*posix\.system'):
        _load_checkpoint(str(path), map_location='cpu')


class _GetattrGadget:
    """Pickles as getattr(numpy.ndarray, 'tofile'): a file-writing method."""

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


def test_getattr_gadget_is_refused(tmp_path):
    # acsdet allow-lists a *restricted* getattr for HistoryBuffer's statistics methods only
    path = tmp_path / 'gadget.pth'
    torch.save({'x': _GetattrGadget()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\('ndarray', 'tofile'\)"):
        _load_checkpoint(str(path), map_location='cpu')


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint file not found: .*nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'), map_location='cpu')

