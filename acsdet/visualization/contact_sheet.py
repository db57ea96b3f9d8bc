"""Contact sheet: the top-N findings of a volume as a grid of captioned tiles, one PNG."""
import math
from typing import Dict, Optional, Sequence, Union

import cv2
import numpy as np

from acsdet.evaluation.functional import save_png_atomic

from .finding_tiles import render_finding_tile

__all__ = ['make_contact_sheet', 'write_contact_sheet']

_GAP = 4
_BACKGROUND = 48


def make_contact_sheet(hu: np.ndarray, findings: Sequence[Dict], columns: int = 4,
                       tile_size: int = 160,
                       window: Union[str, Sequence[float]] = 'soft_tissue',
                       context: float = 2.5) -> np.ndarray:
    """Tiles of :func:`render_finding_tile` in rank order, row by row.

    Args:
        hu (np.ndarray): (D, H, W) HU volume (``CTVolume.hu``).
        findings (Sequence[dict]): From :func:`top_findings` (rank order).
        columns (int): Tiles per row (fewer when there are fewer findings). Default: 4.
        tile_size (int): See :func:`render_finding_tile`. Default: 160.
        window (str | Sequence[float]): CT window. Default: ``'soft_tissue'``.
        context (float): See :func:`render_finding_tile`. Default: 2.5.

    Returns:
        np.ndarray: (rows * (tile_h + 4) + 4, cols * (tile_size + 4) + 4, 3) uint8 RGB with
        ``rows = ceil(N / cols)``, ``cols = min(columns, N)``; with no finding, one blank tile
        reading "no findings".
    """
    if columns < 1:
        raise ValueError(f'columns must be >= 1, got {columns}')
    tiles = [render_finding_tile(hu[f['slice_index']], f, window, tile_size, context)
             for f in findings]
    if not tiles:
        blank = np.full((tile_size, tile_size, 3), _BACKGROUND, np.uint8)
        cv2.putText(blank, 'no findings', (6, tile_size // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * tile_size / 160, (235, 235, 235), 1, cv2.LINE_AA)
        tiles = [blank]
    cols = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    th, tw = tiles[0].shape[:2]
    sheet = np.full((rows * (th + _GAP) + _GAP, cols * (tw + _GAP) + _GAP, 3), _BACKGROUND,
                    np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = _GAP + r * (th + _GAP), _GAP + c * (tw + _GAP)
        sheet[y:y + th, x:x + tw] = tile
    return sheet


def write_contact_sheet(out_file: str, hu: np.ndarray, findings: Sequence[Dict],
                        columns: int = 4, tile_size: int = 160,
                        window: Union[str, Sequence[float]] = 'soft_tissue',
                        context: float = 2.5) -> Optional[str]:
    """:func:`make_contact_sheet` written as a PNG (atomically); returns ``out_file``."""
    save_png_atomic(make_contact_sheet(hu, findings, columns, tile_size, window, context),
                    out_file)
    return out_file
