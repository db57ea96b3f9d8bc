"""The ACS / 2.5D / 3D U-Net: :class:`UNet2D` (optionally loaded with 2D weights) converted as
a whole by :func:`acsdet.converters.convert_2d_to_3d` (the ACS paper's "p." models transfer
every 2D weight, the "r." ones start from the same random 2D initialisation).
"""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule

from acsdet.models.layers import CONV_TYPES
from acsdet.registry import MODELS
from acsdet.utils import read_state_dict

__all__ = ['ConvertedUNet3D', 'load_2d_unet_weights']


def _skipped(key: str, skip: Sequence[str]) -> bool:
    return any(key == p or key.startswith(p + '.') for p in skip)


def load_2d_unet_weights(model: torch.nn.Module, filename: str, prefix: str = 'auto',
                         skip: Sequence[str] = ()) -> None:
    """Load a 2D checkpoint into a :class:`UNet2D` (before conversion), strictly.

    Args:
        model (nn.Module): The 2D U-Net.
        filename (str): A local ``.pth`` holding a state dict, or a dict with
            ``'state_dict'`` / ``'model'`` (mmengine checkpoints; a DDP ``module.`` prefix is
            stripped), loaded with ``weights_only=True``; or a URI mmengine's
            ``CheckpointLoader`` knows (see :func:`acsdet.utils.read_state_dict`).
        prefix (str): Key prefix to strip, e.g. ``'backbone.'`` for a checkpoint of a
            :class:`VolumeSegmentor`; ``'auto'`` strips ``'backbone.'`` when every key has it.
            Defaults to ``'auto'``.
        skip (Sequence[str]): Module names (after stripping ``prefix``) left out of the
            transfer, in the checkpoint and in the model alike: e.g. ``('classifier', )``
            keeps the model's own (random) classifier when the 2D task had another number
            of classes (POC: 3 in 2D, 6 in 3D).  A name matches itself and its children
            (``'classifier'`` matches ``classifier.weight``, not ``classifier2.weight``).
            Defaults to () (everything transfers).

    Raises:
        KeyError: Missing / unexpected keys or other shapes outside ``skip``; the message
            names the file and the keys.
    """
    state = read_state_dict(filename, strip_common=('backbone.', ) if prefix == 'auto' else ())
    if prefix and prefix != 'auto':
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    state = {k: v for k, v in state.items() if not _skipped(k, skip)}
    own = {k: v for k, v in model.state_dict().items() if not _skipped(k, skip)}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise KeyError(f'{filename}: not a checkpoint of this 2D U-Net: missing keys '
                       f'{missing[:5]}, unexpected keys {unexpected[:5]}, wrong shapes '
                       f'{wrong[:5]}')
    model.load_state_dict(state, strict=not skip)


@MODELS.register_module()
class ConvertedUNet3D(BaseModule):
    """A 2D U-Net converted to 3D with ACS, 2.5D or 3D convolutions.

    Args:
        unet (dict): Config of the 2D network. Defaults to ``dict(type='UNet2D')``.
        conv_type (str): A key of :data:`acsdet.models.layers.CONV_TYPES`: ``'acs'``,
            ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'``. Defaults to ``'acs'``.
        pretrained_2d (str | None): 2D checkpoint loaded before conversion (the paper's
            "p." models; see :func:`load_2d_unet_weights`). Defaults to None ("r.").
        pretrained_2d_skip (Sequence[str]): Modules of the 2D U-Net not loaded from
            ``pretrained_2d`` (they keep their random initialisation), e.g.
            ``('classifier', )`` when the checkpoint has another number of classes; any other
            mismatch is still an error. Defaults to ().
        i3d_inflate (bool): With ``conv_type='3d'`` and ``pretrained_2d``, I3D-inflate the
            2D kernels (False keeps random 3x3x3 kernels). Defaults to True.
        init_cfg (dict | None): Defaults to None.

    Shape:
        x (Tensor): (B, C, D, H, W) -> logits (B, num_classes, D, H, W); every spatial size
        divisible by ``2 ** (stages - 1)``.
    """

    def __init__(self,
                 unet: dict = dict(type='UNet2D'),
                 conv_type: str = 'acs',
                 pretrained_2d: Optional[str] = None,
                 pretrained_2d_skip: Sequence[str] = (),
                 i3d_inflate: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if conv_type not in CONV_TYPES:
            raise ValueError(f'ConvertedUNet3D: conv_type must be one of {sorted(CONV_TYPES)}, '
                             f'got {conv_type!r}')
        # imported here: acsdet.converters imports acsdet.models (circular at module level)
        from acsdet.converters.convert_2d_to_3d import convert_2d_to_3d
        net = MODELS.build(unet)
        if pretrained_2d is not None:
            load_2d_unet_weights(net, pretrained_2d, skip=tuple(pretrained_2d_skip))
        self.conv_type = conv_type
        self.num_classes = getattr(net, 'num_classes', None)
        self.unet = convert_2d_to_3d(net, conv=conv_type, i3d_inflate=i3d_inflate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W) -> logits (B, num_classes, D, H, W)."""
        if x.dim() != 5:
            raise ValueError(f'ConvertedUNet3D expects (B, C, D, H, W), got shape '
                             f'{tuple(x.shape)}')
        return self.unet(x)
