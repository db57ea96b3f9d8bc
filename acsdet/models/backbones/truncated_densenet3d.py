"""DenseNet-121 truncated after dense block 3, with 3D-context convolutions and depth kept."""
import copy
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from acsdet.models.converters import load_2d_weights, split_pretrained_init_cfg
from acsdet.models.layers import CONV_TYPES, check_conv_type
from acsdet.registry import MODELS

__all__ = ['TruncatedDenseNet3D']


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck) then BN-ReLU-KxK conv; names as torchvision's."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, conv_cfg: dict,
                 norm_cfg: dict, drop_rate: float, with_cp: bool):
        super().__init__()
        mid = bn_size * growth_rate
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, mid, kernel_size=1, stride=1,
                                      bias=False)
        self.norm2 = build_norm_layer(norm_cfg, mid)[1]
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = build_conv_layer(conv_cfg, mid, growth_rate, kernel_size=3, stride=1,
                                      padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.with_cp = with_cp

    def bottleneck(self, *features: Tensor) -> Tensor:
        return self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))

    def forward(self, features: List[Tensor]) -> Tensor:
        if self.with_cp and self.training and any(f.requires_grad for f in features):
            out = cp.checkpoint(self.bottleneck, *features, use_reentrant=False)
        else:
            out = self.bottleneck(*features)
        out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = nn.functional.dropout(out, p=self.drop_rate, training=self.training)
        return out


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers named ``denselayer1..N``; returns the concatenation."""

    def __init__(self, num_layers: int, in_channels: int, **layer_kwargs):
        super().__init__()
        growth = layer_kwargs['growth_rate']
        for i in range(num_layers):
            self.add_module(f'denselayer{i + 1}',
                            _DenseLayer(in_channels + i * growth, **layer_kwargs))

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-1x1 conv-AvgPool 1x2x2 (depth kept)."""

    def __init__(self, in_channels: int, out_channels: int, conv_cfg: dict, norm_cfg: dict):
        super().__init__(OrderedDict(
            norm=build_norm_layer(norm_cfg, in_channels)[1],
            relu=nn.ReLU(inplace=True),
            conv=build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size=1,
                                  stride=1, bias=False),
            pool=nn.AvgPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))))


