"""The base of the networks that are built in 2D and converted as a whole to ACS / 2.5D / 3D:
the segmentation networks (:class:`ConvertedUNet3D`, :class:`FCNResNet3D`,
:class:`DeepLabV3PlusResNet3D`) and the classification ones (:mod:`acsdet.models.cls_networks`).

It owns what they share: the ``conv_type`` check (one table: :mod:`acsdet.models.layers.
conv_types`), the conversion (:func:`acsdet.models.converters.convert_2d_to_3d`), the input
check, and the 2D weights, which enter the mmdet way: ``init_cfg=dict(type='Pretrained',
checkpoint=PATH, skip=(...))`` is taken out of the ``init_cfg`` mmengine sees and applied in
:meth:`init_weights` by :func:`acsdet.models.converters.load_2d_weights` (direct for ACS /
2.5D, I3D-inflated for 3D), so a build for testing or inference never reads the file.
"""
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule

from .convert_2d_to_3d import convert_2d_to_3d
from .weight_transfer import load_2d_weights, split_pretrained_init_cfg
from acsdet.models.layers import NO_CONVERSION, check_conv_type

__all__ = ['ConvertibleNetwork']


class ConvertibleNetwork(BaseModule):
    """A network built with 2D layers, then converted to 3D (or kept 2D with ``'2d'``).

    Subclasses build their 2D layers in ``__init__`` after calling this ``__init__``, then
    call :meth:`convert`; they set :attr:`key_map`, :attr:`require_2d` and
    :attr:`size_divisor`.

    Args:
        conv_type (str): ``'acs'``, ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'`` or,
            when ``allow_2d``, ``'2d'`` (the 2D network, not converted).
        i3d_inflate (bool): For ``'3d'``: I3D-inflate the 2D kernels (at conversion and when
            2D weights are loaded); False keeps the 3x3x3 kernels' own initialisation.
        allow_2d (bool): Accept ``conv_type='2d'``.
        init_cfg (dict | list[dict] | None): mmengine's; its ``Pretrained`` entry (keys
            ``checkpoint`` and optional ``skip``: module names that keep their initialisation)
            holds the 2D weights, loaded by :meth:`init_weights`. ``checkpoint=None``: none
            (the "r." models).
    """

    #: checkpoint key prefix -> module prefix, first match wins (see ``load_2d_weights``)
    key_map: Dict[str, str] = {'': ''}
    #: how complete a 2D checkpoint must be: 'parts' or 'all' (``load_2d_weights``)
    require_2d: str = 'parts'
    #: every spatial input size must be a multiple of this
    size_divisor: int = 1

    def __init__(self,
                 conv_type: str,
                 i3d_inflate: bool = True,
                 allow_2d: bool = True,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        name = type(self).__name__
        check_conv_type(conv_type, name, allow_2d=allow_2d)
        pretrained, rest = split_pretrained_init_cfg(init_cfg, name)
        super().__init__(init_cfg=rest)
        self.conv_type, self.i3d_inflate = conv_type, i3d_inflate
        self.pretrained_2d = pretrained
        self._keys_2d: Sequence[str] = ()

    def convert(self) -> None:
        """Convert the 2D layers built so far in place (``'2d'``: keep them); remembers the 2D
        state-dict keys, the tensors a 2D checkpoint can fill."""
        self._keys_2d = tuple(self.state_dict())
        if self.conv_type != NO_CONVERSION:
            convert_2d_to_3d(self, conv=self.conv_type, i3d_inflate=self.i3d_inflate)

    def init_weights(self) -> None:
        """mmengine's initialisation, then the 2D checkpoint of ``init_cfg`` (if any)."""
        super().init_weights()
        if self.pretrained_2d is not None:
            load_2d_weights(self, self.pretrained_2d['checkpoint'], key_map=self.key_map,
                            require=self.require_2d, skip=self.pretrained_2d['skip'],
                            target_keys=self._keys_2d, inflate=self.i3d_inflate)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a one-line error unless ``x`` is (B, C, [D,] H, W) as ``conv_type`` needs,
        with every spatial size divisible by :attr:`size_divisor`."""
        dims = 4 if self.conv_type == NO_CONVERSION else 5
        if x.dim() != dims or any(s % self.size_divisor for s in x.shape[2:]):
            layout = '(B, C, H, W)' if dims == 4 else '(B, C, D, H, W)'
            raise ValueError(f'{type(self).__name__} ({self.conv_type}): input must be '
                             f'{layout} with every spatial size divisible by '
                             f'{self.size_divisor}, got shape {tuple(x.shape)}')
