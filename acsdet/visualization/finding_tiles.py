"""Findings of ``tools/infer.py`` ranked, and one zoomed, windowed tile per finding.

A *finding* is one detection of ``detections.json`` (``slices[i].detections[j]``).  The tiles
are drawn with cv2 on the windowed crop *after* zooming, so boxes, mask outlines and RECIST
lines stay one pixel thin however small the lesion is (drawing on the full slice with
``CTDetLocalVisualizer`` and zooming afterwards would blow the lines up with the crop).  The
colours are those of ``CTDetLocalVisualizer``'s predictions.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .ct_window import apply_window

__all__ = ['PRED_COLOR', 'RECIST_COLOR', 'decode_rle', 'top_findings', 'finding_caption',
           'render_finding_tile']

#: RGB of predicted boxes / masks and of RECIST lines (``CTDetLocalVisualizer``'s defaults).
PRED_COLOR = (255, 64, 0)
RECIST_COLOR = (255, 255, 0)
_AIR_HU = -1024.0
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def decode_rle(rle: dict) -> np.ndarray:
    """COCO RLE (``counts`` as str or bytes) -> (H, W) bool mask."""
    counts = rle['counts']
    if isinstance(counts, str):
        rle = dict(rle, counts=counts.encode('ascii'))
    return mask_utils.decode(rle).astype(bool)


def top_findings(slices: Sequence[dict], top_n: int = 16, score_thr: float = 0.0,
                 lesions_3d: Optional[Sequence[dict]] = None) -> List[Dict]:
    """The ``top_n`` highest-scoring detections over all slices.

    Args:
        slices (Sequence[dict]): ``detections.json``'s ``slices``.
        top_n (int): Default: 16.
        score_thr (float): Detections below it are left out. Default: 0.
        lesions_3d (Sequence[dict], optional): ``detections.json``'s ``lesions_3d``; each
            finding then gets the 1-based id of the 3D candidate holding it.

    Returns:
        list[dict]: ``rank`` (1-based), ``slice_index``, ``slice_number``, ``det_rank``
        (rank within its slice), ``detection`` (the dict), ``candidate`` (id or None) and
        ``candidate_volume_mm3`` (or None), sorted by score (ties by slice, then rank).
    """
    member_of = {}
    for cid, cand in enumerate(lesions_3d or (), start=1):
        for s, r in cand['members']:
            member_of[(int(s), int(r))] = (cid, cand.get('volume_mm3'))
    found = [(s['slice_index'], s.get('slice_number', s['slice_index']), rank, det)
             for s in slices for rank, det in enumerate(s['detections'])
             if det['score'] >= score_thr]
    found.sort(key=lambda f: (-f[3]['score'], f[0], f[2]))
    out = []
    for i, (index, number, rank, det) in enumerate(found[:max(int(top_n), 0)], start=1):
        cid, vol = member_of.get((index, rank), (None, None))
        out.append(dict(rank=i, slice_index=index, slice_number=number, det_rank=rank,
                        detection=det, candidate=cid, candidate_volume_mm3=vol))
    return out


def finding_caption(finding: dict) -> List[str]:
    """Two caption lines (ASCII): ``#rank slice N score`` and ``L x S mm`` (+ 3D id)."""
    det = finding['detection']
    first = f'#{finding["rank"]} slice {finding["slice_index"]} s={det["score"]:.2f}'
    if 'long_diameter_mm' in det:
        second = f'L {det["long_diameter_mm"]:.1f} x S {det["short_diameter_mm"]:.1f} mm'
    else:
        bm = det['bbox_mm']
        second = f'box {bm[2] - bm[0]:.1f} x {bm[3] - bm[1]:.1f} mm'
    if finding.get('candidate') is not None:
        second += f'  3D#{finding["candidate"]}'
    return [first, second]


