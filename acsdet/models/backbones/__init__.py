from .converted_3d_backbone import Converted3DBackbone
from .load_2d_pretrained import adapt_2d_state_dict, load_2d_pretrained, rename_legacy_densenet_keys
from .truncated_densenet3d import TruncatedDenseNet3D

__all__ = [
    'TruncatedDenseNet3D', 'Converted3DBackbone', 'load_2d_pretrained', 'adapt_2d_state_dict',
    'rename_legacy_densenet_keys'
]
