"""CT display windows: HU -> 8-bit grey for a chosen tissue."""
from typing import Sequence, Tuple, Union

import numpy as np

__all__ = ['CT_WINDOWS', 'window_bounds', 'apply_window']

#: name -> (level, width) in HU, the usual radiology presets.
CT_WINDOWS = {
    'soft_tissue': (40.0, 400.0),   # [-160, 240] HU
    'lung': (-600.0, 1500.0),       # [-1350, 150] HU
    'bone': (400.0, 1800.0),        # [-500, 1300] HU
    'liver': (60.0, 160.0),         # [-20, 140] HU
    'brain': (40.0, 80.0),          # [0, 80] HU
}


def window_bounds(window: Union[str, Sequence[float]]) -> Tuple[float, float]:
    """(low, high) HU of a window.

    Args:
        window (str | Sequence[float]): A :data:`CT_WINDOWS` name, or ``(low, high)`` HU.

    Returns:
        tuple[float, float]: ``(level - width / 2, level + width / 2)`` or the given pair.
    """
    if isinstance(window, str):
        if window not in CT_WINDOWS:
            raise ValueError(f'unknown CT window {window!r}; choose one of '
                             f'{sorted(CT_WINDOWS)} or give (low, high) HU')
        level, width = CT_WINDOWS[window]
        return level - width / 2, level + width / 2
    low, high = (float(v) for v in window)
    if not high > low:
        raise ValueError(f'CT window needs high > low, got ({low}, {high})')
    return low, high


def apply_window(hu: np.ndarray, window: Union[str, Sequence[float]] = 'soft_tissue'
                 ) -> np.ndarray:
    """Map HU linearly onto 0..255, clipping outside the window.

    Args:
        hu (np.ndarray): (H, W) HU.
        window (str | Sequence[float]): See :func:`window_bounds`. Default: ``'soft_tissue'``.

    Returns:
        np.ndarray: (H, W) uint8.
    """
    low, high = window_bounds(window)
    grey = (np.asarray(hu, np.float32) - low) * np.float32(255.0 / (high - low))
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