def _crop_matrix(det: dict, tile_size: int, context: float, min_crop: float
                 ) -> Tuple[np.ndarray, float, float, float]:
    """Affine (2, 3) map from slice pixels to tile pixels (cv2 pixel-centre convention)."""
    x1, y1, x2, y2 = (float(v) for v in det['bbox'])
    side = max(min_crop, context * max(x2 - x1, y2 - y1))
    x0, y0 = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2   # crop's top-left edge
    s = tile_size / side
    # continuous coordinates: tile = s * (slice - x0); pixel centres sit at +0.5
    m = np.array([[s, 0, s * (0.5 - x0) - 0.5], [0, s, s * (0.5 - y0) - 0.5]], np.float64)
    return m, s, x0, y0


def render_finding_tile(hu_slice: np.ndarray, finding: dict,
                        window: Union[str, Sequence[float]] = 'soft_tissue',
                        tile_size: int = 160, context: float = 2.5, min_crop: float = 32.0,
                        caption: bool = True) -> np.ndarray:
    """A zoomed crop around one finding with its box, mask and RECIST drawn.

    Args:
        hu_slice (np.ndarray): (H, W) HU of the finding's slice.
        finding (dict): From :func:`top_findings` (``detection`` with ``bbox`` [x1, y1, x2,
            y2] pixel edges; optional ``mask_rle``, ``recist`` (8, pixel indices)).
        window (str | Sequence[float]): CT window. Default: ``'soft_tissue'``.
        tile_size (int): Side of the image part, pixels. Default: 160.
        context (float): Crop side / longer box side. Default: 2.5.
        min_crop (float): Smallest crop side, slice pixels. Default: 32.
        caption (bool): Add the two :func:`finding_caption` lines below. Default: True.

    Returns:
        np.ndarray: (tile_size [+ caption band], tile_size, 3) uint8 RGB.  Outside the slice
        the crop is air (-1024 HU).
    """
    det = finding['detection']
    m, s, x0, y0 = _crop_matrix(det, tile_size, context, min_crop)
    crop = cv2.warpAffine(np.asarray(hu_slice, np.float32), m, (tile_size, tile_size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=_AIR_HU)
    tile = np.repeat(apply_window(crop, window)[:, :, None], 3, axis=2)
    if 'mask_rle' in det:
        mask = cv2.warpAffine(decode_rle(det['mask_rle']).astype(np.uint8), m,
                              (tile_size, tile_size), flags=cv2.INTER_NEAREST)
        fill = mask.astype(bool)
        tile[fill] = (0.65 * tile[fill] + 0.35 * np.array(PRED_COLOR)).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(tile, contours, -1, PRED_COLOR, 1)
    x1, y1, x2, y2 = (float(v) for v in det['bbox'])
    shift = 4  # cv2 fixed-point sub-pixel coordinates: value * 2**shift
    corner = [int(round(((v - o) * s - 0.5) * 2 ** shift))
              for v, o in ((x1, x0), (y1, y0), (x2, x0), (y2, y0))]
    cv2.rectangle(tile, tuple(corner[:2]), tuple(corner[2:]), PRED_COLOR, 1, cv2.LINE_AA, shift)
    if 'recist' in det:
        pts = np.asarray(det['recist'], np.float64).reshape(4, 2)
        pts = (pts + 0.5 - (x0, y0)) * s - 0.5
        fixed = [tuple(int(round(v * 2 ** shift)) for v in p) for p in pts]
        cv2.line(tile, fixed[0], fixed[1], RECIST_COLOR, 1, cv2.LINE_AA, shift)
        cv2.line(tile, fixed[2], fixed[3], RECIST_COLOR, 1, cv2.LINE_AA, shift)
    if not caption:
        return tile
    lines = finding_caption(finding)
    scale = 0.36 * tile_size / 160
    step = max(10, int(round(14 * tile_size / 160)))
    band = np.full((step * len(lines) + 6, tile_size, 3), 24, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(band, text, (3, step * (i + 1)), _FONT, scale, (235, 235, 235), 1,
                    cv2.LINE_AA)
    return np.concatenate([tile, band], axis=0)
