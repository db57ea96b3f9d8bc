"""RECIST long / short diameters estimated from a predicted lesion mask.

RECIST (as annotated in DeepLesion): the long axis is the longest chord of the lesion on the
slice; the short axis is the longest chord perpendicular to it.  No library computes this
from a mask (scikit-image's ``regionprops`` gives the axes of the fitted *ellipse*, not the
chords), so it is done here: the long axis is the largest distance between two convex-hull
points of the mask (the Feret diameter); the short axis is the widest extent of the mask's
pixels perpendicular to it, taken in one-pixel strips along the long axis.  Distances are in
mm (pixel spacing applied before measuring) and run between boundary pixel centres.
"""
from typing import Optional, Sequence

import cv2
import numpy as np

__all__ = ['recist_from_mask']


def recist_from_mask(mask: np.ndarray, pixel_spacing: Sequence[float] = (1.0, 1.0)
                     ) -> Optional[dict]:
    """Estimate RECIST axes from a binary mask.

    Args:
        mask (np.ndarray): (H, W) bool / 0-1 mask of one lesion.
        pixel_spacing (Sequence[float]): (sx, sy) mm per column / row. Default: (1, 1).

    Returns:
        dict | None: None for an empty mask, else ``recist`` (8 floats, pixels, 0-based:
        long axis x1, y1, x2, y2 then short axis x3, y3, x4, y4; as in the DeepLesion json),
        ``long_diameter_mm`` and ``short_diameter_mm`` (floats).
    """
    m = np.ascontiguousarray(np.asarray(mask) > 0, dtype=np.uint8)
    if not m.any():
        return None
    sx, sy = float(pixel_spacing[0]), float(pixel_spacing[1])
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)  # (N, 2) x, y
    mm = pts * (sx, sy)
    hull = cv2.convexHull(mm.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    d2 = ((hull[:, None] - hull[None]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmax(d2), d2.shape)
    long_mm = float(np.sqrt(d2[i, j]))
    p1, p2 = hull[i], hull[j]
    if long_mm == 0:  # a single pixel
        x, y = pts[0]
        return dict(recist=[x, y, x, y, x, y, x, y], long_diameter_mm=0.0,
                    short_diameter_mm=0.0)
    u = (p2 - p1) / long_mm
    v = np.array([-u[1], u[0]])
    # all mask pixels (not only the boundary): a strip across a filled region then always
    # holds pixels near both ends of the chord, whatever the long axis' angle
    ys, xs = np.nonzero(m)
    full = np.stack([xs, ys], 1).astype(np.float64) * (sx, sy)
    t = (full - p1) @ u
    s = (full - p1) @ v
    strip = max(sx, sy)  # one pixel wide strips across the long axis
    bins = np.floor(t / strip).astype(np.int64)
    best, short = None, 0.0
    order = np.argsort(bins, kind='stable')
    b_sorted = bins[order]
    starts = np.flatnonzero(np.r_[True, b_sorted[1:] != b_sorted[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(order)]):
        idx = order[a:b]
        lo, hi = idx[np.argmin(s[idx])], idx[np.argmax(s[idx])]
        width = s[hi] - s[lo]
        if width > short:
            short, best = float(width), (lo, hi)
    to_px = np.array([sx, sy])
    q1, q2 = p1 / to_px, p2 / to_px
    if best is None:
        q3 = q4 = (q1 + q2) / 2
    else:
        # put the short axis endpoints on one line perpendicular to the long axis
        tm = (t[best[0]] + t[best[1]]) / 2
        q3 = (p1 + tm * u + s[best[0]] * v) / to_px
        q4 = (p1 + tm * u + s[best[1]] * v) / to_px
    recist = [float(c) for c in (*q1, *q2, *q3, *q4)]
    return dict(recist=recist, long_diameter_mm=long_mm, short_diameter_mm=short)
