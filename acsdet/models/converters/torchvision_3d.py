"""3D forwards for torchvision models whose ``forward`` calls 2D functionals.

:func:`acsdet.models.converters.convert_2d_to_3d` only sees modules; a 2D functional call inside a
``forward`` (``F.adaptive_avg_pool2d``, ``F.interpolate(..., mode='bilinear', size=x.shape[-2:])``)
is invisible to it.  For the torchvision classes below the converter swaps the instance's class
to a subclass whose ``forward`` is the 3D transcription (same submodules, same state dict).
Other models: see ``docs/acs_convolutions.md`` ("Functional calls").
"""
from collections import OrderedDict
from typing import Dict

import torch
import torch.nn.functional as F
from torchvision.models.densenet import DenseNet
from torchvision.models.segmentation.deeplabv3 import ASPPPooling, DeepLabV3
from torchvision.models.segmentation.fcn import FCN

__all__ = ['DenseNet3d', 'ASPPPooling3d', 'DeepLabV3_3d', 'FCN3d', 'FORWARD_3D_CLASSES']


class DenseNet3d(DenseNet):
    """torchvision ``DenseNet`` with a 3D forward: x (B, C, D, H, W) -> logits (B, classes)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(F.adaptive_avg_pool3d(out, 1), 1)
        return self.classifier(out)


class ASPPPooling3d(ASPPPooling):
    """torchvision ``ASPPPooling`` with trilinear upsampling back to (D, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-3:]
        for mod in self:
            x = mod(x)
        return F.interpolate(x, size=size, mode='trilinear', align_corners=False)


class _Segmentation3dForward:
    """``_SimpleSegmentationModel.forward`` with trilinear upsampling to the input's (D, H, W)."""

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        input_shape = x.shape[-3:]
        features = self.backbone(x)
        result = OrderedDict()
        result['out'] = F.interpolate(self.classifier(features['out']), size=input_shape,
                                      mode='trilinear', align_corners=False)
        if self.aux_classifier is not None:
            result['aux'] = F.interpolate(self.aux_classifier(features['aux']),
                                          size=input_shape, mode='trilinear',
                                          align_corners=False)
        return result


class DeepLabV3_3d(_Segmentation3dForward, DeepLabV3):
    """torchvision ``DeepLabV3`` with a 3D forward: x (B, C, D, H, W) -> {'out': (B, K, D, H,
    W), 'aux'?}."""


class FCN3d(_Segmentation3dForward, FCN):
    """torchvision ``FCN`` with a 3D forward (as :class:`DeepLabV3_3d`)."""


#: Exact torchvision class -> subclass with a 3D forward (the converter swaps ``__class__``).
FORWARD_3D_CLASSES = {
    DenseNet: DenseNet3d,
    ASPPPooling: ASPPPooling3d,
    DeepLabV3: DeepLabV3_3d,
    FCN: FCN3d,
}
