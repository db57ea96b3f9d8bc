"""Segmentation slices: image | ground truth | prediction panels of a few axial slices.

Drawn with cv2 on the label maps of :class:`acsdet.models.segmentors.VolumeSegmentor` (one
integer per voxel, :data:`~acsdet.utils.IGNORE_INDEX` for ignored voxels).  The image is the
network input (already normalised, so no CT window applies): it is shown in the 1st-99th
percentile range of its own intensities, the same range for every slice of a volume.  Labels
are tinted with a fixed colour table (:data:`SEG_PALETTE`, class 1 first, cycling after the
last colour); background (0) and ignored voxels stay untinted.
"""
import math
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from acsdet.utils.segmentation_labels import IGNORE_INDEX

__all__ = ['SEG_PALETTE', 'label_colors', 'intensity_window', 'pick_slices',
           'overlay_labels', 'render_seg_slices']

#: RGB of labels 1, 2, 3, ... (label k: ``SEG_PALETTE[(k - 1) % len(SEG_PALETTE)]``); 0 is
#: transparent.  Saturated and far from grey, so a tint is visible on any image.
SEG_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (255, 0, 0),      # 1 red
    (0, 220, 0),      # 2 green
    (0, 96, 255),     # 3 blue
    (255, 220, 0),    # 4 yellow
    (255, 0, 255),    # 5 magenta
    (0, 230, 230),    # 6 cyan
    (255, 128, 0),    # 7 orange
    (150, 60, 255),   # 8 violet
)

_GAP = 4
_HEADER = 20
_BACKGROUND = 48
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TEXT = (235, 235, 235)
_TITLES = ('image', 'ground truth', 'prediction')
_MAX_PERCENTILE_VOXELS = 1 << 20


def label_colors(labels: np.ndarray, palette: Sequence[Sequence[int]] = SEG_PALETTE,
                 ignore_index: Optional[int] = IGNORE_INDEX) -> Tuple[np.ndarray, np.ndarray]:
    """Colour of every pixel of a label map.

    Args:
        labels (np.ndarray): (H, W) integer labels.
        palette (Sequence[Sequence[int]]): RGB of labels 1, 2, ... (cycled). Default:
            :data:`SEG_PALETTE`.
        ignore_index (int, optional): Label left untinted, as 0. Default: 255.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W, 3) uint8 RGB and the (H, W) bool mask of the
        tinted pixels (labels > 0, not ``ignore_index``).
    """
    labels = np.asarray(labels).astype(np.int64)
    table = np.asarray(palette, np.uint8).reshape(-1, 3)
    tinted = labels > 0
    if ignore_index is not None:
        tinted &= labels != ignore_index
    colours = np.zeros(labels.shape + (3, ), np.uint8)
    colours[tinted] = table[(labels[tinted] - 1) % len(table)]
    return colours, tinted


def intensity_window(image: np.ndarray, low_percentile: float = 1.0,
                     high_percentile: float = 99.0) -> Tuple[float, float]:
    """(low, high) display range of a normalised image: percentiles of its finite values.

    Args:
        image (np.ndarray): Any shape, e.g. the (D, H, W) volume (one range for all slices).
        low_percentile (float): Default: 1.
        high_percentile (float): Default: 99.

    Returns:
        tuple[float, float]: ``high > low`` (a constant image gets ``(v - 0.5, v + 0.5)``, an
        image without finite values ``(0, 1)``). Volumes over 2^20 voxels are subsampled
        evenly first.
    """
    if not 0 <= low_percentile < high_percentile <= 100:
        raise ValueError(f'percentiles must satisfy 0 <= low < high <= 100, got '
                         f'({low_percentile}, {high_percentile})')
    flat = np.asarray(image, np.float32).reshape(-1)
    if flat.size > _MAX_PERCENTILE_VOXELS:
        flat = flat[::math.ceil(flat.size / _MAX_PERCENTILE_VOXELS)]
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(flat, (low_percentile, high_percentile)))
    if not high > low:
        return low - 0.5, low + 0.5
    return low, high


def _to_grey(image: np.ndarray, window: Tuple[float, float]) -> np.ndarray:
    low, high = window
    grey = (np.nan_to_num(np.asarray(image, np.float32), nan=low) - low) * np.float32(
        255.0 / (high - low))
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def pick_slices(depth: int, num_slices: int, gt: Optional[np.ndarray] = None,
                ignore_index: Optional[int] = IGNORE_INDEX) -> List[int]:
    """Evenly spaced axial slices, through the ground-truth foreground when there is one.

    The candidates (slices holding a foreground label of ``gt``, else all ``depth`` slices)
    are cut into ``num_slices`` equal runs and the middle of each run is taken, so one slice
    is the middle one and more spread symmetrically around it.

    Args:
        depth (int): Number of slices D.
        num_slices (int): How many (fewer when there are fewer candidates).
        gt (np.ndarray, optional): (D, H, W) ground-truth labels.
        ignore_index (int, optional): Label that is not foreground. Default: 255.

    Returns:
        list[int]: Sorted distinct slice indices.
    """
    if num_slices < 1:
        raise ValueError(f'num_slices must be >= 1, got {num_slices}')
    candidates = np.arange(depth)
    if gt is not None:
        fg = np.asarray(gt) > 0
        if ignore_index is not None:
            fg &= np.asarray(gt) != ignore_index
        fg_slices = np.flatnonzero(fg.reshape(depth, -1).any(axis=1))
        if fg_slices.size:
            candidates = fg_slices
    n = len(candidates)
    picks = [int(candidates[int((i + 0.5) * n / num_slices)]) for i in range(num_slices)]
    return sorted(set(picks))


