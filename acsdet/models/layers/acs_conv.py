"""ACS (axial-coronal-sagittal) convolution: a 2D kernel applied to 3D input (paper section III-A).

The 2D weight ``W`` (Cout, Cin/groups, K, K) is split by output channel into three parts (the
"ACS kernels"): the axial part is used as a (1, K, K) kernel over (H, W), the coronal part as
(K, 1, K) over (D, W) and the sagittal part as (K, K, 1) over (D, H).  The three outputs are
concatenated along channels in that order.  The layer is exactly a K x K x K ``Conv3d`` whose
kernel is block-sparse (each output channel's kernel is non-zero only on the centre plane of its
view), so it has the parameters and FLOPs of the 2D convolution.

Why a hand-written ``autograd.Function`` rather than three ``F.conv3d`` + ``torch.cat``
(Algorithm 1, kept as :func:`acs_conv3d_reference`): autograd then keeps one input copy per
view alive for backward whenever a view needs a padded copy, the concatenation costs another
output-sized buffer, and backward materialises three input-sized gradients before summing them.
:class:`_ACSConvFunction` saves only the input and the weight, writes the three views into one
preallocated output, and accumulates the input gradient slab by slab into a single buffer
(design and measurements: ``docs/acs_convolutions.md``).
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch.autograd.function import once_differentiable

from .conv2d_weight_3d import Conv2dWeight3d
from .conv_args import (VIEW_AXES, FlatAxisPlan, IntOr3, conv_output_size, flat_axis_plan,
                        to_3tuple, view_input)
from .flat_conv import (copy_channels_last_, flat_conv3d, flat_planes, fold_axis,
                        fold_conv_args, float32_input, keeps_float32, routes_bf16,
                        unfold_axis)

__all__ = ['acs_kernel_split', 'acs_conv3d', 'acs_conv3d_reference', 'view_conv3d', 'ACSConv']

VIEWS = ('axial', 'coronal', 'sagittal')

#: Input channels per input-gradient slab in backward, as a fraction of the input channels:
#: bounds the transient buffer of a view's input gradient.
_GRAD_CHUNK_FRACTION = 0.125
#: Fewest input channels per input-gradient slab (oneDNN blocks channels by 16).
_GRAD_MIN_SLAB = 16
#: Convert a contiguous CPU input to channels-last-3d once per forward / weight-gradient pass.
_STAGE_CHANNELS_LAST = True


def acs_kernel_split(out_channels: int) -> Tuple[int, int, int]:
    """Default (axial, coronal, sagittal) split of ``out_channels`` (M3DV/ACSConv convention).

    ``(n, n, n)`` for ``3n``, ``(n + 1, n, n)`` for ``3n + 1``, ``(n + 1, n + 1, n)`` for
    ``3n + 2``.
    """
    n, r = divmod(out_channels, 3)
    return (n + (r > 0), n + (r > 1), n)


def _check_split(split: Sequence[int], out_channels: int) -> Tuple[int, int, int]:
    split = tuple(int(s) for s in split)
    if len(split) != 3 or any(s < 0 for s in split) or sum(split) != out_channels:
        raise ValueError('kernel_split must be three non-negative ints (axial, coronal, '
                         f'sagittal) summing to out_channels={out_channels}, got {split}')
    return split  # type: ignore[return-value]


class _Segment(NamedTuple):
    """One ``F.conv3d`` call: output channels [out_lo, out_hi) of one view, reading input
    channels [in_lo, in_hi) with ``groups`` groups."""
    view: str
    out_lo: int
    out_hi: int
    in_lo: int
    in_hi: int
    groups: int


def _segments(in_channels: int, out_channels: int, groups: int,
              split: Tuple[int, int, int]) -> List[_Segment]:
    """Cut each view's output channels at group boundaries so every piece is one grouped conv.

    With ``groups == 1`` this is one segment per non-empty view; with depthwise convs each view
    is one conv with as many groups as channels; a view that starts or ends inside a group gets
    a separate segment for that partial group.
    """
    opg, ipg = out_channels // groups, in_channels // groups
    segs: List[_Segment] = []
    lo = 0
    for view, n in zip(VIEWS, split):
        hi, o = lo + n, lo
        while o < hi:
            g = o // opg
            if o % opg == 0 and hi - o >= opg:
                ng = (hi - o) // opg
                segs.append(_Segment(view, o, o + ng * opg, g * ipg, (g + ng) * ipg, ng))
                o += ng * opg
            else:
                end = min(hi, (g + 1) * opg)
                segs.append(_Segment(view, o, end, g * ipg, (g + 1) * ipg, 1))
                o = end
        lo = hi
    return segs


def _plans(x_shape: Sequence[int], k: int, stride, padding, dilation) -> dict:
    return {
        axis: flat_axis_plan(x_shape[axis], k, stride[axis - 2], padding[axis - 2],
                             dilation[axis - 2])
        for axis in (2, 3, 4)
    }


def _out_memory_format(x: torch.Tensor) -> torch.memory_format:
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


class _SegmentCall(NamedTuple):
    x: torch.Tensor  # the view's input (channel slice, narrowed along the flat axis)
    weight: torch.Tensor  # (Co_seg, Cin_seg, kd, kh, kw)
    padding: Tuple[int, int, int]
    axis: int
    plan: FlatAxisPlan


def _segment_call(x, weight, seg: _Segment, plans, padding) -> _SegmentCall:
    axis = VIEW_AXES[seg.view]
    plan = plans[axis]
    xs = x if (seg.in_lo, seg.in_hi) == (0, x.shape[1]) else \
        x.narrow(1, seg.in_lo, seg.in_hi - seg.in_lo)
    pad = list(padding)
    pad[axis - 2] = 0
    return _SegmentCall(view_input(xs, axis, plan),
                        weight[seg.out_lo:seg.out_hi].unsqueeze(axis), tuple(pad), axis, plan)


def _staged(x: torch.Tensor, segs) -> torch.Tensor:
    """``x`` in channels-last-3d for the oneDNN calls of several segments on the CPU.

    oneDNN converts a (B, C, D, H, W)-contiguous input to its own layout inside every call;
    converting once and passing channels-last input to the three view convs saves two of
    those passes.  The copy is transient (never saved for backward).
    """
    if _STAGE_CHANNELS_LAST and x.device.type == 'cpu' and len(segs) > 1 and \
            x.is_contiguous() and x.shape[1] > 1:
        return x.contiguous(memory_format=torch.channels_last_3d)
    return x


def _acs_forward(x, weight, bias, stride, padding, dilation, segs, plans):
    b = x.shape[0]
    out = torch.empty((b, weight.shape[0], plans[2].out, plans[3].out, plans[4].out),
                      dtype=x.dtype, device=x.device, memory_format=_out_memory_format(x))
    x = _staged(x, segs)
    for seg in segs:
        call = _segment_call(x, weight, seg, plans, padding)
        plan, axis = call.plan, call.axis
        bias_seg = None if bias is None else bias[seg.out_lo:seg.out_hi]
        dst = _segment_output(out, seg, bias_seg, plan, axis)
        if dst is None:
            continue
        dst.copy_(F.conv3d(call.x, call.weight, bias_seg, stride, call.padding, dilation,
                           seg.groups))
    return out


def _segment_output(out, seg: _Segment, bias_seg, plan, axis):
    """The part of ``out`` a segment's conv writes: its output channels, narrowed along its
    flat axis to the positions that read input planes.  The positions that read only padding
    are set to the bias alone (0 without one) first; None when no position reads input."""
    dst = out[:, seg.out_lo:seg.out_hi]
    if plan.full:
        return dst
    dst.fill_(0) if bias_seg is None else dst.copy_(bias_seg.view(1, -1, 1, 1, 1).expand_as(dst))
    if plan.o_hi <= plan.o_lo:
        return None
    return dst.narrow(axis, plan.o_lo, plan.o_hi - plan.o_lo)


def _folded_call(x, weight, seg: _Segment, plans, stride, padding, dilation):
    """The segment's conv as a 2D conv: (folded input (B * N, Cin_seg, P, Q) channels-last,
    2D weight, 2D stride / padding / dilation, axis, plan); see ``flat_conv``."""
    axis = VIEW_AXES[seg.view]
    plan = plans[axis]
    xs = x if (seg.in_lo, seg.in_hi) == (0, x.shape[1]) else \
        x.narrow(1, seg.in_lo, seg.in_hi - seg.in_lo)
    x2 = fold_axis(flat_planes(xs, axis, plan, stride[axis - 2]), axis)
    return (x2, weight[seg.out_lo:seg.out_hi]) + fold_conv_args(stride, padding, dilation,
                                                                axis) + (axis, plan)


def _acs_forward_folded(x, weight, bias, stride, padding, dilation, segs, plans):
    """:func:`_acs_forward` with every segment computed as a 2D conv (CPU bfloat16)."""
    b = x.shape[0]
    out = torch.empty((b, weight.shape[0], plans[2].out, plans[3].out, plans[4].out),
                      dtype=x.dtype, device=x.device, memory_format=_out_memory_format(x))
    for seg in segs:
        axis, plan = VIEW_AXES[seg.view], plans[VIEW_AXES[seg.view]]
        bias_seg = None if bias is None else bias[seg.out_lo:seg.out_hi]
        dst = _segment_output(out, seg, bias_seg, plan, axis)
        if dst is None:
            continue
        x2, w2, s2, p2, d2, axis, plan = _folded_call(x, weight, seg, plans, stride, padding,
                                                      dilation)
        y = unfold_axis(F.conv2d(x2, w2, bias_seg, s2, p2, d2, seg.groups), b, axis)
        del x2
        copy_channels_last_(dst, y)
    return out


def _acs_backward_folded(ctx, grad_out, x, weight, need_x, need_w):
    """Input and weight gradients with every segment computed as a 2D conv.

    One ``convolution_backward`` per segment gives both gradients of the 2D conv; the
    segment's folded input is transient.  The input gradient of a segment is unfolded and
    added into a single buffer (the first segment that covers every input plane writes).
    """
    stride, padding, dilation, segs, plans = ctx.conf[:5]
    b = x.shape[0]
    grad_w = torch.zeros_like(weight) if need_w else None
    grad_x = None

    def covers(seg):  # whole input: all channels, every plane of the flat axis
        axis = VIEW_AXES[seg.view]
        plan = plans[axis]
        return seg.groups == 1 and (seg.in_lo, seg.in_hi) == (0, x.shape[1]) and \
            plan.start == 0 and plan.length == x.shape[axis] and \
            (stride[axis - 2] == 1 or x.shape[axis] == 1)

    first = next((i for i, seg in enumerate(segs) if covers(seg)), None) if need_x else None
    if first is not None:
        segs = [segs[first]] + segs[:first] + segs[first + 1:]
    if need_x:
        grad_x = torch.empty_like(x) if first is not None else torch.zeros_like(x)
    for i, seg in enumerate(segs):
        axis, plan = VIEW_AXES[seg.view], plans[VIEW_AXES[seg.view]]
        if plan.o_hi <= plan.o_lo:
            continue
        g = grad_out[:, seg.out_lo:seg.out_hi]
        if not plan.full:
            g = g.narrow(axis, plan.o_lo, plan.o_hi - plan.o_lo)
        x2, w2, s2, p2, d2, axis, plan = _folded_call(x, weight, seg, plans, stride, padding,
                                                      dilation)
        g2 = fold_axis(g, axis)
        gx2, gw2, _ = torch.ops.aten.convolution_backward(
            g2, x2, w2, None, s2, p2, d2, False, (0, 0), seg.groups, (need_x, need_w, False))
        del x2, g2
        if need_w:
            grad_w[seg.out_lo:seg.out_hi] = gw2
        if need_x:
            target = flat_planes(grad_x.narrow(1, seg.in_lo, seg.in_hi - seg.in_lo), axis,
                                 plan, stride[axis - 2])
            copy_channels_last_(target, unfold_axis(gx2, b, axis),
                                add=not (first is not None and i == 0))
            del gx2
    return grad_x, grad_w


class _ACSConvFunction(torch.autograd.Function):
    """ACS convolution saving only the input and the weight (see the module docstring).

    ``fold=True`` (CPU bfloat16) computes every segment as a 2D conv on its flat axis folded
    into the batch (``flat_conv``): oneDNN's bfloat16 ``conv3d`` backward is slow or wrong.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, segs, plans, fold=False):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, segs, plans, bias is not None, fold)
        if fold:
            return _acs_forward_folded(x, weight, bias, stride, padding, dilation, segs,
                                       plans)
        return _acs_forward(x, weight, bias, stride, padding, dilation, segs, plans)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, segs, plans, has_bias, fold = ctx.conf
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if fold:
            grad_b = grad_out.sum((0, 2, 3, 4)) if (has_bias and need_b) else None
            grad_x, grad_w = _acs_backward_folded(ctx, grad_out, x, weight, need_x, need_w)
            return grad_x, grad_w, grad_b, None, None, None, None, None, None
        # the first segment covering the whole input writes instead of adding: no zero fill
        first_full = next((i for i, seg in enumerate(segs) if seg.groups == 1 and
                           (seg.in_lo, seg.in_hi) == (0, x.shape[1]) and
                           plans[VIEW_AXES[seg.view]].start == 0 and
                           plans[VIEW_AXES[seg.view]].length == x.shape[VIEW_AXES[seg.view]]),
                          None) if need_x else None
        grad_x = None
        grad_w = torch.zeros_like(weight) if need_w else None
        grad_b = grad_out.sum((0, 2, 3, 4)) if (has_bias and need_b) else None
        if first_full is not None:  # process it first
            segs = [segs[first_full]] + segs[:first_full] + segs[first_full + 1:]

        def view_grad(seg, call):
            g = grad_out[:, seg.out_lo:seg.out_hi]
            if not call.plan.full:
                g = g.narrow(call.axis, call.plan.o_lo, call.plan.o_hi - call.plan.o_lo)
            return g

        if need_w:  # weight gradients first, while no input-sized gradient buffer exists
            xw = _staged(x, segs)
            for seg in segs:
                call = _segment_call(xw, weight, seg, plans, padding)
                if call.plan.o_hi > call.plan.o_lo:
                    grad_w[seg.out_lo:seg.out_hi] = torch.ops.aten.convolution_backward(
                        view_grad(seg, call), call.x, call.weight, None, stride, call.padding,
                        dilation, False, (0, 0, 0), seg.groups,
                        (False, True, False))[1].squeeze(call.axis)
            del xw, call
        if need_x:
            grad_x = torch.zeros_like(x) if first_full is None else torch.empty_like(x)
            for i, seg in enumerate(segs):
                call = _segment_call(x, weight, seg, plans, padding)
                if call.plan.o_hi > call.plan.o_lo:
                    _accumulate_grad_input(grad_x, view_grad(seg, call), call, seg, stride,
                                           dilation, overwrite=first_full is not None and i == 0)
        return grad_x, grad_w, grad_b, None, None, None, None, None, None


