"""Read an image file for display: DeepLesion 16-bit PNGs as HU, other images as they are."""
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np

from acsdet.fileio.deeplesion_png import read_hu_png

__all__ = ['read_display_image']


def read_display_image(path: str, image_hu_range: Optional[Sequence[float]] = None
                       ) -> np.ndarray:
    """Load a picture for :class:`CTDetLocalVisualizer`.

    Args:
        path (str): Image file.
        image_hu_range (Sequence[float], optional): ``(low, high)`` HU of grey 0 and 255; when
            given, an 8-bit *grey* picture (one channel, or three equal channels) is turned
            into HU, so it can be shown in a CT window (e.g. ``(-1024, 3071)`` for
            ``../shared/data/deeplesion_keyslices``).  Default: None (8-bit shown as is).

    Returns:
        np.ndarray: (H, W) float32 HU for a 16-bit single-channel PNG (DeepLesion: value -
        32768) or a grey 8-bit picture with ``image_hu_range``; otherwise (H, W, 3) uint8 RGB
        (what mmdet's ``DetVisualizationHook`` gets from ``mmcv.imread``).

    Raises:
        FileNotFoundError: No such file (the message names it).
        ValueError: The file cannot be decoded (the message names it).
    """
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        if not osp.isfile(path):
            raise FileNotFoundError(f'image not found: {path}')
        raise ValueError(f'cannot decode image: {path}')
    if img.dtype == np.uint16 and img.ndim == 2:
        return read_hu_png(path)
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    grey = img.ndim == 2 or bool((img == img[:, :, :1]).all())
    if grey and image_hu_range is not None:
        g = img if img.ndim == 2 else img[:, :, 0]
        low, high = (float(v) for v in image_hu_range)
        return (low + g.astype(np.float32) * np.float32((high - low) / 255.0)).astype(np.float32)
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, ::-1])
