"""The ACS authors' proof-of-concept U-Net (ACS paper section IV-A, Table IV), in 2D.

Its layout is the one of ``experiments/poc/unet.py`` in the authors' public code
(M3DV/ACSConv): two encoder blocks (two 3x3 conv + BN + ReLU each, then a 2x2 max-pool), one
decoder block at half resolution on the concatenation of the first block's (pooled) output
and the x2-upsampled second block's output, a x2 upsampling back to the input size and a 1x1
conv to the classes; every conv has a bias.  At the default widths (64, 128) and decoder
widths (64, 32) it has 389,187 parameters with 3 classes (the 2D pretraining) and 389,286
with 6 (1.56 MB in float32, the paper's "1.6 Mb"); converted to 3x3x3 kernels, 1,164,582
(4.66 MB, the paper's "4.7 Mb").  ACS and 2.5D keep the 2D count.

Every spatial op is a module, so :func:`acsdet.models.converters.convert_2d_to_3d` converts
the whole network (bilinear upsampling becomes trilinear), as for :class:`UNet2D`.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from acsdet.registry import MODELS

__all__ = ['PocUNet2D']


def _conv_bn_relu(in_channels: int, out_channels: int) -> list:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True)
    ]


@MODELS.register_module()
class PocUNet2D(BaseModule):
    """The ACS authors' proof-of-concept U-Net, convertible to 3D as a whole.

    Args:
        in_channels (int): Input channels. Defaults to 1.
        num_classes (int): Output channels of the 1x1 classifier. Defaults to 6.
        widths (Sequence[int]): Channels of the two encoder blocks. Defaults to (64, 128).
        decoder_widths (Sequence[int]): Channels of the decoder block's two convs (the second
            is the width of the features the classifier reads). Defaults to (64, 32).
        init_cfg (dict | None): mmengine init config. Defaults to None (PyTorch's default
            initialisation, as the authors').

    Shape:
        x (Tensor): (B, in_channels, H, W) -> logits (B, num_classes, H, W); after
        ``convert_2d_to_3d`` (B, in_channels, D, H, W) -> (B, num_classes, D, H, W).  Every
        spatial size must be divisible by 4.  :meth:`features` gives the decoder block's
        output at half resolution, (B, decoder_widths[-1], H / 2, W / 2).
    """

    size_divisor = 4

    def __init__(self,
                 in_channels: int = 1,
                 num_classes: int = 6,
                 widths: Sequence[int] = (64, 128),
                 decoder_widths: Sequence[int] = (64, 32),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        widths, decoder_widths = [int(w) for w in widths], [int(w) for w in decoder_widths]
        if len(widths) != 2 or len(decoder_widths) != 2 or min(widths + decoder_widths) < 1:
            raise ValueError(f'PocUNet2D: widths and decoder_widths must be two positive '
                             f'channel counts each, got {widths} and {decoder_widths}')
        self.in_channels, self.num_classes = in_channels, num_classes
        self.widths, self.decoder_widths = tuple(widths), tuple(decoder_widths)
        self.encoder1 = nn.Sequential(*_conv_bn_relu(in_channels, widths[0]),
                                      *_conv_bn_relu(widths[0], widths[0]), nn.MaxPool2d(2, 2))
        self.encoder2 = nn.Sequential(*_conv_bn_relu(widths[0], widths[1]),
                                      *_conv_bn_relu(widths[1], widths[1]), nn.MaxPool2d(2, 2))
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
        self.decoder = nn.Sequential(*_conv_bn_relu(widths[0] + widths[1], decoder_widths[0]),
                                     *_conv_bn_relu(decoder_widths[0], decoder_widths[1]))
        self.classifier = nn.Conv2d(decoder_widths[1], num_classes, 1)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() not in (4, 5) or any(s % self.size_divisor for s in x.shape[2:]):
            raise ValueError(f'PocUNet2D: input must be (B, C, [D,] H, W) with every spatial '
                             f'size divisible by {self.size_divisor}, got shape '
                             f'{tuple(x.shape)}')

    def features(self, x: torch.Tensor, inner_upsample: Optional[str] = None) -> torch.Tensor:
        """The decoder block's output, the features the classifier reads after the last
        upsampling.

        Args:
            x (Tensor): (B, C, [D,] H, W).
            inner_upsample (str | None): Mode of the x2 upsampling of the second block's
                output (``F.interpolate``): None uses the network's own (bilinear /
                trilinear); ``'nearest'`` is what the authors' feature-mAUC notebook does.

        Returns:
            Tensor: (B, decoder_widths[-1], [D / 2,] H / 2, W / 2).
        """
        self._check(x)
        skip = self.encoder1(x)
        deep = self.encoder2(skip)
        deep = self.up(deep) if inner_upsample is None else \
            F.interpolate(deep, scale_factor=2, mode=inner_upsample)
        return self.decoder(torch.cat([skip, deep], dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, [D,] H, W) -> logits (B, num_classes, [D,] H, W)."""
        return self.classifier(self.up(self.features(x)))
