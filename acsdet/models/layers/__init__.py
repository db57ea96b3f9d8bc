"""3D convolutions that reuse 2D weights: ACS, 2.5D, I3D-inflated 3D, Mean-ACS and Soft-ACS,
the table of conv types, Group Shift and a channel LayerNorm for 3D.

The convolutions are registered in mmengine's root ``MODELS`` registry (where mmcv keeps
``Conv2d``), so ``mmcv.cnn.build_conv_layer(dict(type='ACSConv'), ...)`` and any ``conv_cfg``
work.
"""
from .acs_conv import ACSConv, acs_conv3d, acs_conv3d_reference, acs_kernel_split, view_conv3d
from .channel_layer_norm_3d import ChannelLayerNorm3d
from .conv2_5d import Conv2_5d, conv2_5d
from .conv_types import CONV_TYPES, NO_CONVERSION, check_conv_type
from .group_shift import GroupShift, clear_group_shift_cache, group_shift, group_shift_index
from .inflated_conv3d import InflatedConv3d, inflate_2d_weight
from .mean_acs_conv import MeanACSConv
from .soft_acs_conv import SoftACSConv

__all__ = [
    'ACSConv', 'Conv2_5d', 'InflatedConv3d', 'MeanACSConv', 'SoftACSConv', 'CONV_TYPES',
    'NO_CONVERSION', 'check_conv_type', 'acs_conv3d', 'acs_conv3d_reference',
    'acs_kernel_split', 'view_conv3d', 'conv2_5d', 'inflate_2d_weight', 'ChannelLayerNorm3d',
    'GroupShift', 'group_shift', 'group_shift_index', 'clear_group_shift_cache'
]
