"""The ACS / 2.5D / 3D U-Net: :class:`UNet2D` converted as a whole by
:func:`acsdet.models.converters.convert_2d_to_3d` (the ACS paper's "p." models transfer every
2D weight, the "r." ones start from the same random 2D initialisation).
"""
from typing import Optional

import torch

from acsdet.models.converters import ConvertibleNetwork
from acsdet.registry import MODELS

__all__ = ['ConvertedUNet3D']


@MODELS.register_module()
class ConvertedUNet3D(ConvertibleNetwork):
    """A 2D U-Net converted to 3D with ACS, 2.5D or 3D convolutions.

    Args:
        unet (dict): Config of the 2D network. Defaults to ``dict(type='UNet2D')``.
        conv_type (str): A key of :data:`acsdet.models.layers.CONV_TYPES`: ``'acs'``,
            ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'``. Defaults to ``'acs'``.
        i3d_inflate (bool): With ``conv_type='3d'``, I3D-inflate the 2D kernels (False keeps
            random 3x3x3 kernels, also when 2D weights are loaded). Defaults to True.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH, skip=(...))``: a
            checkpoint of the 2D U-Net (a state dict, or the checkpoint of a
            :class:`VolumeSegmentor` trained with it), applied by ``init_weights()`` (the
            paper's "p." models). It must fill the whole network except ``skip``: module
            names of the 2D U-Net that keep their random initialisation, e.g.
            ``('classifier', )`` when the checkpoint has another number of classes (POC: 3 in
            2D, 6 in 3D); any other mismatch is an error naming the keys. Defaults to None
            ("r.").

    Shape:
        x (Tensor): (B, C, D, H, W) -> logits (B, num_classes, D, H, W); every spatial size
        divisible by ``2 ** (stages - 1)``.
    """

    #: a 2D U-Net checkpoint fills ``unet.*``, completely
    key_map = {'': 'unet.'}
    require_2d = 'all'

    def __init__(self,
                 unet: dict = dict(type='UNet2D'),
                 conv_type: str = 'acs',
                 i3d_inflate: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(conv_type, i3d_inflate, allow_2d=False, init_cfg=init_cfg)
        if self.pretrained_2d is not None:  # skip names the 2D U-Net's modules
            self.pretrained_2d['skip'] = tuple(f'unet.{s}' for s in self.pretrained_2d['skip'])
        self.unet = MODELS.build(unet)
        self.num_classes = getattr(self.unet, 'num_classes', None)
        self.size_divisor = getattr(self.unet, 'size_divisor', 1)
        self.convert()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W) -> logits (B, num_classes, D, H, W)."""
        if x.dim() != 5:
            raise ValueError(f'ConvertedUNet3D expects (B, C, D, H, W), got shape '
                             f'{tuple(x.shape)}')
        return self.unet(x)
