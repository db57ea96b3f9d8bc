"""bfloat16 on the CPU: flat-kernel 3D convolutions computed as 2D convolutions.

A *flat-kernel* convolution has kernel size 1 along one axis of a (B, C, D, H, W) input: the
2.5D conv (depth), the three ACS views (depth, height, width) and every 1 x 1 x 1 conv.  It
never mixes planes of that axis, so it equals a 2D convolution over the other two axes with
the flat axis folded into the batch: (B, C, D, H, W) -> (B * D, C, H, W) for depth.

Why (``benchmarks/bench_amp.py``, ``docs/acs_convolutions.md``): under ``--amp`` (bfloat16
autocast on the CPU) oneDNN's bfloat16 ``conv3d`` backward -- above all the weight gradient --
takes slow paths: (2, 128, 7, 128, 128) -> 32 with a (1, 3, 3) kernel did not finish in a
minute (float32: 0.3 s), and 1 x 1 x 1 convs were up to several times slower than float32.
oneDNN's bfloat16 ``conv2d`` on channels-last input has none of these, so on the CPU in
bfloat16 the flat-kernel convs of :mod:`acsdet.models.layers` fold the flat axis into the
batch and run ``F.conv2d`` on a channels-last bfloat16 copy (the cast to bfloat16, which
autocast would do anyway, and the layout change are one copy).  float32 (and float64, and
every other device) keeps the ``F.conv3d`` path unchanged.

The flat axis needs no padding or dilation (the kernel has size 1 there): as in the 3D path,
:func:`acsdet.models.layers.conv_args.flat_axis_plan` narrows the input to the planes the
outputs read, the stride along the flat axis keeps every ``stride``-th of them, and output
planes that only read padding hold the bias alone.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .conv_args import IntOr3, conv_output_size, flat_axis_plan, to_3tuple, view_input

__all__ = [
    'BF16_ROUTING', 'FLOAT32_MAX_IN_CHANNELS', 'BF16_FLOAT32_FALLBACK', 'FLOAT32_MAX_MACS',
    'routes_bf16', 'conv_macs', 'keeps_float32', 'float32_input', 'fold_dtype',
    'flat_planes', 'fold_axis', 'unfold_axis', 'copy_channels_last_', 'flat_conv3d',
    'fold_conv_args'
]

#: Route the flat-kernel convs through ``F.conv2d`` on the CPU in bfloat16 (see the module
#: docstring).  ``benchmarks/bench_amp.py`` switches it off to time the oneDNN ``conv3d``
#: path side by side; nothing else should need to.
BF16_ROUTING = True

_ROUTED_INPUT_DTYPES = (torch.float32, torch.bfloat16)


def routes_bf16(x: torch.Tensor) -> bool:
    """Whether a flat-kernel conv of ``x`` takes the folded ``F.conv2d`` path.

    True on the CPU when the conv computes in bfloat16: under
    ``torch.autocast('cpu', dtype=torch.bfloat16)`` for a float32 or bfloat16 input (autocast
    leaves float64 alone), or without CPU autocast for a bfloat16 input.
    """
    if not BF16_ROUTING or x.device.type != 'cpu':
        return False
    if torch.is_autocast_enabled('cpu'):
        return torch.get_autocast_dtype('cpu') == torch.bfloat16 and \
            x.dtype in _ROUTED_INPUT_DTYPES
    return x.dtype == torch.bfloat16


#: Under CPU bfloat16 autocast, a conv of a float32 input with at most this many input
#: channels (and ``groups == 1``: the 1-channel stems) runs in float32, autocast off: it is
#: memory-bound, bfloat16 buys nothing and the casts made it 1.2-1.3x slower than float32.
FLOAT32_MAX_IN_CHANNELS = 3

#: Under CPU bfloat16 autocast, the convs that measured slower in bfloat16 than in float32
#: (``benchmarks/bench_amp.py``, docs/results/bench_amp.md) run in float32, autocast off:
#: dense K x K x K kernels (``InflatedConv3d``: oneDNN's bfloat16 ``conv3d`` was up to 2.6x
#: slower, and its weight gradient NaN on some shapes), pointwise (1 x 1 x 1) kernels
#: (memory-bound: up to 2x slower with the casts), and flat K x K kernels of fewer than
#: :data:`FLOAT32_MAX_MACS` multiply-adds (overhead-bound: up to 1.7x slower).  False keeps
#: every routed conv in bfloat16 (the bench's ``bf16_nofallback`` variant, and the tests of
#: the folded paths).
BF16_FLOAT32_FALLBACK = True

#: Flat-kernel convs below this many multiply-adds per forward run in float32 (see above):
#: every 2.5D / ACS 3 x 3 conv of the shipped backbones at or above it was at least as fast in
#: bfloat16 as in float32 (docs/results/bench_amp_after_routing.md).
FLOAT32_MAX_MACS = 3e7


def conv_macs(x: torch.Tensor, weight: torch.Tensor, groups: int = 1,
              stride: IntOr3 = 1) -> float:
    """Multiply-adds of one forward of a conv of ``x`` (B, Cin, D, H, W) with ``weight``
    (Cout, Cin / groups, *kernel), 2D (flat) or 3D: output voxels (input voxels over the
    stride product) x Cout x Cin / groups x kernel size."""
    stride = to_3tuple(stride, 'stride')
    voxels = x.shape[0]
    for n, s in zip(x.shape[2:], stride):
        voxels *= -(-n // s)
    kernel = 1
    for k in weight.shape[2:]:
        kernel *= k
    return float(voxels) * weight.shape[0] * weight.shape[1] * kernel


def keeps_float32(x: torch.Tensor, groups: int = 1, weight: Optional[torch.Tensor] = None,
                  stride: IntOr3 = 1) -> bool:
    """Whether a conv of ``x`` under CPU bfloat16 autocast should rather run in float32; the
    caller then disables autocast and casts ``x`` to float32 (:func:`float32_input`).

    True for the stems (a float32 input of at most :data:`FLOAT32_MAX_IN_CHANNELS` channels,
    ``groups == 1``) and, with :data:`BF16_FLOAT32_FALLBACK` and the ``weight`` given, for
    dense 3D kernels, pointwise kernels and flat convs of fewer than
    :data:`FLOAT32_MAX_MACS` multiply-adds.  Never without CPU autocast (a bfloat16 model
    computes in bfloat16)."""
    if not (routes_bf16(x) and torch.is_autocast_enabled('cpu')) or x.dim() < 2:
        return False
    if groups == 1 and x.shape[1] <= FLOAT32_MAX_IN_CHANNELS and x.dtype == torch.float32:
        return True
    if weight is None or not BF16_FLOAT32_FALLBACK:
        return False
    kernel = tuple(weight.shape[2:])
    if all(k == 1 for k in kernel):
        return True
    if len(kernel) == 3 and all(k > 1 for k in kernel):
        return True
    return conv_macs(x, weight, groups, stride) < FLOAT32_MAX_MACS


def float32_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` as float32 for a conv that :func:`keeps_float32` (a no-op for float32)."""
    return x if x.dtype == torch.float32 else x.float()


