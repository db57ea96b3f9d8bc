"""The ACS paper's LIDC malignancy classifier's network (section IV-B, Table V's AUC): a
torchvision ResNet whose 7x7 stem runs at stride 1 without the max-pool, and whose
``layer2`` and ``layer4`` alone downsample (the authors' ``ClsResNet``, M3DV/ACSConv
``experiments/lidc/resnet.py``), so a 48^3 nodule crop ends at 12^3.  The encoder is the one
of the LIDC segmentation network (:class:`acsdet.models.backbones.ResNetBody`)."""
from collections import OrderedDict
from typing import Optional

import torch.nn as nn

from acsdet.models.backbones.resnet_body import ResNetBody
from acsdet.registry import MODELS

from .torchvision_cls_network import TorchvisionClsNetwork

__all__ = ['ClsResNet3D']


@MODELS.register_module()
class ClsResNet3D(TorchvisionClsNetwork):
    """ResNet feature extractor of the ACS paper's LIDC classifier, in 2D or converted to 3D.

    Args:
        depth (int): 18 (the paper), 34, 50 or 101. Defaults to 18.
        in_channels (int): Defaults to 1.
        conv_type (str): ``'acs'``, ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'`` or
            ``'2d'``. Defaults to ``'acs'``.
        i3d_inflate (bool): As :class:`TorchvisionClsNetwork`. Defaults to True.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH)``: torchvision's
            ``resnet<depth>`` state dict (``fc`` unused). Defaults to None.

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> (B, 512 (2048 from depth 50), D/4, H/4, W/4);
        every size divisible by 4.
    """

    size_divisor = 4

    def __init__(self, depth: int = 18, in_channels: int = 1, conv_type: str = 'acs',
                 i3d_inflate: bool = True, init_cfg: Optional[dict] = None) -> None:
        self.depth = depth
        super().__init__(f'resnet{depth}', in_channels, conv_type, i3d_inflate, init_cfg)

    def build_body(self, arch: str, in_channels: int) -> nn.Sequential:
        body = ResNetBody(self.depth, in_channels, stem_stride=1, max_pool=False,
                          strides=(1, 2, 1, 2))
        # ResNetBody's children in forward order: conv1, bn1, relu, maxpool (Identity),
        # layer1 .. layer4; torchvision's names, under 'features.'
        return nn.Sequential(OrderedDict(features=nn.Sequential(OrderedDict(
            body.named_children()))))
