"""A torchvision ResNet without its classifier, with a configurable stem and per-stage strides
and dilations: the encoder of the ACS paper's LIDC (FCN) and LiTS (DeepLabv3+) networks.

Written here because torchvision's ``resnet`` cannot give a stride-1 stem without max-pool nor
per-stage strides, and mmdet's ``ResNet`` uses other parameter names than the torchvision
ImageNet files (``ResNetBody`` keeps torchvision's, so those files load directly).
"""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from torchvision.models import resnet18, resnet34, resnet50, resnet101

__all__ = ['ResNetBody']

_RESNETS = {18: resnet18, 34: resnet34, 50: resnet50, 101: resnet101}


def _set_layer_geometry(layer: nn.Sequential, name: str, stride: int, dilation: int,
                        first_dilation: int) -> None:
    """Stride / dilation of one ResNet stage, as torchvision's ``replace_stride_with_dilation``
    sets them: the first 3x3 conv of the first block gets ``stride`` and the previous stage's
    dilation, every other 3x3 conv ``dilation`` (padding = dilation: sizes kept)."""
    for i, block in enumerate(layer):
        convs = [m for m in (block.conv1, block.conv2) if m.kernel_size == (3, 3)]
        for j, conv in enumerate(convs):
            d = first_dilation if i == 0 and j == 0 else dilation
            conv.dilation, conv.padding = (d, d), (d, d)
        if i == 0:
            if stride != 1 and block.downsample is None:
                raise ValueError(f'ResNetBody: {name} has no projection shortcut and cannot '
                                 f'take stride {stride}')
            convs[0].stride = (stride, stride)
            block.stride = stride
            if block.downsample is not None:
                block.downsample[0].stride = (stride, stride)


class ResNetBody(nn.Module):
    """torchvision ResNet without ``avgpool`` / ``fc``, with a configurable stem and per-stage
    strides and dilations; its state dict keys are torchvision's (``conv1.weight``,
    ``layer1.0.conv1.weight``, ...), so a torchvision checkpoint loads directly.

    Args:
        depth (int): 18, 34, 50 or 101. Defaults to 18.
        in_channels (int): Input channels (1 for CT). Defaults to 1.
        stem_stride (int): Stride of the 7x7 stem convolution. Defaults to 2.
        max_pool (bool): Keep the 3x3 stride-2 max-pool after the stem. Defaults to True.
        strides (Sequence[int]): Strides of ``layer1`` .. ``layer4``. Defaults to (1, 2, 2, 2).
        dilations (Sequence[int]): Dilations of ``layer1`` .. ``layer4`` (the first block of a
            stage uses the previous stage's, as in torchvision). Defaults to (1, 1, 1, 1).

    Shape:
        x (Tensor): (B, in_channels, [D,] H, W) -> tuple of 5 feature maps: the stem output
        (after ReLU, before the max-pool) and the outputs of ``layer1`` .. ``layer4``; their
        channels are in ``out_channels``.
    """

    def __init__(self,
                 depth: int = 18,
                 in_channels: int = 1,
                 stem_stride: int = 2,
                 max_pool: bool = True,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1)) -> None:
        super().__init__()
        if depth not in _RESNETS:
            raise ValueError(f'ResNetBody: depth must be one of {sorted(_RESNETS)}, got {depth}')
        if len(strides) != 4 or len(dilations) != 4:
            raise ValueError(f'ResNetBody: strides and dilations need 4 values, got {strides}, '
                             f'{dilations}')
        tv = _RESNETS[depth](weights=None)
        self.depth = depth
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stem_stride, 3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode='fan_out', nonlinearity='relu')
        self.bn1, self.relu = tv.bn1, tv.relu
        self.maxpool = tv.maxpool if max_pool else nn.Identity()
        previous = 1
        for i, (stride, dilation) in enumerate(zip(strides, dilations), 1):
            layer = getattr(tv, f'layer{i}')
            _set_layer_geometry(layer, f'layer{i}', int(stride), int(dilation), previous)
            setattr(self, f'layer{i}', layer)
            previous = int(dilation)
        expansion = 4 if depth >= 50 else 1
        self.out_channels = (64, 64 * expansion, 128 * expansion, 256 * expansion,
                             512 * expansion)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """x (Tensor): (B, C, [D,] H, W) -> (stem, layer1, layer2, layer3, layer4) outputs."""
        stem = self.relu(self.bn1(self.conv1(x)))
        c1 = self.layer1(self.maxpool(stem))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        return stem, c1, c2, c3, self.layer4(c3)
