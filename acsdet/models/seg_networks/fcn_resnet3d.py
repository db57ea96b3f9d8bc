"""The ACS paper's LIDC-IDRI nodule segmentation model (section IV-B): a ResNet-18 FCN built in
2D, loaded with torchvision ImageNet weights, and converted as a whole to ACS / 2.5D / 3D.

Layout, from the paper and, where it is silent, the authors' code (``M3DV/ACSConv``,
``experiments/lidc/resnet.py``):

* Encoder: torchvision's ResNet with the first 7x7 convolution at stride 1 and no max-pool
  ("to keep higher resolution", paper); ``layer2`` and ``layer4`` downsample by 2, ``layer1``
  and ``layer3`` keep the resolution (authors' code: "downsample and upsample twice"), so the
  deepest features are at stride 4.
* Decoder ("FCN-like, with progressive upsampling twice"): x2 nearest upsampling of ``layer4``,
  concatenation with ``layer2`` and a 1x1 conv to 512 channels; x2 again, concatenation with
  the stem output and a 1x1 conv to 512; then the FCN head (3x3 conv to 512 / 4 + BN + ReLU,
  1x1 conv to the classes). The output is at the input resolution.

Every spatial operation is a module (no functional calls in ``forward``), so the same
``forward`` runs on (B, C, H, W) and, after :func:`acsdet.models.converters.convert_2d_to_3d`,
on (B, C, D, H, W).  The encoder (:class:`acsdet.models.backbones.ResNetBody`), the conversion
and the 2D weights (:class:`.ConvertibleNetwork`) are shared with
:mod:`.deeplabv3plus_resnet3d`.

Written here because torchvision's ``FCN`` / ``resnet`` cannot give a stride-1 stem without
max-pool, and mmseg (not an acsdet dependency) resizes with functional calls the converter
cannot see.
"""
import torch
import torch.nn as nn

from acsdet.models.backbones.resnet_body import ResNetBody
from acsdet.models.converters import ConvertibleNetwork
from acsdet.registry import MODELS

__all__ = ['FCNResNet3D']


@MODELS.register_module()
class FCNResNet3D(ConvertibleNetwork):
    """ResNet FCN of the ACS paper's LIDC experiment, in 2D or converted to 3D.

    Args:
        num_classes (int): Output channels (logits). Defaults to 2 (background, nodule).
        in_channels (int): Input channels. Defaults to 1.
        depth (int): ResNet depth, 18 in the paper (34, 50, 101 also work). Defaults to 18.
        channels (int): Width of the decoder's 1x1 fusion convs (authors' code: 512).
            Defaults to 512.
        conv_type (str): ``'acs'``, ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'``, or
            ``'2d'`` (no conversion: the 2D network). Defaults to ``'acs'``.
        i3d_inflate (bool): With ``conv_type='3d'``, I3D-inflate the 2D kernels (the paper's
            "3D p. I3D"); False keeps random 3x3x3 kernels. Defaults to True.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH)``: 2D weights
            applied by ``init_weights()`` (the paper's "p."; :class:`.ConvertibleNetwork`):
            a torchvision ResNet state dict of the same depth (the encoder; the decoder
            starts random as in the paper), or a checkpoint of this network in 2D (keys
            ``backbone.*``, ``fuse1.*``, ...: the whole network). Defaults to None ("r.").

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> logits (B, num_classes, D, H, W) (2D:
        (B, C, H, W) -> (B, K, H, W)); every spatial size divisible by 4.
    """

    size_divisor = 4
    #: checkpoint prefix -> module prefix: a checkpoint of this network in 2D, else a bare
    #: torchvision ResNet into the encoder
    key_map = {'backbone.': 'backbone.', 'fuse': 'fuse', 'head.': 'head.', '': 'backbone.'}

    def __init__(self,
                 num_classes: int = 2,
                 in_channels: int = 1,
                 depth: int = 18,
                 channels: int = 512,
                 conv_type: str = 'acs',
                 i3d_inflate: bool = True,
                 init_cfg=None) -> None:
        super().__init__(conv_type, i3d_inflate, init_cfg=init_cfg)
        self.num_classes = num_classes
        self.backbone = ResNetBody(depth, in_channels, stem_stride=1, max_pool=False,
                                   strides=(1, 2, 1, 2))
        stem_ch, _, c2_ch, _, c4_ch = self.backbone.out_channels
        self.up = nn.Upsample(scale_factor=2, mode='nearest')
        self.fuse1 = nn.Conv2d(c2_ch + c4_ch, channels, 1, bias=False)
        self.fuse2 = nn.Conv2d(stem_ch + channels, channels, 1, bias=False)
        inter = channels // 4
        self.head = nn.Sequential(
            nn.Conv2d(channels, inter, 3, padding=1, bias=False), nn.BatchNorm2d(inter),
            nn.ReLU(inplace=True), nn.Conv2d(inter, num_classes, 1))
        self.convert()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W) (2D: (B, C, H, W)) -> logits of the same size."""
        self.check_input(x)
        stem, _, c2, _, c4 = self.backbone(x)
        y = self.fuse1(torch.cat([c2, self.up(c4)], dim=1))
        y = self.fuse2(torch.cat([stem, self.up(y)], dim=1))
        return self.head(y)

