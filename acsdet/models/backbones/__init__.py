from .converted_3d_backbone import Converted3DBackbone
from .resnet_body import ResNetBody
from .truncated_densenet3d import TruncatedDenseNet3D

__all__ = ['TruncatedDenseNet3D', 'Converted3DBackbone', 'ResNetBody']