@MODELS.register_module()
class TruncatedDenseNet3D(BaseModule):
    """DenseNet-121 truncated after dense block 3, built with ACS / 2.5D / 3D convolutions.

    The backbone of the ACS paper's lesion detector (Table VII): torchvision's DenseNet-121
    (stem 64 channels, growth 32, bottleneck 4x, blocks 6-12-24) up to dense block 3, with every
    convolution replaced by the chosen 3D-context convolution and every stride and pooling made
    1x2x2 so the depth ``D`` is preserved.  Parameter names mirror torchvision's ``features.*``
    (``conv0``, ``norm0``, ``denseblock1.denselayer1.norm1`` ... ``transition2.conv``), so an
    ImageNet DenseNet-121 state dict loads with the rules of
    :mod:`acsdet.models.converters.weight_transfer` (direct for ACS / 2.5D, I3D-inflated for
    3D, RGB stem summed to 1 channel).

    Args:
        conv_type (str): 'acs', '2.5d', '3d', 'mean_acs' or 'soft_acs'
            (:data:`acsdet.models.layers.CONV_TYPES`). Defaults to 'acs'.
        num_slices (int): Input depth D; ``forward`` refuses another depth. Defaults to 7.
        in_channels (int): Input channels. Defaults to 1.
        growth_rate (int): Defaults to 32.
        block_config (Sequence[int]): Dense layers per block. Defaults to (6, 12, 24).
        num_init_features (int): Stem channels. Defaults to 64.
        bn_size (int): Bottleneck width factor. Defaults to 4.
        drop_rate (float): Dropout after each dense layer. Defaults to 0.
        out_indices (Sequence[int]): Which dense blocks' outputs to return (0-based).
            Defaults to (0, 1, 2).
        frozen_stages (int): -1 freezes nothing, 0 the stem, i the stem and dense blocks 1..i
            with their transitions. Defaults to -1.
        norm_cfg (dict): Normalisation, e.g. ``dict(type='BN3d')``, ``dict(type='SyncBN')``,
            ``dict(type='GN', num_groups=32)``. Defaults to ``dict(type='BN3d',
            requires_grad=True)``.
        norm_eval (bool): Keep BN layers in eval mode while training. Defaults to False.
        with_cp (bool): Gradient checkpointing of each dense layer's bottleneck (saves the
            memory of the concatenations). Defaults to False.
        init_cfg (dict | list[dict], optional): ``dict(type='Pretrained', checkpoint=PATH)``
            loads a torchvision DenseNet-121 state dict (a local file or
            ``'torchvision://densenet121'``); other entries go to mmengine. Defaults to None.

    Shapes:
        - x (Tensor): (B, in_channels, D, H, W).
        - outputs (tuple[Tensor]): for each ``out_indices`` entry i,
          (B, (256, 512, 1024)[i], D, H / 4 / 2**i, W / 4 / 2**i).
    """

    def __init__(self,
                 conv_type: str = 'acs',
                 num_slices: int = 7,
                 in_channels: int = 1,
                 growth_rate: int = 32,
                 block_config: Sequence[int] = (6, 12, 24),
                 num_init_features: int = 64,
                 bn_size: int = 4,
                 drop_rate: float = 0.,
                 out_indices: Sequence[int] = (0, 1, 2),
                 frozen_stages: int = -1,
                 norm_cfg: dict = dict(type='BN3d', requires_grad=True),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        name = type(self).__name__
        self.pretrained, rest_init_cfg = split_pretrained_init_cfg(init_cfg, name)
        super().__init__(init_cfg=rest_init_cfg)
        self.conv_type = check_conv_type(conv_type, name)
        conv_cfg = dict(type=CONV_TYPES[conv_type].__name__)
        if int(num_slices) < 1:
            raise ValueError(f'{name}: num_slices must be >= 1, got {num_slices}')
        self.num_slices = int(num_slices)
        self.in_channels = in_channels
        num_blocks = len(block_config)
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < num_blocks for i in out_indices):
            raise ValueError(f'{name}: out_indices must be in [0, {num_blocks - 1}], '
                             f'got {out_indices}')
        if not -1 <= frozen_stages <= num_blocks:
            raise ValueError(f'{name}: frozen_stages must be in [-1, {num_blocks}], '
                             f'got {frozen_stages}')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        norm_cfg = copy.deepcopy(norm_cfg)

        # Stem: 7x7 conv stride 1x2x2, BN, ReLU, 3x3 max pool 1x2x2 (depth kept).
        self.conv0 = build_conv_layer(conv_cfg, in_channels, num_init_features, kernel_size=7,
                                      stride=(1, 2, 2), padding=3, bias=False)
        self.norm0 = build_norm_layer(norm_cfg, num_init_features)[1]
        self.relu0 = nn.ReLU(inplace=True)
        self.pool0 = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

        channels = num_init_features
        self.out_channels: List[int] = []
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, channels, growth_rate=growth_rate, bn_size=bn_size,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, drop_rate=drop_rate,
                                with_cp=with_cp)
            self.add_module(f'denseblock{i + 1}', block)
            channels += num_layers * growth_rate
            self.out_channels.append(channels)
            if i != num_blocks - 1:
                self.add_module(f'transition{i + 1}',
                                _Transition(channels, channels // 2, conv_cfg, norm_cfg))
                channels //= 2
        self.num_blocks = num_blocks
        self._freeze_stages()

    def init_weights(self) -> None:
        """mmengine's initialisation, then the 2D checkpoint (if any) with the 2D->3D rules."""
        super().init_weights()
        if self.pretrained is not None:
            load_2d_weights(
                self, self.pretrained['checkpoint'],
                key_map={'backbone.': '', 'features.': '', '': ''}, skip=self.pretrained['skip'],
                expected_unused=(r'classifier\.', r'norm5\.',
                                 rf'denseblock(?!([1-{self.num_blocks}])\.)\d+\.',
                                 rf'transition(?!([1-{self.num_blocks - 1}])\.)\d+\.'))

    def _stage_modules(self, stage: int) -> List[nn.Module]:
        if stage == 0:
            return [self.conv0, self.norm0]
        mods = [getattr(self, f'denseblock{stage}')]
        if stage > 1:
            mods.insert(0, getattr(self, f'transition{stage - 1}'))
        return mods

    def _freeze_stages(self) -> None:
        for stage in range(0, self.frozen_stages + 1):
            for m in self._stage_modules(stage):
                m.eval()
                for param in m.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'TruncatedDenseNet3D':
        """Set train/eval mode, keeping frozen stages (and BN when ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Args: x (Tensor): (B, in_channels, D, H, W). Returns the dense-block outputs."""
        name = type(self).__name__
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f'{name} expects input (B, {self.in_channels}, D, H, W), got '
                             f'{tuple(x.shape)}')
        if x.shape[2] != self.num_slices:
            raise ValueError(f'{name} was built for num_slices={self.num_slices} but the input '
                             f'has D={x.shape[2]} (input shape {tuple(x.shape)})')
        x = self.pool0(self.relu0(self.norm0(self.conv0(x))))
        outs = []
        for i in range(self.num_blocks):
            if i > 0:
                x = getattr(self, f'transition{i}')(x)
            x = getattr(self, f'denseblock{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
            if i >= max(self.out_indices):
                break
        return tuple(outs)
