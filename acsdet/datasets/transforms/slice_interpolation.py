"""Slice-thickness normalisation: which slices to read and how to blend them.

The multi-slice input holds ``D`` slices centred on the key slice, ``target_interval`` mm apart
(2 mm in the paper).  Output slice ``j`` (``j = -(D-1)/2 .. (D-1)/2``) sits at the fractional
source position ``p_j = key + j * target_interval / slice_interval``.  When ``p_j`` is
fractional it is linearly interpolated from the two bracketing source slices with weights
from *that* position (``floor(p_j)`` gets ``1 - frac(p_j)``, the next slice ``frac(p_j)``);
published pipelines reuse the weights of ``j = 1`` for every ``j``, which is wrong whenever
``2 / slice_interval`` is not an integer.  Positions outside ``slice_range`` are clamped to
the nearest existing slice (edge replication).

The plan is computed once per sample and each needed PNG is read once.
"""
from typing import Callable, NamedTuple, Sequence

import cv2
import numpy as np

__all__ = ['SliceBlendPlan', 'slice_blend_plan', 'blend_slices']


class SliceBlendPlan(NamedTuple):
    """How to build the ``D`` output slices.

    Attributes:
        positions (np.ndarray): (D,) float64 wanted source positions (after clamping).
        lower (np.ndarray): (D,) int64 lower bracketing slice index.
        upper (np.ndarray): (D,) int64 upper bracketing slice index (``== lower`` when exact).
        weight_upper (np.ndarray): (D,) float64 weight of ``upper`` (``1 - w`` goes to lower).
        needed (tuple[int]): Sorted distinct slice indices to read.
    """
    positions: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    weight_upper: np.ndarray
    needed: tuple


def slice_blend_plan(key_slice: int, slice_range: Sequence[int], num_slices: int,
                     slice_interval: float, target_interval: float = 2.0) -> SliceBlendPlan:
    """Plan the thickness-normalised stack around a key slice.

    Args:
        key_slice (int): Index of the key slice.
        slice_range (Sequence[int]): ``(first, last)`` available slice indices (inclusive).
        num_slices (int): ``D``, odd (3, 7, 9, ...).
        slice_interval (float): Source slice interval in mm; ``<= 0`` or None disables the
            normalisation (adjacent slices are used).
        target_interval (float): Wanted interval in mm. Default: 2.0.

    Returns:
        SliceBlendPlan: Positions, bracketing indices and weights.
    """
    if num_slices < 1 or num_slices % 2 == 0:
        raise ValueError(f'num_slices must be odd and positive, got {num_slices}')
    first, last = int(slice_range[0]), int(slice_range[1])
    if not first <= key_slice <= last:
        raise ValueError(f'key slice {key_slice} outside slice_range [{first}, {last}]')
    half = num_slices // 2
    step = target_interval / slice_interval if slice_interval and slice_interval > 0 else 1.0
    offsets = np.arange(-half, half + 1, dtype=np.float64) * step
    pos = np.clip(key_slice + offsets, first, last)
    lower = np.floor(pos + 1e-6).astype(np.int64)
    frac = pos - lower
    frac[np.abs(frac) < 1e-6] = 0.0
    upper = np.minimum(lower + (frac > 0), last)
    needed = tuple(sorted(set(lower.tolist()) | set(upper[frac > 0].tolist())))
    return SliceBlendPlan(pos, lower, upper, frac, needed)


def blend_slices(plan: SliceBlendPlan, read: Callable[[int], np.ndarray]) -> np.ndarray:
    """Read the needed slices once and blend them into an (H, W, D) stack.

    Args:
        plan (SliceBlendPlan): From :func:`slice_blend_plan`.
        read (Callable[[int], np.ndarray]): Slice index -> (H, W) float32 image.

    Returns:
        np.ndarray: (H, W, D) float32.
    """
    cache = {i: read(i) for i in plan.needed}
    shapes = {a.shape for a in cache.values()}
    if len(shapes) != 1:
        raise ValueError(f'slices of one stack differ in shape: {sorted(shapes)}')
    shapes.pop()
    # blend each output slice as a contiguous 2D image, then interleave once with cv2.merge
    # (writing out[:, :, j] slice by slice is strided and twice as slow)
    planes = []
    for lo, hi, wt in zip(plan.lower, plan.upper, plan.weight_upper):
        if wt == 0.0:
            planes.append(cache[int(lo)])
        else:
            planes.append(cv2.addWeighted(cache[int(lo)], 1.0 - float(wt), cache[int(hi)],
                                          float(wt), 0.0))
    out = cv2.merge(planes) if len(planes) > 1 else planes[0][:, :, None].copy()
    return out.reshape(out.shape[0], out.shape[1], len(planes))
