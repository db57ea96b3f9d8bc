"""3D convolution with a K x K x K kernel built from 2D-style arguments, with I3D inflation.

I3D ("Quo vadis, action recognition?", Carreira & Zisserman 2017) turns a pretrained 2D
kernel (Cout, Cin, K, K) into a 3D one by repeating it along a new depth axis and dividing by
the depth, so a depth-constant input gives the 2D response (paper section III-A, approach 1).
"""
from typing import Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .conv_args import IntOr3, to_3tuple, to_kernel_size
from .flat_conv import float32_input, keeps_float32

__all__ = ['inflate_2d_weight', 'InflatedConv3d']


def inflate_2d_weight(weight2d: torch.Tensor, depth: int) -> torch.Tensor:
    """I3D-inflate a 2D kernel.

    Args:
        weight2d (Tensor): (Cout, Cin, Kh, Kw).
        depth (int): Size Kd of the new depth axis.

    Returns:
        Tensor: (Cout, Cin, Kd, Kh, Kw), ``weight2d`` repeated ``depth`` times along dim 2 and
        divided by ``depth``.
    """
    if weight2d.dim() != 4:
        raise ValueError(f'expected a 2D kernel (Cout, Cin, Kh, Kw), got shape '
                         f'{tuple(weight2d.shape)}')
    if depth < 1:
        raise ValueError(f'depth must be positive, got {depth}')
    return weight2d.unsqueeze(2).repeat(1, 1, depth, 1, 1) / depth


class InflatedConv3d(nn.Conv3d):
    """``nn.Conv3d`` with a K x K x K kernel, taking ``nn.Conv2d``-style arguments.

    Loading a state dict whose ``weight`` is a 2D kernel (Cout, Cin / groups, K, K) inflates
    it with :func:`inflate_2d_weight` (I3D), so 2D checkpoints load directly.

    Args:
        in_channels (int): Cin.
        out_channels (int): Cout.
        kernel_size (int | tuple[int, int]): K or (K, K); the kernel is K x K x K.
        stride (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        padding (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 0.
        dilation (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        groups (int): Defaults to 1.
        bias (bool): Defaults to True.
        padding_mode (str): As ``nn.Conv3d``. Defaults to ``'zeros'``.

    Shape:
        x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo).

    Under CPU bfloat16 autocast (``--amp`` on the CPU) it computes in float32
    (``flat_conv.keeps_float32``): oneDNN's bfloat16 ``conv3d`` was up to 2.6x slower than
    float32 on the shipped shapes and its weight gradient NaN on some
    (``benchmarks/bench_amp.py``).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, tuple],
                 stride: IntOr3 = 1,
                 padding: IntOr3 = 0,
                 dilation: IntOr3 = 1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros',
                 device=None,
                 dtype=None) -> None:
        k = to_kernel_size(kernel_size)
        super().__init__(in_channels, out_channels, (k, k, k), to_3tuple(stride, 'stride'),
                         to_3tuple(padding, 'padding'), to_3tuple(dilation, 'dilation'),
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo)."""
        if keeps_float32(x, self.groups, self.weight, self.stride):
            with torch.autocast('cpu', enabled=False):
                return self._conv_forward(float32_input(x), self.weight, self.bias)
        return super().forward(x)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'weight'
        weight = state_dict.get(key)
        if weight is not None and weight.dim() == 4 and \
                weight.shape == self.weight.shape[:2] + self.weight.shape[3:]:
            state_dict[key] = inflate_2d_weight(weight, self.kernel_size[0])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


MODELS.register_module('InflatedConv3d', module=InflatedConv3d)
