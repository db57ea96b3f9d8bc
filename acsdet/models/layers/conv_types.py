"""The one table of 3D-context convolution types and its validator.

Every model that takes a ``conv_type`` (the detection backbones, the converted segmentation
networks, :func:`acsdet.models.converters.convert_2d_to_3d`) looks it up here, so a new
convolution type is added in one place and every error message lists the same choices.
"""
from typing import Dict, Type

from torch import nn

from .acs_conv import ACSConv
from .conv2_5d import Conv2_5d
from .inflated_conv3d import InflatedConv3d
from .mean_acs_conv import MeanACSConv
from .soft_acs_conv import SoftACSConv

__all__ = ['CONV_TYPES', 'NO_CONVERSION', 'check_conv_type']

#: Config / converter name of each conv type -> its layer class (registered in mmengine's
#: root ``MODELS`` under the class name, so ``dict(type=CONV_TYPES[t].__name__)`` builds it).
CONV_TYPES: Dict[str, Type[nn.Module]] = {
    'acs': ACSConv,
    '2.5d': Conv2_5d,
    '3d': InflatedConv3d,
    'mean_acs': MeanACSConv,
    'soft_acs': SoftACSConv,
}

#: The extra ``conv_type`` of networks that can also stay 2D (built in 2D, not converted).
NO_CONVERSION = '2d'


def check_conv_type(conv_type: str, owner: str, allow_2d: bool = False) -> str:
    """Validate a ``conv_type`` before anything is built.

    Args:
        conv_type (str): A key of :data:`CONV_TYPES` (or ``'2d'`` with ``allow_2d``).
        owner (str): Named in the error (the model's class name).
        allow_2d (bool): Accept ``'2d'`` (the network stays 2D). Defaults to False.

    Returns:
        str: ``conv_type`` itself.

    Raises:
        ValueError: One line naming ``owner``, the value and the choices.
    """
    choices = ([NO_CONVERSION] if allow_2d else []) + list(CONV_TYPES)
    if conv_type not in choices:
        raise ValueError(f'{owner}: conv_type must be one of {choices}, got {conv_type!r}')
    return conv_type
