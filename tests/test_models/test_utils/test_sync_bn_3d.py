"""AllReduceSyncBatchNorm on 2 CPU processes (gloo) equals one BatchNorm3d over the whole batch."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmcv.cnn import build_norm_layer
from torch import nn

from acsdet.models.utils import (AllReduceSyncBatchNorm, SyncBNDistributedDataParallel,
                                 convert_sync_bn_3d)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _global_batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 2, 5, 4, generator=g) * 3 + 1  # (B, C, D, H, W)
    w = torch.randn(4, 3, 2, 5, 4, generator=g)  # weights of a non-trivial loss
    return x, w


def _reference():
    """One BatchNorm3d over all 4 samples: output, grads, running stats."""
    torch.manual_seed(1)
    bn = nn.BatchNorm3d(3, momentum=0.3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    x, w = _global_batch()
    x.requires_grad_(True)
    out = bn(x)
    # DDP averages rank gradients: the global objective is the mean of the 2 rank losses,
    # each the mean over its own 2 samples -> the mean over all 4 samples
    (out * w).mean().backward()
    return dict(out=out.detach(), x_grad=x.grad, w_grad=bn.weight.grad, b_grad=bn.bias.grad,
                running_mean=bn.running_mean, running_var=bn.running_var)


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        torch.manual_seed(1)
        bn = nn.BatchNorm3d(3, momentum=0.3)
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-1, 1)
        model = SyncBNDistributedDataParallel(nn.Sequential(bn))
        sbn = model.module[0]
        x, w = _global_batch()
        x = x[2 * rank:2 * rank + 2].clone().requires_grad_(True)
        out = model(x)
        (out * w[2 * rank:2 * rank + 2]).mean().backward()  # DDP averages param grads
        torch.save(dict(cls_name=type(sbn).__name__, out=out.detach(), x_grad=x.grad,
                        w_grad=sbn.weight.grad, b_grad=sbn.bias.grad,
                        running_mean=sbn.running_mean, running_var=sbn.running_var),
                   os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_sync_bn_matches_global_batch_norm_on_two_gloo_processes(tmp_path):
    ref = _reference()
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method='spawn')
    got = {r: torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in (0, 1)}
    assert got[0]['cls_name'] == got[1]['cls_name'] == 'AllReduceSyncBatchNorm'
    out = torch.cat([got[0]['out'], got[1]['out']])
    x_grad = torch.cat([got[0]['x_grad'], got[1]['x_grad']])
    # the input gradient of a rank is that of its own loss; the global objective is the mean
    # of the 2 rank losses, so the reference input gradient is half of it
    torch.testing.assert_close(out, ref['out'], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x_grad / 2, ref['x_grad'], rtol=1e-5, atol=1e-6)
    for rank in (0, 1):
        for key in ('w_grad', 'b_grad', 'running_mean', 'running_var'):
            torch.testing.assert_close(got[rank][key], ref[key], rtol=1e-5, atol=1e-6,
                                       msg=f'rank {rank} {key}')


def test_convert_keeps_weights_buffers_and_mode():
    model = nn.Sequential(nn.Conv3d(1, 4, 3), nn.BatchNorm3d(4), nn.ReLU(),
                          nn.Sequential(nn.BatchNorm2d(4)), nn.GroupNorm(2, 4))
    with torch.no_grad():
        model[1].weight.uniform_()
        model[1].running_mean.uniform_()
    model[1].weight.requires_grad_(False)
    model[3][0].eval()
    weight, running_mean = model[1].weight, model[1].running_mean.clone()
    out = convert_sync_bn_3d(model)
    assert out is model
    assert isinstance(model[1], AllReduceSyncBatchNorm)
    assert isinstance(model[3][0], AllReduceSyncBatchNorm)
    assert isinstance(model[4], nn.GroupNorm)  # not a batch norm: untouched
    assert model[1].weight is weight and not model[1].weight.requires_grad
    torch.testing.assert_close(model[1].running_mean, running_mean)
    assert model[1].training and not model[3][0].training


def test_single_process_behaves_like_batch_norm():
    """Without a process group (or in eval) the layer is a plain BatchNorm3d."""
    bn = nn.BatchNorm3d(3)
    sbn = convert_sync_bn_3d(nn.Sequential(nn.BatchNorm3d(3)))[0]
    x = torch.randn(2, 3, 2, 4, 4)
    torch.testing.assert_close(sbn(x), bn(x))
    torch.testing.assert_close(sbn.running_var, bn.running_var)
    sbn.eval(), bn.eval()
    torch.testing.assert_close(sbn(x), bn(x))


def test_registered_as_norm_layer():
    name, layer = build_norm_layer(dict(type='SyncBN3d'), 8)
    assert isinstance(layer, AllReduceSyncBatchNorm) and name == 'bn'
    assert layer.weight.shape == (8, )


def test_bad_input_errors():
    sbn = AllReduceSyncBatchNorm(3)
    with pytest.raises(ValueError, match='Expected more than 1 value per channel'):
        sbn(torch.randn(1, 3, 1, 1, 1))
    with pytest.raises(ValueError, match=r'expected at least 2D input \(got 1D input\)'):
        sbn(torch.randn(3))