def _small_for_onednn(t: torch.Tensor) -> bool:
    """Whether PyTorch's CPU convolution heuristic skips oneDNN for input ``t`` (B, C, D, H,
    W) with a kernel of at most 3 x 3 (``ConvParams::use_mkldnn`` in ATen's Convolution.cpp)."""
    return t.device.type == 'cpu' and t.shape[0] == 1 and \
        t.shape[1] * t.shape[2] * t.shape[3] <= 20480


def _accumulate_grad_input(grad_x, g, call: _SegmentCall, seg: _Segment, stride, dilation,
                           overwrite: bool = False):
    """Add the view's input gradient into ``grad_x``, a slab of input channels at a time.

    Input-channel slabs are independent (each is a transposed conv with that slab of the
    weight), so the transient buffer is ``_GRAD_CHUNK_FRACTION`` of the input.  Measured on
    oneDNN (CPU): ``F.conv_transpose3d`` on 8 slabs is as fast as one full call, whereas
    ``aten.convolution_backward`` on slabs or spatial chunks is 2x slower.
    """
    xs, w, axis = call.x, call.weight, call.axis
    target = grad_x.narrow(1, seg.in_lo, seg.in_hi - seg.in_lo)
    if not (call.plan.start == 0 and call.plan.length == grad_x.shape[axis]):
        target = target.narrow(axis, call.plan.start, call.plan.length)
    k = w.shape[2:]
    out_pad = tuple(
        xs.shape[a] - ((g.shape[a] - 1) * stride[a - 2] - 2 * call.padding[a - 2] +
                       dilation[a - 2] * (k[a - 2] - 1) + 1) for a in (2, 3, 4))
    if _small_for_onednn(g) and not _small_for_onednn(xs):
        # PyTorch sends a transposed conv on a small grad_out (batch 1, C*D*H <= 20480) to its
        # slow native kernel (10x slower here), but the input-gradient of convolution_backward
        # follows the size of the (larger) input: one call, the buffer is small anyway.
        gx = torch.ops.aten.convolution_backward(g, xs, w, None, stride, call.padding, dilation,
                                                 False, (0, 0, 0), seg.groups,
                                                 (True, False, False))[0]
        target.copy_(gx) if overwrite else target.add_(gx)
        return
    # slabs of whole groups (groups > 1) or of input channels (groups == 1)
    units, per_unit_in = (seg.groups, xs.shape[1] // seg.groups) if seg.groups > 1 else \
        (xs.shape[1], 1)
    step = max(1, int(units * _GRAD_CHUNK_FRACTION))
    if seg.groups == 1:  # oneDNN is fast on multiples of 16 channels only
        step = min(units, max(_GRAD_MIN_SLAB, step - step % 16))
    opg = w.shape[0] // seg.groups
    for u0 in range(0, units, step):
        u1 = min(units, u0 + step)
        if seg.groups > 1:
            gc, wc, ng = g[:, u0 * opg:u1 * opg], w[u0 * opg:u1 * opg], u1 - u0
        else:
            gc, wc, ng = g, w[:, u0:u1], 1
        gxc = F.conv_transpose3d(gc, wc, None, stride, call.padding, out_pad, ng, dilation)
        dst = target.narrow(1, u0 * per_unit_in, (u1 - u0) * per_unit_in)
        dst.copy_(gxc) if overwrite else dst.add_(gxc)
        del gxc


def _check_input(x: torch.Tensor, weight: torch.Tensor, groups: int) -> None:
    if x.dim() != 5:
        raise ValueError(f'expected input of shape (B, C, D, H, W), got {tuple(x.shape)}')
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f'expected {weight.shape[1] * groups} input channels, got '
                         f'{x.shape[1]} (input shape {tuple(x.shape)})')


