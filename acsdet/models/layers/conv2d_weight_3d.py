"""The common base of the layers that keep a 2D weight and convolve 3D input."""
import torch.nn as nn

from .conv_args import IntOr3, to_3tuple, to_kernel_size

__all__ = ['Conv2dWeight3d']


class Conv2dWeight3d(nn.Conv2d):
    """An ``nn.Conv2d`` (2D weight (Cout, Cin / groups, K, K), bias (Cout, )) whose stride,
    padding and dilation are per-axis (D, H, W) triples, for layers acting on
    (B, Cin, D, H, W) input: :class:`Conv2_5d`, :class:`ACSConv` and the Mean/Soft-ACS layers.

    Being an ``nn.Conv2d`` subclass, a 2D state dict loads unchanged.  Subclasses define
    ``forward``.

    Args:
        in_channels (int): Cin.
        out_channels (int): Cout.
        kernel_size (int | tuple[int, int]): K or (K, K).
        stride (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        padding (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 0.
        dilation (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        groups (int): Defaults to 1.
        bias (bool): Defaults to True.
        padding_mode (str): Only ``'zeros'``. Defaults to ``'zeros'``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size,
                 stride: IntOr3 = 1,
                 padding: IntOr3 = 0,
                 dilation: IntOr3 = 1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros',
                 device=None,
                 dtype=None) -> None:
        k = to_kernel_size(kernel_size)
        if padding_mode != 'zeros':
            raise ValueError(f'{type(self).__name__} supports padding_mode="zeros" only, '
                             f'got {padding_mode!r}')
        # nn.Conv2d.__init__ would force 2-tuples: build the _ConvNd part directly.
        nn.modules.conv._ConvNd.__init__(
            self, in_channels, out_channels, (k, k), to_3tuple(stride, 'stride'),
            to_3tuple(padding, 'padding'), to_3tuple(dilation, 'dilation'), False,
            (0, 0, 0), groups, bias, padding_mode, device=device, dtype=dtype)
