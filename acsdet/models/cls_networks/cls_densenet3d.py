"""DenseNet-121 as the ACS paper's LIDC classifier's network (appendix Table A5):
torchvision's ``densenet121`` features with the 7x7 stem at stride 1, no ``pool0`` and no
final ``norm5`` (the authors' ``ClsDenseNet``, M3DV/ACSConv ``experiments/lidc/densenet.py``:
the head pools the last dense block's output); the three transitions keep their 2x2 average
pooling, so a 48^3 nodule crop ends at 6^3."""
from collections import OrderedDict
from typing import Optional

import torch.nn as nn

from acsdet.registry import MODELS

from .torchvision_cls_network import TorchvisionClsNetwork, torchvision_features

__all__ = ['ClsDenseNet3D']


@MODELS.register_module()
class ClsDenseNet3D(TorchvisionClsNetwork):
    """DenseNet-121 feature extractor with the authors' stem.

    ``pool0`` and ``norm5`` become ``nn.Identity`` (torchvision's ``features.norm5.*`` in a
    checkpoint is then unused), the final ReLU of torchvision's forward is left out.

    Args:
        in_channels (int): Defaults to 1.
        conv_type (str): As :class:`TorchvisionClsNetwork`. Defaults to ``'acs'``.
        i3d_inflate (bool): Defaults to True.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH)``: torchvision's
            ``densenet121`` state dict. Defaults to None.

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> (B, 1024, D/8, H/8, W/8); sizes divisible
        by 8.
    """

    size_divisor = 8

    def __init__(self, in_channels: int = 1, conv_type: str = 'acs', i3d_inflate: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__('densenet121', in_channels, conv_type, i3d_inflate, init_cfg)

    def build_body(self, arch: str, in_channels: int) -> nn.Sequential:
        body = torchvision_features(arch, in_channels)
        features = body.features
        features.conv0.stride = (1, 1)
        features.pool0 = nn.Identity()
        features.norm5 = nn.Identity()
        return nn.Sequential(OrderedDict(features=features))  # no final ReLU
