"""Argument handling shared by the 2D-weight 3D convolutions (ACS, 2.5D, Mean/Soft-ACS, I3D).

All layers of :mod:`acsdet.models.layers` take nn.Conv2d-style arguments (``kernel_size`` an
int K or a square pair) and per-axis 3D ``stride`` / ``padding`` / ``dilation`` ``(D, H, W)``.
The output shape is always that of an ``nn.Conv3d`` with a K x K x K kernel and the same
arguments, so every conversion variant is a drop-in replacement for every other.

A *view* convolution has kernel size 1 along one axis (its "flat" axis: depth for the axial
view, height for the coronal, width for the sagittal).  It equals a dense K x K x K convolution
whose kernel is zero except on the centre index ``K // 2`` of the flat axis.  Along the flat
axis it therefore reads input index ``o * stride - padding + (K // 2) * dilation`` for output
index ``o``; :func:`flat_axis_plan` turns that into a narrow of the input (a view, no copy) and
the range of output positions that read real planes; the others read only zero padding and
hold the bias alone.
"""
from typing import NamedTuple, Sequence, Tuple, Union

import torch

__all__ = [
    'to_3tuple', 'to_kernel_size', 'conv_output_size', 'FlatAxisPlan', 'flat_axis_plan',
    'view_input', 'VIEW_AXES'
]

IntOr3 = Union[int, Sequence[int]]

#: Tensor axis (of a (B, C, D, H, W) input) along which each view's kernel has size 1.
VIEW_AXES = {'axial': 2, 'coronal': 3, 'sagittal': 4}


def to_3tuple(value: IntOr3, name: str) -> Tuple[int, int, int]:
    """Return ``value`` as a (D, H, W) triple.

    Args:
        value (int | Sequence[int]): An int (used for every axis) or three ints.
        name (str): Argument name used in the error message.

    Raises:
        ValueError: ``value`` is neither an int nor three ints.
    """
    if isinstance(value, bool):
        raise ValueError(f'{name} must be an int or a 3-tuple of ints (D, H, W), got {value!r}')
    if isinstance(value, int):
        return (value, value, value)
    try:
        triple = tuple(int(v) for v in value)
    except TypeError:
        triple = ()
    if len(triple) != 3 or any(v != orig for v, orig in zip(triple, value)):
        raise ValueError(f'{name} must be an int or a 3-tuple of ints (D, H, W), got {value!r}')
    return triple  # type: ignore[return-value]


def to_kernel_size(value: Union[int, Sequence[int]]) -> int:
    """Return the kernel size K of a square 2D kernel given as ``K`` or ``(K, K)``.

    Raises:
        ValueError: The kernel is not square or not positive.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        k = value
    else:
        sizes = tuple(value) if isinstance(value, (tuple, list)) else (value, )
        if len(sizes) != 2 or sizes[0] != sizes[1] or not isinstance(sizes[0], int):
            raise ValueError('kernel_size must be an int K or a square pair (K, K), '
                             f'got {value!r}')
        k = sizes[0]
    if k < 1:
        raise ValueError(f'kernel_size must be positive, got {value!r}')
    return k


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis (the ``nn.Conv3d`` formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class FlatAxisPlan(NamedTuple):
    """How a view convolution covers its flat axis (see the module docstring).

    Output positions ``[o_lo, o_hi)`` read the input planes ``start + (o - o_lo) * stride``
    (``length = (o_hi - o_lo - 1) * stride + 1`` planes from ``start``), with no padding on the
    flat axis.  The other output positions read only padding: they hold the bias alone.

    Attributes:
        start (int): First input plane read.
        length (int): Input planes from ``start`` that the convolution sees.
        o_lo (int): First output position computed.
        o_hi (int): One past the last output position computed (``o_hi <= o_lo``: none).
        out (int): Output length of the dense K x K x K convolution on this axis.
    """
    start: int
    length: int
    o_lo: int
    o_hi: int
    out: int

    @property
    def full(self) -> bool:
        """Whether every output position is computed."""
        return self.o_lo == 0 and self.o_hi == self.out


def flat_axis_plan(size: int, kernel: int, stride: int, padding: int,
                   dilation: int) -> FlatAxisPlan:
    """Plan the flat axis of a view convolution of input length ``size``.

    Raises:
        ValueError: The input is too small for the kernel (no output position).
    """
    out = conv_output_size(size, kernel, stride, padding, dilation)
    if out < 1:
        raise ValueError(f'input size {size} is too small for kernel {kernel} with padding '
                         f'{padding} and dilation {dilation}')
    first = (kernel // 2) * dilation - padding  # input index read by output 0
    o_lo = 0 if first >= 0 else (-first + stride - 1) // stride  # first position >= plane 0
    o_hi = min(out, (size - 1 - first) // stride + 1) if size - 1 >= first else 0
    o_hi = max(o_hi, o_lo)
    start = first + o_lo * stride
    length = (o_hi - o_lo - 1) * stride + 1 if o_hi > o_lo else 0
    return FlatAxisPlan(start, length, o_lo, o_hi, out)


def view_input(x: torch.Tensor, axis: int, plan: FlatAxisPlan) -> torch.Tensor:
    """Narrow ``x`` (B, C, D, H, W) along ``axis`` to the planes the view reads."""
    if plan.start == 0 and plan.length == x.shape[axis]:
        return x
    if plan.length == 0:  # no output position reads a real plane
        return x.narrow(axis, 0, 0)
    return x.narrow(axis, plan.start, plan.length)
