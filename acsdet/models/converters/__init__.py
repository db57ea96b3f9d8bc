"""2D -> 3D conversion of models (ACS / 2.5D / I3D-inflated 3D / Mean-ACS / Soft-ACS) and of
their weights.  Depends on :mod:`acsdet.models.layers` (and ``acsdet.utils``) only."""
from .convert_2d_to_3d import ConversionError, convert_2d_to_3d
from .convertible_network import ConvertibleNetwork
from .torchvision_3d import FORWARD_3D_CLASSES, ASPPPooling3d, DeepLabV3_3d, DenseNet3d, FCN3d
from .weight_export import export_2d_state_dict
from .weight_transfer import (REQUIRE_MODES, WRAPPER_PREFIXES, adapt_2d_state_dict, load_2d_weights,
                              rename_legacy_densenet_keys, split_pretrained_init_cfg)

__all__ = [
    'ConvertibleNetwork',
    'convert_2d_to_3d', 'ConversionError', 'FORWARD_3D_CLASSES', 'DenseNet3d',
    'ASPPPooling3d', 'DeepLabV3_3d', 'FCN3d', 'load_2d_weights', 'adapt_2d_state_dict',
    'rename_legacy_densenet_keys', 'split_pretrained_init_cfg', 'REQUIRE_MODES',
    'WRAPPER_PREFIXES', 'export_2d_state_dict'
]
