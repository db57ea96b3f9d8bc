"""Sliding-window inference over whole volumes (or images), with overlap and blending.

Written here because MONAI's ``sliding_window_inference`` (the well-kept implementation) is
not an acsdet dependency; this one follows its rules:

* window starts per axis: ``0, step, 2 step, ...`` with ``step = max(1, floor(window *
  (1 - overlap)))``, plus a last window flush with the end, so every voxel is covered and
  no window leaves the volume;
* an axis shorter than the window is zero-padded at its end to the window size (and the
  output cropped back), so any volume size works with any window;
* overlapping predictions are averaged with per-voxel weights ``w``:
  ``out = sum_windows(w * pred) / sum_windows(w)``.  ``blend='constant'``: ``w = 1`` (plain
  mean).  ``blend='gaussian'``: ``w`` is a separable Gaussian centred in the window with
  ``sigma = sigma_scale * window`` per axis (nnU-Net / MONAI use ``sigma_scale=0.125``),
  divided by its maximum and floored at ``1e-3`` so that window borders still count
  (voxels covered only by a border keep their prediction exactly).

Because every voxel's weights sum to the denominator, a model that is the identity per voxel
gives back its input (tested for overlaps and sizes not divisible by the window).
"""
import itertools
from typing import Callable, List, Sequence, Union

import torch
import torch.nn.functional as F

__all__ = ['sliding_window_inference', 'window_starts', 'blend_weights']

BLEND_MODES = ('constant', 'gaussian')


def window_starts(size: int, window: int, overlap: float) -> List[int]:
    """Start indices of the windows along one axis.

    Args:
        size (int): Axis length (after padding to at least ``window``).
        window (int): Window length.
        overlap (float): Fraction of the window shared by neighbours, in [0, 1).

    Returns:
        list[int]: Increasing starts, first 0, last ``size - window``.
    """
    if window <= 0:
        raise ValueError(f'window must be positive, got {window}')
    if not 0 <= overlap < 1:
        raise ValueError(f'overlap must be in [0, 1), got {overlap}')
    if size <= window:
        return [0]
    step = max(1, int(window * (1 - overlap)))
    starts = list(range(0, size - window + 1, step))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def blend_weights(window: Sequence[int], blend: str = 'constant', sigma_scale: float = 0.125,
                  device=None, dtype=torch.float32) -> torch.Tensor:
    """Per-voxel weights of one window.

    Args:
        window (Sequence[int]): Window size per spatial axis.
        blend (str): ``'constant'`` or ``'gaussian'``. Defaults to ``'constant'``.
        sigma_scale (float): Gaussian sigma as a fraction of the window. Defaults to 0.125.
        device, dtype: Of the result. Defaults to CPU float32.

    Returns:
        Tensor: ``window``-shaped weights, maximum 1, all >= 1e-3.
    """
    if blend not in BLEND_MODES:
        raise ValueError(f'blend must be one of {BLEND_MODES}, got {blend!r}')
    if blend == 'constant':
        return torch.ones(tuple(window), device=device, dtype=dtype)
    weights = torch.ones((), device=device, dtype=torch.float64)
    for n in window:
        pos = torch.arange(n, device=device, dtype=torch.float64) - (n - 1) / 2
        g = torch.exp(-0.5 * (pos / max(sigma_scale * n, 1e-6))**2)
        weights = weights[..., None] * g
    weights = weights / weights.max()
    return weights.clamp_min(1e-3).to(dtype)


def sliding_window_inference(inputs: torch.Tensor,
                             predictor: Callable[[torch.Tensor], torch.Tensor],
                             window: Union[int, Sequence[int]],
                             overlap: float = 0.25,
                             blend: str = 'constant',
                             sigma_scale: float = 0.125,
                             sw_batch_size: int = 1) -> torch.Tensor:
    """Run ``predictor`` on overlapping windows of ``inputs`` and stitch the outputs.

    Args:
        inputs (Tensor): (B, C, *S), S the N spatial sizes (e.g. D, H, W).
        predictor (callable): Maps (b, C, *window) to (b, K, *window) (same spatial size).
        window (int | Sequence[int]): Window size, one int for every axis or N ints.
        overlap (float): Fraction of each window shared with its neighbour, [0, 1).
            Defaults to 0.25.
        blend (str): ``'constant'`` (mean) or ``'gaussian'`` weights, see the module
            docstring. Defaults to ``'constant'``.
        sigma_scale (float): Gaussian sigma / window. Defaults to 0.125.
        sw_batch_size (int): Windows per ``predictor`` call (windows of all B volumes are
            batched together). Defaults to 1.

    Returns:
        Tensor: (B, K, *S) blended outputs, dtype of the predictor's output.
    """
    if inputs.dim() < 3:
        raise ValueError(f'sliding_window_inference: inputs must be (B, C, *S), got shape '
                         f'{tuple(inputs.shape)}')
    spatial = tuple(inputs.shape[2:])
    nd = len(spatial)
    window = (int(window), ) * nd if isinstance(window, int) else tuple(int(w) for w in window)
    if len(window) != nd:
        raise ValueError(f'sliding_window_inference: window {window} has {len(window)} axes, '
                         f'inputs have {nd} spatial axes {spatial}')
    if sw_batch_size < 1:
        raise ValueError(f'sw_batch_size must be >= 1, got {sw_batch_size}')
    padded = tuple(max(s, w) for s, w in zip(spatial, window))
    if padded != spatial:
        pad = []
        for s, p in zip(reversed(spatial), reversed(padded)):
            pad += [0, p - s]
        inputs = F.pad(inputs, pad)
    starts = [window_starts(s, w, overlap) for s, w in zip(padded, window)]
    slices = [(b, tuple(slice(st, st + w) for st, w in zip(corner, window)))
              for b in range(inputs.shape[0]) for corner in itertools.product(*starts)]
    weights = blend_weights(window, blend, sigma_scale, device=inputs.device, dtype=torch.float64)
    out = norm = None
    for i in range(0, len(slices), sw_batch_size):
        chunk = slices[i:i + sw_batch_size]
        batch = torch.stack([inputs[(b, slice(None)) + sl] for b, sl in chunk])
        pred = predictor(batch)
        if pred.dim() != nd + 2 or tuple(pred.shape[2:]) != window:
            raise ValueError(f'sliding_window_inference: predictor returned shape '
                             f'{tuple(pred.shape)} for windows {tuple(batch.shape)}; expected '
                             f'(b, K, *{window})')
        if out is None:
            out = pred.new_zeros((inputs.shape[0], pred.shape[1]) + padded)
            w = weights.to(pred.dtype)
            norm = w.new_zeros(padded)
        for (b, sl), p in zip(chunk, pred):
            out[(b, slice(None)) + sl] += p * w
    # the weight sum is the same for every volume of the batch: accumulate it once
    for corner in itertools.product(*starts):
        norm[tuple(slice(st, st + n) for st, n in zip(corner, window))] += w
    out = out / norm
    return out[(slice(None), slice(None)) + tuple(slice(0, s) for s in spatial)]
