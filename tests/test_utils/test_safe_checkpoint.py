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



def test_read_state_dict_unwraps_every_layout(tmp_path):
    """Plain, mmengine ('state_dict' + meta with a message hub), 'model'-wrapped and DDP
    ('module.') checkpoints give the same flat dict; a common 'backbone.' is stripped only
    when asked and only when every key has it; bad files are one-line errors."""
    from mmengine.logging import MessageHub

    from acsdet.utils.safe_checkpoint import read_state_dict
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    flat = net.state_dict()
    hub = MessageHub.get_instance('test_read_state_dict')
    hub.update_scalar('train/loss', 1.0)
    layouts = {
        'plain': flat,
        'mmengine': dict(meta=dict(epoch=3), message_hub=hub.state_dict(),
                         state_dict={f'backbone.{k}': v for k, v in flat.items()}),
        'model': dict(model=flat, epoch=3),
        'ddp': {f'module.{k}': v for k, v in flat.items()},
    }
    for name, content in layouts.items():
        path = str(tmp_path / f'{name}.pth')
        torch.save(content, path)
        state = read_state_dict(path)
        assert list(state) == list(flat), name
        assert all(torch.equal(state[k], flat[k]) for k in flat), name
    kept = read_state_dict(str(tmp_path / 'mmengine.pth'), strip_common=())
    assert all(k.startswith('backbone.') for k in kept)
    # a prefix only some keys carry is kept
    torch.save({'backbone.a': torch.zeros(1), 'head.b': torch.zeros(1)}, tmp_path / 'mixed.pth')
    assert sorted(read_state_dict(str(tmp_path / 'mixed.pth'))) == ['backbone.a', 'head.b']
    with pytest.raises(FileNotFoundError, match='checkpoint file not found: .*nothing.pth'):
        read_state_dict(str(tmp_path / 'nothing.pth'))
    torch.save([torch.zeros(1)], tmp_path / 'list.pth')
    with pytest.raises(KeyError, match='list.pth: expected a state dict, got list'):
        read_state_dict(str(tmp_path / 'list.pth'))
