"""VGG-16 (with batch norm) as the ACS paper's LIDC classifier's network (appendix Table A4):
torchvision's ``vgg16_bn`` convolutions with two of its five max-pools, the ones after the
second and the fourth block (the authors' ``ClsVGG``, M3DV/ACSConv
``experiments/lidc/vgg.py``), so a 48^3 nodule crop ends at 12^3 as with the ResNet-18."""
from typing import Optional

import torch.nn as nn

from acsdet.registry import MODELS

from .torchvision_cls_network import TorchvisionClsNetwork, torchvision_features

__all__ = ['ClsVGG3D']

#: the max-pools of torchvision's vgg16_bn ``features`` that are kept (after blocks 2 and 4)
KEPT_POOLS = (13, 33)


@MODELS.register_module()
class ClsVGG3D(TorchvisionClsNetwork):
    """VGG-16-BN feature extractor with the authors' two downsamplings.

    The removed max-pools become ``nn.Identity`` at the same index, so torchvision's
    ``vgg16_bn`` state dict keys (``features.N.*``) load unchanged.

    Args:
        in_channels (int): Defaults to 1.
        conv_type (str): As :class:`TorchvisionClsNetwork`. Defaults to ``'acs'``.
        i3d_inflate (bool): Defaults to True.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH)``: torchvision's
            ``vgg16_bn`` state dict (``classifier`` unused). Defaults to None.

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> (B, 512, D/4, H/4, W/4); sizes divisible
        by 4.
    """

    size_divisor = 4

    def __init__(self, in_channels: int = 1, conv_type: str = 'acs', i3d_inflate: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__('vgg16_bn', in_channels, conv_type, i3d_inflate, init_cfg)

    def build_body(self, arch: str, in_channels: int) -> nn.Sequential:
        body = torchvision_features(arch, in_channels)
        for i, layer in enumerate(body.features):
            if isinstance(layer, nn.MaxPool2d) and i not in KEPT_POOLS:
                body.features[i] = nn.Identity()
        return body
