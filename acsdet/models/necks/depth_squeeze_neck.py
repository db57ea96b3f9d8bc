"""Squeeze the depth of 3D backbone features and fuse them with a 2D top-down decoder."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from acsdet.registry import MODELS

__all__ = ['DepthSqueezeNeck']

SQUEEZE_MODES = ('conv', 'mean', 'max', 'center')


@MODELS.register_module()
class DepthSqueezeNeck(BaseModule):
    """Depth squeeze + 2D top-down decoder (the neck of the ACS paper's lesion detector).

    Each backbone level (B, C_i, D, H_i, W_i) is squeezed to 2D (B, C_i, H_i, W_i) by

    - ``'conv'``: a Conv3d with kernel (D, 1, 1) and no padding (C_i -> C_i channels; the paper),
    - ``'mean'`` / ``'max'``: the mean / max over the depth axis,
    - ``'center'``: the centre (key) slice ``D // 2``,

    then a 1x1 lateral conv maps every level to ``out_channels``; going top-down, each coarser
    map is upsampled (nearest, to the finer map's size) and added; each returned map is then
    optionally smoothed by a 3x3 conv (as in FPN).  ``num_outs=1`` returns the single stride-4
    map of the paper; more outputs give an FPN-style pyramid (finest first), extra levels
    beyond the inputs made by stride-2 max pooling of the coarsest output (as mmdet's FPN
    without extra convs).

    Args:
        in_channels (Sequence[int]): Channels of the backbone levels. Defaults to
            (256, 512, 1024).
        num_slices (int): The depth D the backbone keeps; a feature of another depth raises
            ``ValueError`` naming both. Defaults to 7.
        out_channels (int): Channels of the decoder outputs. Defaults to 512.
        num_outs (int): Number of output maps. Defaults to 1.
        squeeze (str): 'conv', 'mean', 'max' or 'center'. Defaults to 'conv'.
        smooth (bool): 3x3 conv after each top-down sum. Defaults to False (the paper).
        squeeze_act (bool): ReLU after the squeeze conv. Defaults to False.
        init_cfg (dict | list[dict], optional): Defaults to Xavier-uniform on the convs.

    Shapes:
        - inputs (tuple[Tensor]): level i (B, in_channels[i], D, H_i, W_i), finest first.
        - outputs (tuple[Tensor]): ``num_outs`` maps (B, out_channels, H_j, W_j) with
          H_j = H_0 / 2**j.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024),
                 num_slices: int = 7,
                 out_channels: int = 512,
                 num_outs: int = 1,
                 squeeze: str = 'conv',
                 smooth: bool = False,
                 squeeze_act: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Xavier', layer=['Conv2d', 'Conv3d'], distribution='uniform')):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        if squeeze not in SQUEEZE_MODES:
            raise ValueError(f'{name}: squeeze must be one of {SQUEEZE_MODES}, got {squeeze!r}')
        if int(num_slices) < 1:
            raise ValueError(f'{name}: num_slices must be >= 1, got {num_slices}')
        if num_outs < 1:
            raise ValueError(f'{name}: num_outs must be >= 1, got {num_outs}')
        self.in_channels = list(in_channels)
        self.num_slices = int(num_slices)
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.squeeze = squeeze
        if squeeze == 'conv':
            self.squeeze_convs = nn.ModuleList(
                nn.Conv3d(c, c, kernel_size=(self.num_slices, 1, 1)) for c in self.in_channels)
        self.squeeze_act = nn.ReLU(inplace=True) if squeeze_act else nn.Identity()
        self.lateral_convs = nn.ModuleList(
            nn.Conv2d(c, out_channels, kernel_size=1) for c in self.in_channels)
        self.smooth_convs = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
            for _ in self.in_channels) if smooth else None

    def squeeze_depth(self, x: Tensor, level: int) -> Tensor:
        """(B, C, D, H, W) -> (B, C, H, W) with the configured mode."""
        if x.dim() != 5 or x.shape[2] != self.num_slices:
            raise ValueError(
                f'{type(self).__name__} was built for num_slices={self.num_slices} but level '
                f'{level} has shape {tuple(x.shape)} (expected (B, C, {self.num_slices}, H, W)); '
                'set the same num_slices in the backbone, the neck and the data pipeline')
        if self.squeeze == 'conv':
            return self.squeeze_act(self.squeeze_convs[level](x)).squeeze(2)
        if self.squeeze == 'mean':
            return x.mean(dim=2)
        if self.squeeze == 'max':
            return x.amax(dim=2)
        return x[:, :, self.num_slices // 2]

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Args: inputs (Sequence[Tensor]): (B, C_i, D, H_i, W_i), finest first."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'{type(self).__name__} expects {len(self.in_channels)} levels, '
                             f'got {len(inputs)}')
        laterals = [lat(self.squeeze_depth(x, i))
                    for i, (x, lat) in enumerate(zip(inputs, self.lateral_convs))]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:], mode='nearest')
        outs = laterals[:self.num_outs]
        if self.smooth_convs is not None:
            outs = [conv(x) for conv, x in zip(self.smooth_convs, outs)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs[:self.num_outs])
