"""Read MetaImage (``.mhd`` / ``.mha``) and NRRD volumes through SimpleITK.

PROMISE12 ships ``CaseNN.mhd`` + ``.raw``; :func:`read_volume` of ``volume_transforms`` calls
:func:`read_sitk_volume` for these suffixes.  SimpleITK is used (not a hand-written parser)
because it handles MetaImage headers, byte orders, compression and NRRD already.
"""
import os.path as osp
from typing import Optional, Tuple

import numpy as np

__all__ = ['SITK_SUFFIXES', 'read_sitk_volume']

SITK_SUFFIXES = ('.mhd', '.mha', '.nrrd')


def read_sitk_volume(path: str) -> Tuple[np.ndarray, Optional[tuple]]:
    """Read a 3D (or 3D vector) image with SimpleITK.

    Args:
        path (str): A ``.mhd`` / ``.mha`` / ``.nrrd`` file.

    Returns:
        tuple: the array (D, H, W) = SimpleITK's (Z, Y, X), or (C, D, H, W) for a vector
        image, and the spacing in mm as (D, H, W).
    """
    import SimpleITK as sitk  # only needed for these formats
    if not osp.isfile(path):
        raise FileNotFoundError(f'volume file not found: {path}')
    try:
        img = sitk.ReadImage(path)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1] if str(err).strip() else 'unreadable'
        raise ValueError(f'{path}: SimpleITK cannot read it ({first})') from None
    if img.GetDimension() != 3:
        raise ValueError(f'{path}: expected a 3D image, got {img.GetDimension()}D')
    array = sitk.GetArrayFromImage(img)  # (Z, Y, X[, C])
    if array.ndim == 4:
        array = array.transpose(3, 0, 1, 2)
    spacing = tuple(float(s) for s in img.GetSpacing()[::-1])
    return np.ascontiguousarray(array), spacing
