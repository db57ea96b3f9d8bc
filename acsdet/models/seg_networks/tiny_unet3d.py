"""The tiny 3D U-Net of the GSP-Conv paper, with 3x3x3 convolutions or pointwise + Group Shift.

He et al., "Group Shift Pointwise Convolution for Volumetric Medical Image Segmentation",
MICCAI 2021, section 3 and Fig. 2: every stage has a "Conv Block" of two conv-norm-act
layers; replacing all convolutions by 1x1x1 ones gives the pointwise FCN, and Group Shift
(:class:`acsdet.models.layers.GroupShift`) is inserted at one of four positions:

* ``'CSC'``: conv, shift, conv;            * ``'CCS'``: conv, conv, shift;
* ``'CSCS'``: conv, shift, conv, shift;     * ``'CSCSUpShift'``: CSCS, plus a shift after each
  decoder upsampling.

Spatial groups are set per stage (stage 1 = full resolution); a decoder stage uses the groups
of the encoder stage of the same resolution.  Down-sampling is max pooling, up-sampling is
trilinear interpolation to the skip connection's size (both parameter-free, so the pointwise
network has exactly 27x fewer convolution weights than its 3x3x3 twin, apart from the shared
1x1x1 classifier).  The paper's supplementary structure is not available; the default widths
(16, 32, 64, 128, 256) give 0.22 M parameters for one input channel, close to the 0.25 M of the
paper's Table 3 (four MR modalities).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from acsdet.models.layers.group_shift import GroupShift
from acsdet.registry import MODELS

__all__ = ['TinyUNet3D', 'GSPUNet3D', 'GS_POSITIONS', 'SPATIAL_GROUP_PRESETS']

#: Insert positions of Group Shift (Fig. 2 of the GSP-Conv paper).
GS_POSITIONS = ('CSC', 'CCS', 'CSCS', 'CSCSUpShift')

#: Per-stage spatial groups (g_d, g_h, g_w) of the paper: Table 2 (PROMISE12, input
#: 16 x 128 x 128) and section 3.2 (BraTS18, input 64 x 128 x 128).
SPATIAL_GROUP_PRESETS: Dict[str, Tuple[Tuple[int, int, int], ...]] = {
    'ProSGv1': ((2, 2, 2), (2, 2, 2), (2, 4, 4), (1, 8, 8), (1, 8, 8)),
    'ProSGv2': ((1, 2, 2), (1, 4, 4), (2, 4, 4), (1, 8, 8), (1, 8, 8)),
    'ProSGv3': ((2, 2, 2), (1, 4, 4), (1, 4, 4), (1, 8, 8), (1, 8, 8)),
    'ProSGv4': ((1, 2, 2), (2, 2, 2), (2, 4, 4), (1, 8, 8), (1, 8, 8)),
    'BraTSSG': ((2, 2, 2), (2, 2, 2), (2, 2, 2), (4, 4, 4), (5, 5, 5)),
}

Triple = Tuple[int, int, int]


def _triple(v) -> Triple:
    if isinstance(v, int):
        return (v, v, v)
    v = tuple(int(i) for i in v)
    if len(v) != 3:
        raise ValueError(f'expected an int or a 3-tuple, got {v}')
    return v


class _ConvBlock(nn.Module):
    """Two conv-norm-act layers, each optionally followed by Group Shift.

    The layers are named ``conv1``, ``shift1``, ``conv2``, ``shift2`` (an absent shift is an
    ``nn.Identity``), so state dicts do not depend on where Group Shift is inserted.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 gs_after: Sequence[bool], gs_cfg: Optional[dict], norm_cfg: dict,
                 act_cfg: dict) -> None:
        super().__init__()
        for i in range(2):
            self.add_module(f'conv{i + 1}', ConvModule(
                in_channels if i == 0 else out_channels, out_channels, kernel_size,
                padding=kernel_size // 2, conv_cfg=dict(type='Conv3d'), norm_cfg=norm_cfg,
                act_cfg=act_cfg))
            self.add_module(f'shift{i + 1}',
                            GroupShift(**gs_cfg) if gs_after[i] else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shift2(self.conv2(self.shift1(self.conv1(x))))


@MODELS.register_module()
class TinyUNet3D(BaseModule):
    """Tiny 3D U-Net; with ``kernel_size=1`` and ``gs_position`` set it is GSP-Conv's network.

    Args:
        in_channels (int): Input channels (modalities). Defaults to 1.
        num_classes (int): Output channels of the final 1x1x1 classifier (logits).
            Defaults to 2.
        base_channels (int): Width of stage 1. Defaults to 16.
        channel_multipliers (tuple[int]): Width of stage i = base_channels * multiplier[i];
            its length is the number of stages. Defaults to (1, 2, 4, 8, 16).
        kernel_size (int): 3 for the 3D FCN, 1 for the pointwise FCN. Defaults to 3.
        gs_position (str | None): One of :data:`GS_POSITIONS`, or None for no Group Shift.
            Defaults to None.
        spatial_groups (str | list[tuple[int, int, int]]): Per-stage (g_d, g_h, g_w), or a
            name in :data:`SPATIAL_GROUP_PRESETS`. Defaults to ``'ProSGv3'``.
        shift_ratio (float): C_s / C of every Group Shift. Defaults to 0.5.
        gs_remainder (str): Group Shift's rule for sizes not divisible by the groups,
            ``'pad'`` or ``'keep'``. Defaults to ``'pad'``.
        gs_in_encoder (bool): Put Group Shift in the encoder blocks. Defaults to True.
        gs_in_decoder (bool): Put Group Shift in the decoder blocks (and after upsampling for
            ``'CSCSUpShift'``). ``gs_in_encoder=False`` gives the paper's "CSC+Dec".
            Defaults to True.
        strides (list[int | tuple[int, int, int]]): Max-pool kernel/stride (D, H, W) before
            stages 2..n. Defaults to 2 for every stage.
        norm_cfg (dict): Defaults to ``dict(type='BN3d')``.
        act_cfg (dict): Defaults to ``dict(type='ReLU')``.
        init_cfg (dict | list[dict] | None): mmengine init config. Defaults to None.

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> logits (B, num_classes, D, H, W).
    """

    def __init__(self,
                 in_channels: int = 1,
                 num_classes: int = 2,
                 base_channels: int = 16,
                 channel_multipliers: Sequence[int] = (1, 2, 4, 8, 16),
                 kernel_size: int = 3,
                 gs_position: Optional[str] = None,
                 spatial_groups: Union[str, Sequence] = 'ProSGv3',
                 shift_ratio: float = 0.5,
                 gs_remainder: str = 'pad',
                 gs_in_encoder: bool = True,
                 gs_in_decoder: bool = True,
                 strides: Optional[Sequence] = None,
                 norm_cfg: dict = dict(type='BN3d'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        num_stages = len(channel_multipliers)
        if num_stages < 2:
            raise ValueError(f'TinyUNet3D: needs at least 2 stages, got {num_stages}')
        if gs_position is not None and gs_position not in GS_POSITIONS:
            raise ValueError(f'TinyUNet3D: gs_position must be one of {GS_POSITIONS} or None, '
                             f'got {gs_position!r}')
        if kernel_size % 2 != 1:
            raise ValueError(f'TinyUNet3D: kernel_size must be odd, got {kernel_size}')
        if isinstance(spatial_groups, str):
            if spatial_groups not in SPATIAL_GROUP_PRESETS:
                raise ValueError(f'TinyUNet3D: unknown spatial_groups preset {spatial_groups!r}'
                                 f', known: {sorted(SPATIAL_GROUP_PRESETS)}')
            spatial_groups = SPATIAL_GROUP_PRESETS[spatial_groups]
        spatial_groups = [_triple(g) for g in spatial_groups]
        if gs_position is not None and len(spatial_groups) != num_stages:
            raise ValueError(f'TinyUNet3D: spatial_groups has {len(spatial_groups)} stages, '
                             f'the network has {num_stages}')
        strides = [(2, 2, 2)] * (num_stages - 1) if strides is None else \
            [_triple(s) for s in strides]
        if len(strides) != num_stages - 1:
            raise ValueError(f'TinyUNet3D: strides needs {num_stages - 1} entries, got '
                             f'{len(strides)}')
        self.num_classes = num_classes
        self.kernel_size = kernel_size
        self.gs_position = gs_position
        self.spatial_groups = spatial_groups
        self.strides = strides
        widths = [base_channels * m for m in channel_multipliers]
        if gs_position is not None:
            for i, (width, g) in enumerate(zip(widths, spatial_groups)):
                if int(width * shift_ratio) < g[0] * g[1] * g[2]:
                    raise ValueError(
                        f'TinyUNet3D: stage {i + 1} has {width} channels, shift_ratio '
                        f'{shift_ratio} shifts fewer than its {g[0] * g[1] * g[2]} spatial '
                        f'groups {g}; widen it or use fewer groups')

        def gs_after(stage_has_gs: bool) -> Tuple[bool, bool]:
            if gs_position is None or not stage_has_gs:
                return (False, False)
            return {'CSC': (True, False), 'CCS': (False, True)}.get(gs_position, (True, True))

        def gs_cfg(stage: int) -> Optional[dict]:
            if gs_position is None:
                return None
            return dict(groups=spatial_groups[stage], shift_ratio=shift_ratio,
                        remainder=gs_remainder)

        self.encoder = nn.ModuleList()
        for i, width in enumerate(widths):
            self.encoder.append(_ConvBlock(in_channels if i == 0 else widths[i - 1], width,
                                           kernel_size, gs_after(gs_in_encoder), gs_cfg(i),
                                           norm_cfg, act_cfg))
        self.pools = nn.ModuleList(nn.MaxPool3d(s, s) for s in strides)
        self.up_shifts = nn.ModuleList()
        self.decoder = nn.ModuleList()
        up_shift = gs_position == 'CSCSUpShift' and gs_in_decoder
        for i in range(num_stages - 2, -1, -1):  # decoder stage i has the resolution of stage i
            self.up_shifts.append(GroupShift(**gs_cfg(i)) if up_shift else nn.Identity())
            self.decoder.append(_ConvBlock(widths[i + 1] + widths[i], widths[i], kernel_size,
                                           gs_after(gs_in_decoder), gs_cfg(i), norm_cfg,
                                           act_cfg))
        self.classifier = nn.Conv3d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W) -> logits (B, num_classes, D, H, W)."""
        if x.dim() != 5:
            raise ValueError(f'TinyUNet3D expects (B, C, D, H, W), got shape {tuple(x.shape)}')
        skips = []
        for i, block in enumerate(self.encoder):
            if i > 0:
                x = self.pools[i - 1](x)
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for up_shift, block in zip(self.up_shifts, self.decoder):
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[2:], mode='trilinear', align_corners=False)
            x = up_shift(x)
            x = block(torch.cat([x, skip], dim=1))
        return self.classifier(x)


@MODELS.register_module()
class GSPUNet3D(TinyUNet3D):
    """The pointwise tiny 3D U-Net with Group Shift (GSP-Conv); :class:`TinyUNet3D` with
    ``kernel_size=1``, ``gs_position='CSC'`` and ``spatial_groups='ProSGv3'`` (the paper's
    best PROMISE12 setting, Table 2) as defaults. All other arguments as :class:`TinyUNet3D`.

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> logits (B, num_classes, D, H, W).
    """

    def __init__(self, *args, kernel_size: int = 1, gs_position: Optional[str] = 'CSC',
                 spatial_groups: Union[str, Sequence] = 'ProSGv3', **kwargs) -> None:
        super().__init__(*args, kernel_size=kernel_size, gs_position=gs_position,
                         spatial_groups=spatial_groups, **kwargs)
