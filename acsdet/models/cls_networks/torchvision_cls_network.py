"""Any torchvision classifier as a 3D feature extractor: its convolutional part (``features``,
or everything before ``avgpool`` / ``fc`` for the ResNet family), built in 2D, converted as a
whole to ACS / 2.5D / 3D / Mean-ACS / Soft-ACS, with torchvision's own state-dict names so
torchvision's ImageNet files load directly (the paper's "p."; 3D p. by I3D inflation).

    network=dict(type='TorchvisionClsNetwork', arch='resnet50', conv_type='acs',
                 init_cfg=dict(type='Pretrained', checkpoint='resnet50-0676ba61.pth'))

The classifier layers (``fc``, ``classifier``) are dropped: :class:`acsdet.models.cls_heads.
PooledLinearClsHead` pools and classifies.  The first convolution takes ``in_channels`` (1 for
CT; a 3-channel ImageNet kernel is summed over RGB when loaded, which gives the response of a
grey slice fed as three channels).

Written here because torchvision offers no such feature-extractor builder that keeps its key
names and whose forward is made of modules only (the converter cannot see the 2D functional
calls of torchvision's ``forward`` methods).
"""
from collections import OrderedDict
from typing import Optional

import torch
import torch.nn as nn
import torchvision
from torchvision.models import DenseNet, RegNet, ResNet

from acsdet.models.converters import ConvertibleNetwork
from acsdet.registry import MODELS

__all__ = ['TorchvisionClsNetwork', 'torchvision_features']

#: torchvision classes whose forward cannot run on volumes after conversion, and why
_UNSUPPORTED = {
    'ConvNeXt': 'its LayerNorm2d permutes (B, C, H, W) tensors',
    'SwinTransformer': 'it permutes and windows (B, H, W, C) tensors',
    'VisionTransformer': 'it cuts 2D patches and attends over them',
    'MaxVit': 'it partitions 2D windows and grids',
    'GoogLeNet': 'its forward joins parallel branches and auxiliary heads',
    'Inception3': 'its forward joins parallel branches and auxiliary heads',
}


def _replace_first_conv(module: nn.Module, in_channels: int) -> None:
    """Give the first ``nn.Conv2d`` of ``module`` ``in_channels`` inputs (same geometry)."""
    for name, child in module.named_modules():
        if isinstance(child, nn.Conv2d):
            if child.in_channels == in_channels:
                return
            new = nn.Conv2d(in_channels, child.out_channels, child.kernel_size, child.stride,
                            child.padding, child.dilation, child.groups, child.bias is not None,
                            child.padding_mode)
            parent = module.get_submodule(name.rsplit('.', 1)[0]) if '.' in name else module
            setattr(parent, name.rsplit('.', 1)[-1], new)
            return
    raise ValueError(f'{type(module).__name__}: no Conv2d found')


def torchvision_features(arch: str, in_channels: int = 1) -> nn.Sequential:
    """The convolutional part of ``torchvision.models.get_model(arch)`` (random weights) as
    an ``nn.Sequential`` whose state-dict keys are the torchvision model's
    (``features.N...`` for VGG / DenseNet / MobileNet / EfficientNet / SqueezeNet / AlexNet;
    ``conv1``, ``layer1`` ... of the ResNet / ResNeXt / Wide ResNet / RegNet families, wrapped
    as ``features.<name>``: see :class:`TorchvisionClsNetwork` ``key_map``).

    Raises:
        ValueError: ``arch`` is not a torchvision classification model, is one of the
            families whose forward cannot run on volumes (ConvNeXt, Swin, ViT, MaxViT,
            GoogLeNet, Inception v3: :data:`_UNSUPPORTED`), or has another layout.
    """
    names = torchvision.models.list_models(module=torchvision.models)
    if arch not in names:
        raise ValueError(f'TorchvisionClsNetwork: {arch!r} is not a torchvision classification '
                         f'model (e.g. resnet18, vgg16_bn, densenet121; '
                         f'torchvision.models.list_models())')
    model = torchvision.models.get_model(arch, weights=None)
    kind = type(model).__name__
    if kind in _UNSUPPORTED:
        raise ValueError(f'TorchvisionClsNetwork: {arch!r} ({kind}) cannot be converted: '
                         f'{_UNSUPPORTED[kind]}')
    if isinstance(model, (ResNet, RegNet)):
        body = OrderedDict((n, m) for n, m in model.named_children() if n not in ('avgpool', 'fc'))
        seq = nn.Sequential(OrderedDict(features=nn.Sequential(body)))
    elif isinstance(getattr(model, 'features', None), nn.Sequential):
        parts = OrderedDict(features=model.features)
        if isinstance(model, DenseNet):  # torchvision's DenseNet.forward: relu(features(x))
            parts['final_relu'] = nn.ReLU(inplace=False)
        seq = nn.Sequential(parts)
    else:
        raise ValueError(f'TorchvisionClsNetwork: {arch!r} ({kind}) has neither a sequential '
                         f'`features` part nor the ResNet / RegNet layout: write a network '
                         f'for it (docs/classification.md)')
    _replace_first_conv(seq, in_channels)
    return seq


@MODELS.register_module()
class TorchvisionClsNetwork(ConvertibleNetwork):
    """A torchvision classifier's convolutional part, converted to 3D.

    Args:
        arch (str): A torchvision classification model name (``resnet18``, ``vgg16_bn``,
            ``densenet121``, ``resnext50_32x4d``, ...).
        in_channels (int): Input channels. Defaults to 1.
        conv_type (str): ``'acs'``, ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'``, or
            ``'2d'`` (the 2D network). Defaults to ``'acs'``.
        i3d_inflate (bool): With ``'3d'``, I3D-inflate the 2D kernels (and the 2D weights
            loaded); False keeps random 3x3x3 kernels ("3D r."). Defaults to True.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH)``: a torchvision
            state dict of ``arch`` (its classifier keys are not used). Defaults to None.

    Attributes:
        out_channels (int): Channels of the output feature map (the head's input).

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> features (B, out_channels, d, h, w)
        (2D: (B, C, H, W) -> (B, out_channels, h, w)).
    """

    #: torchvision keys -> this network's: VGG-like ``features.*`` as is, else (ResNet
    #: family) every key under ``features.``
    key_map = {'features.': 'features.', '': 'features.'}

    def __init__(self, arch: str, in_channels: int = 1, conv_type: str = 'acs',
                 i3d_inflate: bool = True, init_cfg: Optional[dict] = None) -> None:
        super().__init__(conv_type, i3d_inflate, init_cfg=init_cfg)
        self.arch = arch
        # the parts are this module's only children (no extra level), run in order:
        # state-dict keys stay torchvision's ('features.0.weight'; the ResNet family's under
        # 'features.')
        for name, part in self.build_body(arch, in_channels).named_children():
            self.add_module(name, part)
        self.out_channels = self._probe_channels(in_channels)
        self.convert()

    def build_body(self, arch: str, in_channels: int) -> nn.Sequential:
        """The 2D layers, in forward order (subclasses change the torchvision geometry here)."""
        return torchvision_features(arch, in_channels)

    def _probe_channels(self, in_channels: int) -> int:
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = self._run(torch.zeros(1, in_channels, 64, 64))
        self.train(was_training)
        return int(out.shape[1])

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        for part in self.children():
            x = part(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W) (2D: (B, C, H, W)) -> features (B, C', d, h, w)."""
        self.check_input(x)
        return self._run(x)
