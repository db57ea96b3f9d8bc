"""A plain 2D U-Net built only from modules that :func:`acsdet.models.converters.convert_2d_to_3d`
converts, so one network is the 2D model, and after conversion its ACS / 2.5D / 3D twin.

The ACS paper's proof-of-concept experiment (section IV-A) pretrains a U-Net (Ronneberger et
al. 2015, ref. [59]) on 2D shapes and converts the whole network to 3D.  The authors' own
network is :class:`PocUNet2D` (from their public code); this is the classic layout at a
small width, this project's first reading of the paper: per stage two
3x3 conv-BN-ReLU layers, 2x2 max-pool down, x2 bilinear ``nn.Upsample`` + concatenation up,
a 1x1 classifier.  Every spatial op is a module (no functional ``F.interpolate`` /
``F.max_pool2d`` calls in ``forward``), which is what makes the forward dimension-agnostic:
the same ``forward`` runs on (B, C, H, W) before conversion and on (B, C, D, H, W) after.
Written here because mmseg (not an acsdet dependency) builds its UNet from ``ConvModule``s
and functional resizes that the converter cannot see.
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from acsdet.registry import MODELS

__all__ = ['UNet2D']


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    layers = []
    for i in range(2):
        layers += [
            nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1,
                      bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True)
        ]
    return nn.Sequential(*layers)


@MODELS.register_module()
class UNet2D(BaseModule):
    """Plain 2D U-Net, convertible to 3D as a whole (ACS / 2.5D / 3D).

    Args:
        in_channels (int): Input channels. Defaults to 1.
        num_classes (int): Output channels (logits) of the 1x1 classifier. Defaults to 2.
        widths (Sequence[int]): Channels of each stage, full resolution first; its length is
            the number of stages (>= 2). Defaults to (16, 32, 64, 128).
        init_cfg (dict | None): mmengine init config. Defaults to None.

    Shape:
        x (Tensor): (B, in_channels, H, W) -> logits (B, num_classes, H, W); after
        ``convert_2d_to_3d`` (B, in_channels, D, H, W) -> (B, num_classes, D, H, W).
        Every spatial size must be divisible by ``2 ** (len(widths) - 1)``.
    """

    def __init__(self,
                 in_channels: int = 1,
                 num_classes: int = 2,
                 widths: Sequence[int] = (16, 32, 64, 128),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        widths = [int(w) for w in widths]
        if len(widths) < 2:
            raise ValueError(f'UNet2D: needs at least 2 stages, got widths {widths}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widths = tuple(widths)
        self.size_divisor = 2**(len(widths) - 1)
        self.encoder = nn.ModuleList(
            _conv_block(in_channels if i == 0 else widths[i - 1], w) for i, w in enumerate(widths))
        self.pool = nn.MaxPool2d(2, 2)
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
        self.decoder = nn.ModuleList(
            _conv_block(widths[i + 1] + widths[i], widths[i])
            for i in range(len(widths) - 2, -1, -1))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, H, W) or, converted, (B, C, D, H, W) -> logits of that size."""
        bad = [s for s in x.shape[2:] if s % self.size_divisor]
        if x.dim() not in (4, 5) or bad:
            raise ValueError(f'UNet2D: input must be (B, C, [D,] H, W) with every spatial size '
                             f'divisible by {self.size_divisor}, got shape {tuple(x.shape)}')
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for block in self.decoder:
            x = block(torch.cat([self.up(x), skips.pop()], dim=1))
        return self.classifier(x)
