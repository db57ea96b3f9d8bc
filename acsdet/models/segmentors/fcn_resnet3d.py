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
``forward`` runs on (B, C, H, W) and, after :func:`acsdet.converters.convert_2d_to_3d`, on
(B, C, D, H, W).  :class:`ResNetBody`, :func:`load_2d_weights` (2D checkpoints by key
prefix) and :func:`convert_segmentation_net` are shared with :mod:`.deeplabv3plus_resnet3d`.

Written here because torchvision's ``FCN`` / ``resnet`` cannot give a stride-1 stem without
max-pool, and mmseg (not an acsdet dependency) resizes with functional calls the converter
cannot see.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torchvision.models import resnet18, resnet34, resnet50, resnet101

from acsdet.models.layers import CONV_TYPES
from acsdet.registry import MODELS

__all__ = [
    'ResNetBody', 'FCNResNet3D', 'load_2d_weights', 'convert_segmentation_net',
    'check_conv_type', 'check_input', 'SEG_CONV_TYPES'
]

#: ``conv_type`` values of the segmentation networks: ``'2d'`` keeps the 2D network.
SEG_CONV_TYPES = ('2d', ) + tuple(CONV_TYPES)

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


def load_2d_weights(net: nn.Module, filename: str, key_map: Dict[str, str]) -> List[str]:
    """Load a 2D checkpoint into the matching parts of a 2D network (before conversion).

    Source keys are renamed by the first prefix of ``key_map`` they start with (source prefix
    -> target prefix; ``''`` matches every key); the tensors then follow the rules of
    :func:`acsdet.models.backbones.adapt_2d_state_dict`: the RGB stem kernel is **summed** over
    its 3 input channels for a 1-channel network (as the repo's DenseNet backbone does: a grey
    slice given as 3 equal channels then gives the same response). Source keys that name no
    tensor of ``net`` (torchvision's ``fc.*``, a DeepLabV3 ``aux_classifier.*``) are not used.

    Args:
        net (nn.Module): The 2D network.
        filename (str): A local ``.pth`` (a state dict, or a dict with ``'state_dict'`` /
            ``'model'``; a ``module.`` prefix is stripped, and a ``backbone.`` prefix that
            every key has, as in the checkpoint of a :class:`VolumeSegmentor` trained with the
            2D network), or any URI mmengine's ``CheckpointLoader`` knows
            (``torchvision://resnet18`` needs a reachable hub).
        key_map (dict[str, str]): Source prefix -> target prefix, tried in order.

    Returns:
        list[str]: The target prefixes that were loaded (each one completely).

    Raises:
        KeyError: The file fills no part of ``net``, or a part partly (missing tensors or
            other shapes, e.g. a checkpoint of another depth); the message names the file.
    """
    from mmengine.logging import print_log

    from acsdet.models.backbones import adapt_2d_state_dict
    from acsdet.utils.safe_checkpoint import read_state_dict
    ckpt = read_state_dict(filename)  # 'backbone.' stripped: a VolumeSegmentor checkpoint
    own = net.state_dict()
    renamed = {}
    for key, value in ckpt.items():
        src = next((p for p in key_map if key.startswith(p)), None)
        if src is not None and key_map[src] + key[len(src):] in own:
            renamed[key_map[src] + key[len(src):]] = value
    parts = [p for p in dict.fromkeys(key_map.values()) if any(k.startswith(p) for k in renamed)]
    target = {k: v for k, v in own.items() if any(k.startswith(p) for p in parts)}
    adapted, missing, _, mismatched = adapt_2d_state_dict(renamed, target)
    if not parts or missing or mismatched:
        raise KeyError(f'{filename}: not a 2D checkpoint of {type(net).__name__} (parts '
                       f'{list(dict.fromkeys(key_map.values()))}): missing {missing[:3]}, other '
                       f'shapes {mismatched[:3]}')
    net.load_state_dict(adapted, strict=False)
    print_log(f'{type(net).__name__}: loaded {len(adapted)} 2D tensors ({", ".join(parts)}) '
              f'from {filename}', logger='current')
    return parts


def check_conv_type(owner: str, conv_type: str) -> None:
    """Raise a one-line error naming ``owner`` unless ``conv_type`` is in
    :data:`SEG_CONV_TYPES` (called before building anything)."""
    if conv_type not in SEG_CONV_TYPES:
        raise ValueError(f'{owner}: conv_type must be one of {list(SEG_CONV_TYPES)}, got '
                         f'{conv_type!r}')


