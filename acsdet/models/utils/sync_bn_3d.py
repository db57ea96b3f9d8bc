"""Synchronised batch norm for the 3D models on CPUs (gloo) as well as GPUs.

``torch.nn.SyncBatchNorm`` (torch 2.14) refuses CPU tensors ("SyncBatchNorm expected input
tensor to be on GPU ...") and ``DistributedDataParallel`` refuses it in CPU modules
("SyncBatchNorm layers only work with GPU modules"); mmcv's ``SyncBatchNorm`` op is CUDA-only.
So no maintained library synchronises batch statistics on a CPU process group, and
:class:`AllReduceSyncBatchNorm` does it by hand: in training, when a process group of more
than one rank exists, it all-reduces ``(sum x, sum x^2, count)`` per channel with torch's
differentiable sum all-reduce (:class:`_AllReduceSum`, any backend, gloo included), so
the output, the gradients and the running statistics equal those of one batch norm over the
whole global batch.  Otherwise (eval, one process) it is a plain batch norm.

:func:`convert_sync_bn_3d` swaps every batch norm of a model (``BN3d`` / ``nn.BatchNorm3d``
from :func:`acsdet.models.converters.convert_2d_to_3d`, mmcv's ``_BatchNormXd``, ``BatchNorm1d/2d``)
for :class:`AllReduceSyncBatchNorm`, keeping weights, buffers and ``requires_grad``.
:class:`SyncBNDistributedDataParallel` is mmengine's ``MMDistributedDataParallel`` that
converts the norms before wrapping: to torch's ``nn.SyncBatchNorm`` (fused CUDA kernels) when
the model is on a GPU, to :class:`AllReduceSyncBatchNorm` on CPUs.  Select it with
``model_wrapper_cfg = dict(type='SyncBNDistributedDataParallel')`` (docs/distributed.md); the
Runner builds wrappers only in distributed runs, so the same config trains in one process.
"""
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['AllReduceSyncBatchNorm', 'convert_sync_bn_3d', 'SyncBNDistributedDataParallel']


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose backward sums the gradients over ranks.

    The same as ``torch.distributed.nn.functional.all_reduce``, which torch 2.14 deprecates in
    favour of a private module; kept here (8 lines) so the layer does not depend on either.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        tensor = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _AllReduceSum.apply(grad, ctx.group), None


# Norm layers live in mmengine's root registry (where mmcv keeps 'BN3d' / 'SyncBN'), so
# ``build_norm_layer(dict(type='SyncBN3d'), C)`` works from any scope.
@MMENGINE_MODELS.register_module('SyncBN3d')
class AllReduceSyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics span all ranks, on any device / backend.

    Args:
        num_features (int): Channels C.
        eps (float): Defaults to 1e-5.
        momentum (float, optional): Running-stat momentum; None = cumulative average.
            Defaults to 0.1.
        affine (bool): Learnable weight and bias. Defaults to True.
        track_running_stats (bool): Defaults to True.
        process_group (ProcessGroup, optional): Ranks to synchronise; None = all.

    Shape:
        x (Tensor): (B, C, *), e.g. (B, C, D, H, W); output has the same shape.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Optional[object] = None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = process_group

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f'AllReduceSyncBatchNorm: expected at least 2D input '
                             f'(got {x.dim()}D input)')

    def _sync_needed(self) -> bool:
        if not self.training:
            return False
        if not (dist.is_available() and dist.is_initialized()):
            return False
        return dist.get_world_size(self.process_group or dist.group.WORLD) > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._sync_needed():  # eval mode or a single process: plain batch norm
            return super().forward(x)
        self._check_input_dim(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        channels = x.shape[1]
        flat = x.transpose(0, 1).reshape(channels, -1)  # (C, N_local)
        count = torch.full((1, ), float(flat.shape[1]), dtype=x.dtype)
        # one all-reduce of [sum, sum of squares, count]; its backward all-reduces the
        # gradients, which is exactly the gradient of one BN over the global batch
        stats = _AllReduceSum.apply(torch.cat([flat.sum(1), (flat * flat).sum(1), count]),
                                    self.process_group or dist.group.WORLD)
        total = stats[-1].detach()
        if float(total) < 2:
            raise ValueError(f'AllReduceSyncBatchNorm: need more than 1 value per channel '
                             f'over all ranks, got input of shape {tuple(x.shape)}')
        mean = stats[:channels] / total
        var = (stats[channels:2 * channels] / total - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                unbiased = var * (total / (total - 1))
                self.running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.detach() * momentum)
        shape = (1, channels) + (1, ) * (x.dim() - 2)
        out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_sync_bn_3d(module: nn.Module, process_group=None) -> nn.Module:
    """Replace every batch norm in ``module`` by :class:`AllReduceSyncBatchNorm`.

    Covers ``nn.BatchNorm1d/2d/3d`` (mmcv's ``BN``, ``BN2d``, ``BN3d``), mmcv's
    ``_BatchNormXd`` and plain ``nn.SyncBatchNorm``; weights, running statistics,
    ``requires_grad`` and train/eval mode are kept.  Layers that already are
    :class:`AllReduceSyncBatchNorm` are left alone.

    Args:
        module (nn.Module): Model (or a single norm layer).
        process_group (ProcessGroup, optional): Ranks to synchronise; None = all ranks.

    Returns:
        nn.Module: ``module`` converted in place (or the new layer if ``module`` itself is a
        batch norm).
    """
    if isinstance(module, _BatchNorm) and not isinstance(module, AllReduceSyncBatchNorm):
        if isinstance(module, nn.SyncBatchNorm):
            process_group = process_group or module.process_group
        new = AllReduceSyncBatchNorm(module.num_features, module.eps, module.momentum,
                                     module.affine, module.track_running_stats, process_group)
        if module.affine:
            with torch.no_grad():
                new.weight = module.weight
                new.bias = module.bias
        if module.track_running_stats:
            new.running_mean = module.running_mean
            new.running_var = module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        if hasattr(module, 'qconfig'):
            new.qconfig = module.qconfig
        return new
    for name, child in module.named_children():
        new_child = convert_sync_bn_3d(child, process_group)
        if new_child is not child:
            setattr(module, name, new_child)
    return module


@MMENGINE_MODEL_WRAPPERS.register_module()
class SyncBNDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` with synchronised batch norms.

    Batch norms become torch's ``nn.SyncBatchNorm`` if the model is on a GPU, else
    :class:`AllReduceSyncBatchNorm` (:func:`convert_sync_bn_3d`).

    Use it as ``model_wrapper_cfg = dict(type='SyncBNDistributedDataParallel')``; the Runner
    only builds it in distributed runs, so the same config trains unchanged in one process.

    Args:
        module (nn.Module): The model (already on its device).
        process_group (ProcessGroup, optional): Ranks whose BN statistics are synchronised.
        **kwargs: ``MMDistributedDataParallel`` / ``DistributedDataParallel`` arguments
            (``device_ids``, ``find_unused_parameters``, ...).
    """

    def __init__(self, module: nn.Module, process_group: Optional[object] = None, **kwargs):
        on_gpu = any(p.device.type != 'cpu' for p in module.parameters())
        if on_gpu:  # torch's fused CUDA kernels
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module, process_group)
        else:
            module = convert_sync_bn_3d(module, process_group)
        super().__init__(module=module, process_group=process_group, **kwargs)
