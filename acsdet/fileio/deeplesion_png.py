"""DeepLesion's 16-bit PNG slices: ``Images_png/<series>/<slice:03d>.png``, HU = value - 32768."""
import os.path as osp

import cv2
import numpy as np

from acsdet.utils.atomic_write import atomic_file_path

__all__ = ['HU_OFFSET', 'slice_path', 'read_hu_png', 'write_hu_png']

#: DeepLesion stores HU + 32768 as uint16.
HU_OFFSET = 32768


def slice_path(images_dir: str, series: str, index: int) -> str:
    """Path of slice ``index`` of ``series``: ``<images_dir>/<series>/<index:03d>.png``."""
    return osp.join(images_dir, series, f'{index:03d}.png')


def read_hu_png(path: str) -> np.ndarray:
    """Read one DeepLesion slice as HU.

    Args:
        path (str): A 16-bit single-channel PNG.

    Returns:
        np.ndarray: (H, W) float32 HU (value - 32768).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file cannot be decoded (corrupt), or is not a single-channel 16-bit
            image (e.g. an 8-bit PNG); the message names the file.
    """
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        if not osp.isfile(path):
            raise FileNotFoundError(f'slice not found: {path}')
        raise ValueError(f'cannot decode slice (corrupt PNG?): {path}')
    if img.dtype != np.uint16 or img.ndim != 2:
        raise ValueError(f'expected a single-channel 16-bit PNG (HU + {HU_OFFSET}), got '
                         f'{img.dtype} with shape {img.shape}: {path}')
    return np.subtract(img, np.float32(HU_OFFSET), dtype=np.float32)


def write_hu_png(path: str, hu: np.ndarray) -> None:
    """Write HU as a DeepLesion 16-bit PNG (value = HU + 32768), atomically.

    Args:
        path (str): Output ``.png`` (its folder is created).
        hu (np.ndarray): (H, W) HU values; rounded and clipped to the uint16 range.
    """
    values = np.clip(np.rint(np.asarray(hu, np.float64)) + HU_OFFSET, 0, 65535).astype(np.uint16)
    with atomic_file_path(path, '.png') as tmp:
        if not cv2.imwrite(tmp, values):
            raise OSError(f'cannot write {path}')
