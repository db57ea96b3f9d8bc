"""Whole segmentation networks, (B, C, [D,] H, W) -> logits (B, K, [D,] H, W), wrapped by
:class:`acsdet.models.segmentors.VolumeSegmentor` (config key ``network``)."""
from .converted_unet3d import ConvertedUNet3D
from .deeplabv3plus_resnet3d import DeepLabV3PlusResNet3D
from .fcn_resnet3d import FCNResNet3D
from .poc_unet2d import PocUNet2D
from .tiny_unet3d import GS_POSITIONS, SPATIAL_GROUP_PRESETS, GSPUNet3D, TinyUNet3D
from .unet2d import UNet2D

__all__ = [
    'UNet2D', 'PocUNet2D', 'ConvertedUNet3D', 'FCNResNet3D',
    'DeepLabV3PlusResNet3D', 'TinyUNet3D', 'GSPUNet3D', 'GS_POSITIONS', 'SPATIAL_GROUP_PRESETS'
]
