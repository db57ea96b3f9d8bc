"""3D-context -> 2D weight export: a backbone trained with 2D kernels (2.5D convolutions on
one slice, i.e. a 2D network) written as a torchvision-format 2D state dict, so that it enters
any other model through the same door as ImageNet weights (:func:`load_2d_weights`).

Why hand-written: the file must match torchvision's key names and its RGB stem, which no
library maps from this project's modules.  The rules invert :mod:`.weight_transfer`'s:

1. ``prefix`` (e.g. ``'backbone.'``) is replaced by ``out_prefix`` (``'features.'``:
   torchvision's DenseNet); tensors outside ``prefix`` are dropped.
2. A (Cout, Cin, 1, K, K) kernel is squeezed to (Cout, Cin, K, K); 2D kernels (ACS / 2.5D
   store those) are copied.  A kernel with depth > 1 (a 3D convolution) cannot be a 2D
   kernel and is refused.
3. The stem (``stem_key``, 1 input channel) is spread over 3 RGB channels as ``w / 3`` each,
   so the loader's RGB sum (rule 2 of :mod:`.weight_transfer`) gives back ``w`` exactly.
"""
from typing import Dict, Optional

from torch import Tensor

__all__ = ['export_2d_state_dict']


def export_2d_state_dict(state_dict: Dict[str, Tensor], prefix: str = 'backbone.',
                         out_prefix: str = 'features.',
                         stem_key: Optional[str] = 'conv0.weight') -> Dict[str, Tensor]:
    """The 2D (torchvision-format) state dict of the ``prefix`` part of ``state_dict``.

    Args:
        state_dict (dict[str, Tensor]): A model's state dict (e.g. a 2D lesion detector's
            checkpoint: ``backbone.conv0.weight`` (64, 1, 1, 7, 7), ...).
        prefix (str): The part to export. Default: ``'backbone.'``.
        out_prefix (str): Prefix of the written keys. Default: ``'features.'`` (torchvision
            DenseNet: ``features.conv0.weight`` ...).
        stem_key (str, optional): Key (after ``prefix``) of the 1-channel stem written with 3
            RGB channels; None keeps it as it is. Default: ``'conv0.weight'``.

    Returns:
        dict[str, Tensor]: Contiguous CPU tensors (``num_batches_tracked`` kept).

    Raises:
        KeyError: nothing starts with ``prefix``, or ``stem_key`` is missing.
        ValueError: a kernel has depth > 1 (a 3D convolution), naming the key and its shape.
    """
    part = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not part:
        raise KeyError(f'export_2d_state_dict: no key starts with {prefix!r} (keys begin '
                       f'{sorted({k.split(".")[0] + "." for k in state_dict})[:6]})')
    if stem_key is not None and stem_key not in part:
        raise KeyError(f'export_2d_state_dict: stem {prefix}{stem_key} not found')
    out = {}
    for key, value in part.items():
        value = value.detach().cpu()
        if value.dim() == 5:
            if value.shape[2] != 1:
                raise ValueError(f'export_2d_state_dict: {prefix}{key} has shape '
                                 f'{tuple(value.shape)}: a 3D kernel (depth {value.shape[2]}) '
                                 'has no 2D equivalent; export a network trained with 2D '
                                 "kernels (conv_type '2.5d' / 'acs')")
            value = value[:, :, 0]
        if key == stem_key:
            if value.shape[1] != 1:
                raise ValueError(f'export_2d_state_dict: stem {prefix}{key} has '
                                 f'{value.shape[1]} input channels, expected 1')
            value = value.repeat(1, 3, 1, 1) / 3.0
        out[out_prefix + key] = value.contiguous().clone()
    return out
