"""2D -> 3D model conversion (ACS / 2.5D / I3D-inflated 3D / Mean-ACS / Soft-ACS)."""
from .convert_2d_to_3d import CONV_CLASSES, ConversionError, convert_2d_to_3d
from .torchvision_3d import (FORWARD_3D_CLASSES, ASPPPooling3d, DeepLabV3_3d, DenseNet3d,
                             FCN3d)

__all__ = [
    'convert_2d_to_3d', 'ConversionError', 'CONV_CLASSES', 'FORWARD_3D_CLASSES', 'DenseNet3d',
    'ASPPPooling3d', 'DeepLabV3_3d', 'FCN3d'
]