def acs_conv3d(x: torch.Tensor,
               weight: torch.Tensor,
               bias: Optional[torch.Tensor] = None,
               stride: IntOr3 = 1,
               padding: IntOr3 = 0,
               dilation: IntOr3 = 1,
               groups: int = 1,
               kernel_split: Optional[Sequence[int]] = None) -> torch.Tensor:
    """ACS convolution of a 3D input with a 2D weight (memory-lean implementation).

    Args:
        x (Tensor): (B, Cin, D, H, W).
        weight (Tensor): (Cout, Cin / groups, K, K).
        bias (Tensor, optional): (Cout, ). Defaults to None.
        stride, padding, dilation (int | tuple[int, int, int]): Per axis (D, H, W).
            Defaults to 1, 0, 1.
        groups (int): Defaults to 1.
        kernel_split (tuple[int, int, int], optional): Output channels of the (axial,
            coronal, sagittal) views. Defaults to :func:`acs_kernel_split` of Cout.

    Returns:
        Tensor: (B, Cout, Do, Ho, Wo), the shape of a K x K x K ``F.conv3d`` with the same
        arguments.
    """
    stride, padding = to_3tuple(stride, 'stride'), to_3tuple(padding, 'padding')
    dilation = to_3tuple(dilation, 'dilation')
    _check_input(x, weight, groups)
    if keeps_float32(x, groups, weight, stride):  # stems, slow bfloat16 shapes (flat_conv)
        with torch.autocast('cpu', enabled=False):
            return acs_conv3d(float32_input(x), weight, bias, stride, padding, dilation, groups,
                              kernel_split)
    k = weight.shape[-1]
    fold = routes_bf16(x)  # CPU bfloat16: every view as a 2D conv (flat_conv)
    if k == 1:  # all three views are the same 1x1x1 kernel
        if fold:
            return flat_conv3d(x, weight, 2, bias, stride, padding, dilation, groups)
        return F.conv3d(x, weight[:, :, None], bias, stride, padding, dilation, groups)
    split = acs_kernel_split(weight.shape[0]) if kernel_split is None else \
        _check_split(kernel_split, weight.shape[0])
    segs = _segments(x.shape[1], weight.shape[0], groups, split)
    plans = _plans(x.shape, k, stride, padding, dilation)
    if torch.is_autocast_enabled(x.device.type):
        # convolution_backward is not autocast-aware: run everything in the autocast dtype.
        dtype = torch.get_autocast_dtype(x.device.type)
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
        with torch.autocast(x.device.type, enabled=False):
            return _ACSConvFunction.apply(x, weight, bias, stride, padding, dilation, segs,
                                          plans, fold)
    return _ACSConvFunction.apply(x, weight, bias, stride, padding, dilation, segs, plans,
                                  fold)