def convert_segmentation_net(net: nn.Module, conv_type: str, i3d_inflate: bool = True) -> None:
    """Convert a 2D segmentation network to 3D in place (``conv_type='2d'``: unchanged).

    Args:
        net (nn.Module): The network, built in 2D (its weights already loaded).
        conv_type (str): One of :data:`SEG_CONV_TYPES`.
        i3d_inflate (bool): For ``'3d'``: I3D-inflate the 2D kernels (False: random 3D
            kernels). Defaults to True.
    """
    check_conv_type(type(net).__name__, conv_type)
    if conv_type != '2d':
        # imported here: acsdet.converters imports acsdet.models (circular at module level)
        from acsdet.converters.convert_2d_to_3d import convert_2d_to_3d
        convert_2d_to_3d(net, conv=conv_type, i3d_inflate=i3d_inflate)


def check_input(net: nn.Module, x: torch.Tensor, divisor: int) -> None:
    """Raise a one-line error unless ``x`` is (B, C, [D,] H, W) as ``net.conv_type`` needs,
    with every spatial size divisible by ``divisor``."""
    dims = 4 if net.conv_type == '2d' else 5
    if x.dim() != dims or any(s % divisor for s in x.shape[2:]):
        layout = '(B, C, H, W)' if dims == 4 else '(B, C, D, H, W)'
        raise ValueError(f'{type(net).__name__} ({net.conv_type}): input must be {layout} with '
                         f'every spatial size divisible by {divisor}, got shape '
                         f'{tuple(x.shape)}')


@MODELS.register_module()
class FCNResNet3D(BaseModule):
    """ResNet FCN of the ACS paper's LIDC experiment, in 2D or converted to 3D.

    Args:
        num_classes (int): Output channels (logits). Defaults to 2 (background, nodule).
        in_channels (int): Input channels. Defaults to 1.
        depth (int): ResNet depth, 18 in the paper (34, 50, 101 also work). Defaults to 18.
        channels (int): Width of the decoder's 1x1 fusion convs (authors' code: 512).
            Defaults to 512.
        conv_type (str): ``'acs'``, ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'``, or
            ``'2d'`` (no conversion: the 2D network). Defaults to ``'acs'``.
        pretrained_2d (str | None): 2D weights loaded before conversion (the paper's "p.";
            see :func:`load_2d_weights`): a torchvision ResNet state dict of the same depth
            (the encoder; the decoder starts random as in the paper), or a checkpoint of this
            network in 2D (keys ``backbone.*``, ``fuse1.*``, ...: the whole network). None:
            "r.". Defaults to None.
        i3d_inflate (bool): With ``conv_type='3d'``, I3D-inflate the 2D kernels (the paper's
            "3D p. I3D"); False keeps random 3x3x3 kernels. Defaults to True.
        init_cfg (dict | None): Defaults to None.

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> logits (B, num_classes, D, H, W) (2D:
        (B, C, H, W) -> (B, K, H, W)); every spatial size divisible by 4.
    """

    size_divisor = 4
    #: checkpoint prefix -> module prefix (:func:`load_2d_weights`): a checkpoint of this
    #: network in 2D, else a bare torchvision ResNet into the encoder
    key_map = {'backbone.': 'backbone.', 'fuse': 'fuse', 'head.': 'head.', '': 'backbone.'}

    def __init__(self,
                 num_classes: int = 2,
                 in_channels: int = 1,
                 depth: int = 18,
                 channels: int = 512,
                 conv_type: str = 'acs',
                 pretrained_2d: Optional[str] = None,
                 i3d_inflate: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_conv_type('FCNResNet3D', conv_type)
        self.num_classes, self.conv_type = num_classes, conv_type
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
        if pretrained_2d is not None:
            load_2d_weights(self, pretrained_2d, self.key_map)
        convert_segmentation_net(self, conv_type, i3d_inflate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W) (2D: (B, C, H, W)) -> logits of the same size."""
        check_input(self, x, self.size_divisor)
        stem, _, c2, _, c4 = self.backbone(x)
        y = self.fuse1(torch.cat([c2, self.up(c4)], dim=1))
        y = self.fuse2(torch.cat([stem, self.up(y)], dim=1))
        return self.head(y)