def fold_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the folded conv computes in: the CPU autocast dtype when it is on."""
    return torch.get_autocast_dtype('cpu') if torch.is_autocast_enabled('cpu') else x.dtype


def _other_axes(axis: int) -> Tuple[int, int]:
    return tuple(a for a in (2, 3, 4) if a != axis)  # type: ignore[return-value]


def flat_planes(x: torch.Tensor, axis: int, plan, stride: int) -> torch.Tensor:
    """The planes of ``x`` along ``axis`` that the computed outputs ``[o_lo, o_hi)`` read:
    the plan's narrow, then every ``stride``-th plane (a view, no copy)."""
    xv = view_input(x, axis, plan)
    if stride > 1 and xv.shape[axis] > 1:
        index = [slice(None)] * xv.dim()
        index[axis] = slice(None, None, stride)
        xv = xv[tuple(index)]
    return xv


def _fold(x: torch.Tensor, axis: int, dtype: Optional[torch.dtype]) -> torch.Tensor:
    b, c = x.shape[:2]
    p_axis, q_axis = _other_axes(axis)
    t = x.permute(0, axis, p_axis, q_axis, 1)  # (B, N, P, Q, C)
    if dtype is not None and dtype != t.dtype:  # cast and transpose in one pass
        t = t.to(dtype=dtype, memory_format=torch.contiguous_format)
    t = t.contiguous()  # a no-op after the cast (``to`` may keep a permuted layout otherwise)
    n, p, q = t.shape[1:4]
    return t.view(b * n, p, q, c).permute(0, 3, 1, 2)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def copy_channels_last_(out: torch.Tensor, src: torch.Tensor, add: bool = False) -> None:
    """``out.copy_(src)`` (``out.add_(src)`` with ``add``), in place, fast for a ``src``
    (B, C, ...) whose channels are innermost in memory (the unfolded output or input
    gradient of a channels-last 2D conv) and an ``out`` in (B, C, ...) order.

    PyTorch's generic copy reads such a tensor with strides (about 5x slower than a plain
    copy here); this uses its blocked 2D-transpose copy, one batch item at a time, then at
    most one more pass for the rest of the permutation, the cast, the addition or a strided
    ``out`` (a channel slice, every other plane).
    """
    b, c = src.shape[:2]
    spatial = sorted(range(2, src.dim()), key=lambda d: -src.stride(d))
    phys = src.permute(0, *spatial, 1)  # (B, X, Y, Z, C) in memory order
    if b == 0 or src.stride(1) != 1 or not phys[0].is_contiguous():
        out.add_(src) if add else out.copy_(src)
        return
    inv = [spatial.index(d) + 1 for d in range(2, src.dim())]
    direct = not add and out.dtype == src.dtype and spatial == sorted(spatial)
    tmp = None
    for i in range(b):
        o = out[i]
        if direct and o.is_contiguous():  # the layout is the only difference
            o.view(c, -1).copy_(phys[i].reshape(-1, c).t())
            continue
        if tmp is None:
            tmp = torch.empty((c, phys[0].numel() // max(c, 1)), dtype=src.dtype,
                              device=src.device)
        tmp.copy_(phys[i].reshape(-1, c).t())  # the fast 2D transpose (same dtype)
        t = tmp.view(c, *phys.shape[1:-1]).permute(0, *inv)
        o.add_(t) if add else o.copy_(t)


class _FoldAxis(torch.autograd.Function):
    """:func:`fold_axis` whose backward returns the input gradient in the input's dtype and
    layout (contiguous, or channels-last-3d) with :func:`copy_channels_last_`: plain autograd
    would hand back a permuted gradient, which every later elementwise op (and gradient
    accumulation) reads with strides."""

    @staticmethod
    def forward(ctx, x, axis, dtype):
        ctx.axis, ctx.shape, ctx.dtype = axis, x.shape, x.dtype
        ctx.memory_format = _memory_format(x)
        return _fold(x, axis, dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        g = unfold_axis(grad, ctx.shape[0], ctx.axis)
        gx = torch.empty(ctx.shape, dtype=ctx.dtype, device=grad.device,
                         memory_format=ctx.memory_format)
        if ctx.memory_format == torch.contiguous_format:
            copy_channels_last_(gx, g)
        else:
            gx.copy_(g)
        return gx, None, None


def fold_axis(x: torch.Tensor, axis: int, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """(B, C, D, H, W) -> (B * N, C, P, Q): ``axis`` (size N) folded into the batch, (P, Q)
    the other two axes in order, channels-last (what oneDNN's fast 2D kernels read).

    One copy (cast to ``dtype`` and layout change together) unless ``x`` already has that
    layout and dtype (a bfloat16 channels-last-3d input folded along depth is a view).
    Differentiable; the gradient comes back in ``x``'s dtype and layout.
    """
    if axis not in (2, 3, 4):
        raise ValueError(f'axis must be 2, 3 or 4, got {axis!r}')
    if torch.is_grad_enabled() and x.requires_grad:
        return _FoldAxis.apply(x, axis, dtype)
    return _fold(x, axis, dtype)


def unfold_axis(y: torch.Tensor, batch: int, axis: int) -> torch.Tensor:
    """The inverse of :func:`fold_axis`: (B * N, C, P, Q) -> (B, C, ...) with N at ``axis``.

    A view when ``y`` is channels-last (the output of ``F.conv2d`` on a folded input)."""
    n = y.shape[0] // batch
    y5 = y.reshape(batch, n, *y.shape[1:])  # (B, N, C, P, Q)
    return y5.movedim(1, axis)


def flat_conv3d(x: torch.Tensor,
                weight: torch.Tensor,
                axis: int,
                bias: Optional[torch.Tensor] = None,
                stride: IntOr3 = 1,
                padding: IntOr3 = 0,
                dilation: IntOr3 = 1,
                groups: int = 1,
                dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """A 3D conv whose kernel has size 1 along ``axis``, as a 2D conv (plain autograd).

    Equals ``F.conv3d(x, w3, bias, stride, padding, dilation, groups)`` where ``w3`` is
    ``weight`` with a size-``K`` axis inserted at ``axis`` that is zero except on its centre
    index ``K // 2`` (``K = weight.shape[-1]``) -- i.e. the output of a view conv of
    :mod:`acsdet.models.layers`, shape that of a K x K x K ``F.conv3d``.

    Args:
        x (Tensor): (B, Cin, D, H, W).
        weight (Tensor): (Cout, Cin / groups, K, K) over the two other axes, in order
            (axial: (H, W), coronal: (D, W), sagittal: (D, H)).
        axis (int): The flat axis, 2 (depth), 3 (height) or 4 (width).
        bias (Tensor, optional): (Cout, ). Defaults to None.
        stride, padding, dilation (int | tuple[int, int, int]): Per axis (D, H, W).
        groups (int): Defaults to 1.
        dtype (torch.dtype, optional): The dtype of the folded input copy. Defaults to
            :func:`fold_dtype` of ``x`` (bfloat16 under CPU bfloat16 autocast).

    Returns:
        Tensor: (B, Cout, Do, Ho, Wo) in the conv's dtype; its strides are those of the 2D
        conv's channels-last output (channels-last-3d for ``axis=2``).
    """
    stride, padding = to_3tuple(stride, 'stride'), to_3tuple(padding, 'padding')
    dilation = to_3tuple(dilation, 'dilation')
    if x.dim() != 5:
        raise ValueError(f'expected input of shape (B, C, D, H, W), got {tuple(x.shape)}')
    if axis not in (2, 3, 4):
        raise ValueError(f'axis must be 2, 3 or 4, got {axis!r}')
    k = weight.shape[-1]
    a = axis - 2
    plan = flat_axis_plan(x.shape[axis], k, stride[a], padding[a], dilation[a])
    others = [o - 2 for o in _other_axes(axis)]
    dtype = fold_dtype(x) if dtype is None else dtype
    if plan.o_hi <= plan.o_lo:  # every output position reads only padding
        shape = [x.shape[0], weight.shape[0]] + [
            conv_output_size(x.shape[d], k, stride[d - 2], padding[d - 2], dilation[d - 2])
            for d in (2, 3, 4)
        ]
        y = x.new_zeros(shape, dtype=dtype) + 0 * weight.sum().to(dtype)
        return y if bias is None else y + bias.to(dtype).view(1, -1, 1, 1, 1)
    x2 = fold_axis(flat_planes(x, axis, plan, stride[a]), axis, dtype)
    y2 = F.conv2d(x2, weight, bias if plan.full else None, tuple(stride[o] for o in others),
                  tuple(padding[o] for o in others), tuple(dilation[o] for o in others),
                  groups)
    y = unfold_axis(y2, x.shape[0], axis)
    if not plan.full:
        pads = [0] * 6
        pads[2 * (4 - axis)] = plan.o_lo
        pads[2 * (4 - axis) + 1] = plan.out - plan.o_hi
        y = F.pad(y, pads)
        if bias is not None:
            y = y + bias.to(y.dtype).view(1, -1, 1, 1, 1)
    return y


def fold_conv_args(stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
                   axis: int):
    """The 2D (stride, padding, dilation) of the folded conv: those of the two other axes."""
    others = [o - 2 for o in _other_axes(axis)]
    return (tuple(stride[o] for o in others), tuple(padding[o] for o in others),
            tuple(dilation[o] for o in others))