def acs_conv3d_reference(x: torch.Tensor,
                         weight: torch.Tensor,
                         bias: Optional[torch.Tensor] = None,
                         stride: IntOr3 = 1,
                         padding: IntOr3 = 0,
                         dilation: IntOr3 = 1,
                         groups: int = 1,
                         kernel_split: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Algorithm 1 of the paper as written: pad, three ``F.conv3d`` calls and a ``torch.cat``.

    Same arguments and result as :func:`acs_conv3d` (``groups`` must divide every view's
    channel count here); kept as the baseline of ``benchmarks/bench_layers.py``.
    """
    stride, padding = to_3tuple(stride, 'stride'), to_3tuple(padding, 'padding')
    dilation = to_3tuple(dilation, 'dilation')
    _check_input(x, weight, groups)
    k, cout = weight.shape[-1], weight.shape[0]
    split = acs_kernel_split(cout) if kernel_split is None else _check_split(kernel_split, cout)
    opg, ipg = cout // groups, x.shape[1] // groups
    outs, lo = [], 0
    for view, n in zip(VIEWS, split):
        if n == 0:
            continue
        if groups > 1 and (n % opg or lo % opg):
            raise ValueError('acs_conv3d_reference needs every view to hold whole groups')
        axis = VIEW_AXES[view]
        s, p, d = stride[axis - 2], padding[axis - 2], dilation[axis - 2]
        out = conv_output_size(x.shape[axis], k, s, p, d)
        xv = x
        if p != (k // 2) * d or (x.shape[axis] - 1) // s + 1 != out:
            # pad the flat axis, then keep the planes the centre of a K-kernel would hit
            pads = [0] * 6
            pads[2 * (4 - axis)] = pads[2 * (4 - axis) + 1] = p
            xv = F.pad(x, pads).narrow(axis, (k // 2) * d, (out - 1) * s + 1)
        pad3 = list(padding)
        pad3[axis - 2] = 0
        if groups > 1:
            xv = xv.narrow(1, lo // opg * ipg, n // opg * ipg)
        outs.append(
            F.conv3d(xv, weight[lo:lo + n].unsqueeze(axis),
                     None if bias is None else bias[lo:lo + n], stride, pad3, dilation,
                     n // opg if groups > 1 else 1))
        lo += n
    return torch.cat(outs, dim=1)


def view_conv3d(x: torch.Tensor,
                weight: torch.Tensor,
                view: str,
                stride: IntOr3 = 1,
                padding: IntOr3 = 0,
                dilation: IntOr3 = 1,
                groups: int = 1) -> torch.Tensor:
    """All of a 2D weight applied as one view's 3D kernel (no bias); plain autograd.

    Used by the Mean-/Soft-ACS variants, which apply the full weight in all three views.

    Args:
        x (Tensor): (B, Cin, D, H, W).
        weight (Tensor): (Cout, Cin / groups, K, K).
        view (str): ``'axial'`` (1, K, K), ``'coronal'`` (K, 1, K) or ``'sagittal'``
            (K, K, 1).
        stride, padding, dilation (int | tuple[int, int, int]): Per axis (D, H, W).
        groups (int): Defaults to 1.

    Returns:
        Tensor: (B, Cout, Do, Ho, Wo), the shape of a K x K x K ``F.conv3d``.
    """
    stride, padding = to_3tuple(stride, 'stride'), to_3tuple(padding, 'padding')
    dilation = to_3tuple(dilation, 'dilation')
    _check_input(x, weight, groups)
    if view not in VIEW_AXES:
        raise ValueError(f'view must be one of {sorted(VIEW_AXES)}, got {view!r}')
    axis, k = VIEW_AXES[view], weight.shape[-1]
    if keeps_float32(x, groups, weight, stride):  # stems, slow bfloat16 shapes (flat_conv)
        with torch.autocast('cpu', enabled=False):
            return view_conv3d(float32_input(x), weight, view, stride, padding, dilation,
                               groups)
    if routes_bf16(x):  # CPU bfloat16: a 2D conv on the flat axis folded into the batch
        return flat_conv3d(x, weight, axis, None, stride, padding, dilation, groups)
    plan = flat_axis_plan(x.shape[axis], k, stride[axis - 2], padding[axis - 2],
                          dilation[axis - 2])
    pad = list(padding)
    pad[axis - 2] = 0
    if plan.length == 0:  # every output position reads only padding
        shape = [x.shape[0], weight.shape[0]] + [
            conv_output_size(x.shape[a], k, stride[a - 2], padding[a - 2], dilation[a - 2])
            for a in (2, 3, 4)
        ]
        return x.new_zeros(shape) + 0 * weight.sum()
    y = F.conv3d(view_input(x, axis, plan), weight.unsqueeze(axis), None, stride, pad,
                 dilation, groups)
    if not plan.full:
        pads = [0] * 6
        pads[2 * (4 - axis)] = plan.o_lo
        pads[2 * (4 - axis) + 1] = plan.out - plan.o_hi
        y = F.pad(y, pads)
    return y


class ACSConv(Conv2dWeight3d):
    """ACS convolution layer: an ``nn.Conv2d`` whose weights act on (B, C, D, H, W) input.

    Stores the 2D weight (Cout, Cin / groups, K, K) and bias (Cout, ), so a 2D state dict loads
    unchanged; being an ``nn.Conv2d`` subclass, 2D weight initialisers and mmcv's
    ``ConvModule`` work as for the 2D layer.

    Args:
        in_channels (int): Cin.
        out_channels (int): Cout.
        kernel_size (int | tuple[int, int]): K or (K, K).
        stride (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        padding (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 0.
        dilation (int | tuple[int, int, int]): Per axis (D, H, W). Defaults to 1.
        groups (int): Defaults to 1. Any value dividing Cin and Cout works.
        bias (bool): Defaults to True.
        padding_mode (str): Only ``'zeros'``. Defaults to ``'zeros'``.
        kernel_split (tuple[int, int, int], optional): Output channels of the (axial,
            coronal, sagittal) views. Defaults to :func:`acs_kernel_split` of Cout.

    Shape:
        x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo), as ``nn.Conv3d`` with a
        K x K x K kernel and the same stride / padding / dilation.
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
                 dtype=None,
                 kernel_split: Optional[Sequence[int]] = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)
        self.kernel_split = acs_kernel_split(out_channels) if kernel_split is None else \
            _check_split(kernel_split, out_channels)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', kernel_split={self.kernel_split}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo)."""
        return acs_conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                          self.groups, self.kernel_split)


MODELS.register_module('ACSConv', module=ACSConv)