def overlay_labels(grey: np.ndarray, labels: Optional[np.ndarray], alpha: float = 0.5,
                   palette: Sequence[Sequence[int]] = SEG_PALETTE,
                   ignore_index: Optional[int] = IGNORE_INDEX) -> np.ndarray:
    """Tint a grey slice with its labels.

    Args:
        grey (np.ndarray): (H, W) uint8.
        labels (np.ndarray, optional): (H, W) labels; None: the grey slice as RGB.
        alpha (float): Opacity of the tint. Default: 0.5.
        palette, ignore_index: See :func:`label_colors`.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB: ``(1 - alpha) * grey + alpha * colour`` where a label
        is tinted, grey elsewhere.
    """
    rgb = np.repeat(np.asarray(grey, np.uint8)[:, :, None], 3, axis=2)
    if labels is None:
        return rgb
    colours, tinted = label_colors(labels, palette, ignore_index)
    blend = (1.0 - alpha) * rgb[tinted].astype(np.float32) + alpha * colours[tinted]
    rgb[tinted] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return rgb


def _label(img: np.ndarray, text: str, x: int, y: int, scale: float = 0.4) -> None:
    """Light text on a dark box whose top-left corner is (x, y) (readable on any panel)."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    cv2.rectangle(img, (x, y), (x + tw + 3, y + th + base + 3), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 2, y + th + 2), _FONT, scale, _TEXT, 1, cv2.LINE_AA)


def _as_volume(name: str, value: Optional[np.ndarray], shape=None) -> Optional[np.ndarray]:
    if value is None:
        return None
    value = np.asarray(value)
    if value.ndim == 2:
        value = value[None]
    if value.ndim != 3:
        raise ValueError(f'render_seg_slices: {name} must be (D, H, W) or (H, W), got shape '
                         f'{value.shape}')
    if shape is not None and value.shape != shape:
        raise ValueError(f'render_seg_slices: {name} shape {value.shape} != image shape '
                         f'{shape}')
    return value


def render_seg_slices(image: np.ndarray, gt: Optional[np.ndarray],
                      pred: Optional[np.ndarray], num_slices: int = 3, alpha: float = 0.5,
                      min_panel_size: int = 128,
                      window: Optional[Tuple[float, float]] = None,
                      palette: Sequence[Sequence[int]] = SEG_PALETTE,
                      ignore_index: Optional[int] = IGNORE_INDEX) -> np.ndarray:
    """A picture of a few axial slices: one row per slice, panels image | GT | prediction.

    Args:
        image (np.ndarray): (D, H, W) volume or (H, W) image, one channel, any float scale.
        gt (np.ndarray, optional): Ground-truth labels of the same shape; None: the GT
            panel shows the plain image and its title says "(none)".
        pred (np.ndarray, optional): Predicted labels of the same shape; None as ``gt``.
        num_slices (int): Rows of a volume (:func:`pick_slices`); an (H, W) image has one
            row. Default: 3.
        alpha (float): Label opacity. Default: 0.5.
        min_panel_size (int): Panels are the slice scaled up (nearest neighbour) by the
            smallest integer ``s >= 1`` with ``s * max(H, W) >= min_panel_size``. Default: 128.
        window (tuple[float, float], optional): Display range; None:
            :func:`intensity_window` of the whole ``image`` (1st-99th percentile).
        palette, ignore_index: See :func:`label_colors`.

    Returns:
        np.ndarray: (20 + 4 + R * (s*H + 4), 4 + 3 * (s*W + 4), 3) uint8 RGB, R the number of
        rows: a 20-pixel header with the column titles, then each row's three panels with
        4-pixel gaps; a volume's image panel is labelled with its slice index ``z=<i>``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'render_seg_slices: alpha must lie in [0, 1], got {alpha}')
    if int(min_panel_size) < 1:
        raise ValueError(f'render_seg_slices: min_panel_size must be >= 1, got '
                         f'{min_panel_size}')
    is_2d = np.ndim(image) == 2
    vol = _as_volume('image', image)
    gt_vol = _as_volume('gt', gt, vol.shape)
    pred_vol = _as_volume('pred', pred, vol.shape)
    depth, h, w = vol.shape
    window = intensity_window(vol) if window is None else window
    slices = [0] if is_2d else pick_slices(depth, num_slices, gt_vol, ignore_index)
    s = max(1, math.ceil(int(min_panel_size) / max(h, w)))
    ph, pw = s * h, s * w
    sheet = np.full((_HEADER + _GAP + len(slices) * (ph + _GAP), _GAP + 3 * (pw + _GAP), 3),
                    _BACKGROUND, np.uint8)
    titles = list(_TITLES)
    if gt_vol is None:
        titles[1] += ' (none)'
    if pred_vol is None:
        titles[2] += ' (none)'
    for col, title in enumerate(titles):
        cv2.putText(sheet, title, (_GAP + col * (pw + _GAP) + 2, _HEADER - 6), _FONT, 0.4,
                    _TEXT, 1, cv2.LINE_AA)
    for row, z in enumerate(slices):
        grey = _to_grey(vol[z], window)
        panels = [overlay_labels(grey, None),
                  overlay_labels(grey, None if gt_vol is None else gt_vol[z], alpha, palette,
                                 ignore_index),
                  overlay_labels(grey, None if pred_vol is None else pred_vol[z], alpha,
                                 palette, ignore_index)]
        y = _HEADER + _GAP + row * (ph + _GAP)
        for col, panel in enumerate(panels):
            if s > 1:
                panel = np.repeat(np.repeat(panel, s, axis=0), s, axis=1)
            x = _GAP + col * (pw + _GAP)
            sheet[y:y + ph, x:x + pw] = panel
        if not is_2d:
            _label(sheet, f'z={z}', _GAP, y)
    return sheet
