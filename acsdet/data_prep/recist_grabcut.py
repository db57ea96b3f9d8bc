"""Pseudo-masks from RECIST diameters: cv2.grabCut on a crop, with an ellipse fallback.

DeepLesion only has RECIST diameters (a long and a short axis on the key slice).  A lesion mask
for the mask head is made as in the published pipeline (Zlocha et al., MICCAI 2019), with its
bugs fixed:

* the key slice is windowed to 8 bit by clipping *before* scaling (the published code scales to
  [-50, 205] and casts to uint8, so values wrap around);
* GrabCut runs on a crop around the box plus a margin, not on the whole 512x512 image
  (same seeds, same result up to the background colour model, tens of times faster);
* seeds: outside the box = definite background, the box = probable foreground, the
  quadrilateral through the RECIST end points (long a, short a, long b, short b) and the two
  diameters themselves = definite foreground; ``GC_INIT_WITH_MASK``, 3 iterations;
* the component connected to the diameters is kept, and an implausible result (GrabCut error,
  empty, not covering the diameters, filling the whole box, leaking past the box) falls back to
  the ellipse through the four RECIST end points (MULAN's mask), with the reason recorded.

cv2.grabCut does the segmentation; only the seeding, the ellipse (no library draws an ellipse
through two non-bisecting chords) and the plausibility checks are written here.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'GrabCutResult', 'window_to_uint8', 'recist_quadrilateral', 'recist_ellipse_polygon',
    'recist_ellipse_mask', 'recist_grabcut_mask', 'recist_segment_coverage'
]


@dataclass
class GrabCutResult:
    """The pseudo-mask of one lesion.

    Attributes:
        mask (np.ndarray): (H, W) bool, in the frame of the full image.
        fallback (bool): True when the ellipse was used instead of GrabCut.
        reason (str): ``'ok'`` or why GrabCut was rejected (``'grabcut_error'``, ``'empty'``,
            ``'misses_recist'``, ``'fills_box'``, ``'leaks_box'``).
        area (int): Mask area in pixels.
        ellipse_area (int): Area of the RECIST ellipse in pixels.
    """
    mask: np.ndarray
    fallback: bool
    reason: str
    area: int
    ellipse_area: int


def window_to_uint8(hu: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """Window a HU image to uint8 without wrap-around (clip first, then scale).

    Args:
        hu (np.ndarray): (H, W) HU values (any numeric dtype).
        window (Sequence[float]): ``(low, high)`` HU.

    Returns:
        np.ndarray: (H, W) uint8; ``low`` -> 0, ``high`` -> 255.
    """
    low, high = float(window[0]), float(window[1])
    if not high > low:
        raise ValueError(f'window high must exceed low, got {tuple(window)}')
    scaled = (np.clip(hu.astype(np.float32), low, high) - low) * (255.0 / (high - low))
    return np.rint(scaled).astype(np.uint8)


def recist_quadrilateral(recist: Sequence[float]) -> np.ndarray:
    """The quadrilateral through the RECIST end points.

    Args:
        recist (Sequence[float]): 8 floats ``x1, y1, x2, y2`` (long) ``x3, y3, x4, y4`` (short).

    Returns:
        np.ndarray: (4, 2) float32 points in the order long a, short a, long b, short b.
    """
    r = np.asarray(recist, dtype=np.float32).reshape(4, 2)
    return r[[0, 2, 1, 3]]


def _axes_centre(pts: np.ndarray) -> np.ndarray:
    """Intersection of the long and short axes, or their mean when they do not cross."""
    p1, p2, p3, p4 = pts.astype(np.float64)
    d1, d2 = p2 - p1, p4 - p3
    den = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(den) > 1e-9:
        t = ((p3[0] - p1[0]) * d2[1] - (p3[1] - p1[1]) * d2[0]) / den
        u = ((p3[0] - p1[0]) * d1[1] - (p3[1] - p1[1]) * d1[0]) / den
        if -0.05 <= t <= 1.05 and -0.05 <= u <= 1.05:
            return p1 + t * d1
    return pts.mean(axis=0)


def recist_ellipse_polygon(recist: Sequence[float], points_per_quarter: int = 16) -> np.ndarray:
    """A closed curve through the four RECIST end points (MULAN's "ellipse").

    Each quarter between consecutive end points ``a``, ``b`` (order long a, short a, long b,
    short b) is the arc ``c + cos(t) (a - c) + sin(t) (b - c)``, ``t`` in [0, pi/2], with ``c``
    the crossing of the diameters: an exact ellipse when the short axis bisects the long one.

    Args:
        recist (Sequence[float]): 8 floats (see :func:`recist_quadrilateral`).
        points_per_quarter (int): Vertices per quarter arc. Default: 16.

    Returns:
        np.ndarray: (4 * points_per_quarter, 2) float64 polygon vertices.
    """
    quad = recist_quadrilateral(recist).astype(np.float64)
    c = _axes_centre(np.asarray(recist, dtype=np.float64).reshape(4, 2))
    t = np.linspace(0.0, np.pi / 2, points_per_quarter, endpoint=False)[:, None]
    arcs = [c + np.cos(t) * (quad[i] - c) + np.sin(t) * (quad[(i + 1) % 4] - c)
            for i in range(4)]
    return np.concatenate(arcs, axis=0)


def _fill(shape: Tuple[int, int], polygon: np.ndarray, offset=(0, 0)) -> np.ndarray:
    """Rasterise a float polygon (x, y) into a uint8 mask with sub-pixel precision."""
    shift = 4
    pts = np.rint((polygon - np.asarray(offset, np.float64)) * (1 << shift)).astype(np.int32)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [pts.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=shift)
    return mask


def recist_ellipse_mask(recist: Sequence[float], shape: Tuple[int, int]) -> np.ndarray:
    """Rasterise the RECIST ellipse (:func:`recist_ellipse_polygon`).

    Args:
        recist (Sequence[float]): 8 floats, 0-based pixels.
        shape (tuple[int, int]): ``(H, W)`` of the output.

    Returns:
        np.ndarray: (H, W) bool.
    """
    mask = _fill(shape, recist_ellipse_polygon(recist))
    _draw_diameters(mask, recist, 1)
    return mask.astype(bool)


def _draw_diameters(mask: np.ndarray, recist: Sequence[float], value: int,
                    offset=(0, 0)) -> None:
    r = np.rint(np.asarray(recist, np.float64).reshape(4, 2) - offset).astype(np.int32)
    cv2.line(mask, tuple(map(int, r[0])), tuple(map(int, r[1])), value, 1)
    cv2.line(mask, tuple(map(int, r[2])), tuple(map(int, r[3])), value, 1)


def recist_segment_coverage(mask: np.ndarray, recist: Sequence[float],
                            samples: int = 32) -> float:
    """Fraction of points sampled along both RECIST diameters that lie inside ``mask``.

    Args:
        mask (np.ndarray): (H, W) bool.
        recist (Sequence[float]): 8 floats, 0-based pixels.
        samples (int): Points per diameter. Default: 32.

    Returns:
        float: In [0, 1].
    """
    r = np.asarray(recist, np.float64).reshape(2, 2, 2)
    t = np.linspace(0.0, 1.0, samples)[:, None]
    pts = np.concatenate([r[i, 0] + t * (r[i, 1] - r[i, 0]) for i in range(2)])
    xy = np.rint(pts).astype(np.int64)
    h, w = mask.shape
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    hits = np.zeros(len(xy), bool)
    hits[inside] = mask[xy[inside, 1], xy[inside, 0]]
    return float(hits.mean())


def recist_grabcut_mask(hu: np.ndarray, recist: Sequence[float], bbox: Sequence[float],
                        window: Sequence[float] = (-175.0, 275.0), margin: float = 0.25,
                        min_margin: int = 10, iterations: int = 3, crop: bool = True,
                        max_box_fill: float = 0.95, min_coverage: float = 0.9,
                        seed: Optional[int] = 0) -> GrabCutResult:
    """GrabCut pseudo-mask of one lesion from its RECIST diameters and box.

    Args:
        hu (np.ndarray): (H, W) key slice in HU (or already uint8 when ``window`` is None).
        recist (Sequence[float]): 8 floats, 0-based pixels (long axis then short axis).
        bbox (Sequence[float]): ``x1, y1, x2, y2``, 0-based pixels.
        window (Sequence[float] or None): HU window for the 8-bit image. Default: (-175, 275).
        margin (float): Crop margin as a fraction of the box's longer side. Default: 0.25.
        min_margin (int): Minimum crop margin in pixels (background colour samples).
            Default: 10.
        iterations (int): GrabCut iterations. Default: 3.
        crop (bool): Run on the crop (True) or the whole image (False, the published
            baseline). Default: True.
        max_box_fill (float): A mask covering more than this fraction of the box is rejected.
            Default: 0.95.
        min_coverage (float): Minimum fraction of the diameters inside the mask. Default: 0.9.
        seed (int, optional): Seed for OpenCV's RNG (GrabCut's k-means), for reproducible
            masks. Default: 0.

    Returns:
        GrabCutResult: The (H, W) mask in the full image frame and how it was made.
    """
    if hu.ndim != 2:
        raise ValueError(f'expected an (H, W) slice, got shape {hu.shape}')
    h, w = hu.shape
    x1, y1, x2, y2 = (float(v) for v in bbox)
    bx1, by1 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
    bx2, by2 = min(int(np.ceil(x2)), w - 1), min(int(np.ceil(y2)), h - 1)
    if crop:
        m = max(min_margin, int(np.ceil(margin * max(x2 - x1, y2 - y1))))
        cx1, cy1 = max(bx1 - m, 0), max(by1 - m, 0)
        cx2, cy2 = min(bx2 + m, w - 1), min(by2 + m, h - 1)
    else:
        cx1, cy1, cx2, cy2 = 0, 0, w - 1, h - 1
    patch = hu[cy1:cy2 + 1, cx1:cx2 + 1]
    img8 = patch if window is None else window_to_uint8(patch, window)
    img8 = np.ascontiguousarray(np.repeat(img8[:, :, None], 3, axis=2))
    ph, pw = img8.shape[:2]
    off = (cx1, cy1)

    seeds = np.full((ph, pw), cv2.GC_BGD, np.uint8)
    seeds[by1 - cy1:by2 - cy1 + 1, bx1 - cx1:bx2 - cx1 + 1] = cv2.GC_PR_FGD
    quad = _fill((ph, pw), recist_quadrilateral(recist).astype(np.float64), off)
    seeds[quad > 0] = cv2.GC_FGD
    _draw_diameters(seeds, recist, cv2.GC_FGD, off)

    ellipse_full = recist_ellipse_mask(recist, (h, w))
    ellipse_area = int(ellipse_full.sum())
    box_area = max((bx2 - bx1 + 1) * (by2 - by1 + 1), 1)

    reason = 'ok'
    crop_mask = None
    try:
        if seed is not None:
            cv2.setRNGSeed(seed)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        out, _, _ = cv2.grabCut(img8, seeds.copy(), None, bgd, fgd, iterations,
                                cv2.GC_INIT_WITH_MASK)
        crop_mask = ((out == cv2.GC_FGD) | (out == cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error:
        reason = 'grabcut_error'
    if crop_mask is not None:
        # keep the component(s) connected to the definite-foreground seeds
        n, labels = cv2.connectedComponents(crop_mask, connectivity=8)
        if n > 2:
            keep = np.unique(labels[(seeds == cv2.GC_FGD) & (crop_mask > 0)])
            crop_mask = np.isin(labels, keep[keep > 0]).astype(np.uint8)
        area = int(crop_mask.sum())
        full = np.zeros((h, w), bool)
        full[cy1:cy2 + 1, cx1:cx2 + 1] = crop_mask > 0
        inside_box = int(full[by1:by2 + 1, bx1:bx2 + 1].sum())
        if area == 0:
            reason = 'empty'
        elif recist_segment_coverage(full, recist) < min_coverage:
            reason = 'misses_recist'
        elif area - inside_box > 0.1 * area:
            reason = 'leaks_box'
        elif area > max_box_fill * box_area:
            reason = 'fills_box'
        if reason == 'ok':
            return GrabCutResult(full, False, reason, area, ellipse_area)
    return GrabCutResult(ellipse_full, True, reason, ellipse_area, ellipse_area)
