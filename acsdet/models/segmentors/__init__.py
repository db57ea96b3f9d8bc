from .tiny_unet3d import (GS_POSITIONS, SPATIAL_GROUP_PRESETS, GSPUNet3D, TinyUNet3D)
from .volume_segmentor import VolumeSegmentor

__all__ = ['TinyUNet3D', 'GSPUNet3D', 'GS_POSITIONS', 'SPATIAL_GROUP_PRESETS', 'VolumeSegmentor']
