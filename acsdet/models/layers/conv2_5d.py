"""2.5D convolution: a 2D kernel used as a (1, K, K) 3D kernel (the "2.5D" / AH-Net-like
counterpart of paper section III-B1).

Its output shape is that of a K x K x K ``nn.Conv3d`` with the same arguments (the kernel sits
on the centre depth plane), so it is interchangeable with :class:`ACSConv`; with the usual
"same" depth padding ``dilation * (K - 1) / 2`` this is exactly ``F.conv3d`` with a
(1, K, K) kernel and no depth padding.  Equivalently, it is an ACS convolution whose
output channels are all axial.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS

from .acs_conv import acs_conv3d
from .conv2d_weight_3d import Conv2dWeight3d
from .conv_args import IntOr3, flat_axis_plan, to_3tuple, view_input
from .flat_conv import flat_conv3d, float32_input, keeps_float32, routes_bf16

__all__ = ['conv2_5d', 'Conv2_5d']


def conv2_5d(x: torch.Tensor,
             weight: torch.Tensor,
             bias: Optional[torch.Tensor] = None,
             stride: IntOr3 = 1,
             padding: IntOr3 = 0,
             dilation: IntOr3 = 1,
             groups: int = 1) -> torch.Tensor:
    """2.5D convolution of a 3D input with a 2D weight.

    Args:
        x (Tensor): (B, Cin, D, H, W).
        weight (Tensor): (Cout, Cin / groups, K, K).
        bias (Tensor, optional): (Cout, ). Defaults to None.
        stride, padding, dilation (int | tuple[int, int, int]): Per axis (D, H, W).
            Defaults to 1, 0, 1.
        groups (int): Defaults to 1.

    Returns:
        Tensor: (B, Cout, Do, Ho, Wo), the shape of a K x K x K ``F.conv3d``.

    On the CPU in bfloat16 (autocast or bfloat16 tensors) the depth is folded into the batch
    and the conv runs as ``F.conv2d`` (:func:`acsdet.models.layers.flat_conv.flat_conv3d`):
    oneDNN's bfloat16 ``conv3d`` backward is slow, wrong (NaN weight gradients) or crashes on
    these shapes.  Under autocast a float32 input with at most 3 channels (the stem) runs in
    float32 (``flat_conv.keeps_float32``), and so do the convs that measured slower in
    bfloat16 (pointwise kernels, fewer than ``flat_conv.FLOAT32_MAX_MACS`` multiply-adds).
    """
    stride, padding = to_3tuple(stride, 'stride'), to_3tuple(padding, 'padding')
    dilation = to_3tuple(dilation, 'dilation')
    if x.dim() != 5:
        raise ValueError(f'expected input of shape (B, C, D, H, W), got {tuple(x.shape)}')
    if keeps_float32(x, groups, weight, stride):
        with torch.autocast('cpu', enabled=False):
            return conv2_5d(float32_input(x), weight, bias, stride, padding, dilation, groups)
    if routes_bf16(x):
        return flat_conv3d(x, weight, 2, bias, stride, padding, dilation, groups)
    plan = flat_axis_plan(x.shape[2], weight.shape[-1], stride[0], padding[0], dilation[0])
    if not plan.full:  # some depth positions read only padding (unusual padding): rare path
        return acs_conv3d(x, weight, bias, stride, padding, dilation, groups,
                          kernel_split=(weight.shape[0], 0, 0))
    return F.conv3d(view_input(x, 2, plan), weight.unsqueeze(2), bias, stride,
                    (0, padding[1], padding[2]), dilation, groups)


class Conv2_5d(Conv2dWeight3d):
    """2.5D convolution layer: an ``nn.Conv2d`` whose (1, K, K) kernels act on 3D input.

    Stores the 2D weight (Cout, Cin / groups, K, K), so a 2D state dict loads unchanged.

    Args:
        in_channels (int): Cin.
        out_channels (int): Cout.
        kernel_size (int | tuple[int, int]): K or (K, K).
        stride (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        padding (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 0.
        dilation (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        groups (int): Defaults to 1.
        bias (bool): Defaults to True.
        padding_mode (str): Only ``'zeros'``. Defaults to ``'zeros'``.

    Shape:
        x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo), as ``nn.Conv3d`` with a
        K x K x K kernel and the same stride / padding / dilation.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo)."""
        return conv2_5d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


MODELS.register_module('Conv2_5d', module=Conv2_5d)
