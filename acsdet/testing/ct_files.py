"""Small CT files written by the tests with SimpleITK (NIfTI and a DICOM series).

The same anatomy can be written in other voxel layouts (:func:`write_nifti` with ``permute`` /
``flip``: a sagittal acquisition, a flipped axis) and as a DICOM series with chosen slice
positions (:func:`write_dicom_series` with ``z_positions``: a missing, duplicated or unevenly
spaced slice), for the geometry tests of :func:`acsdet.fileio.read_volume`."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import SimpleITK as sitk

SPACING = (0.7, 0.8, 5.0)
ORIGIN = (-100.0, -50.0, 20.0)


def phantom(depth: int = 6, height: int = 96, width: int = 80) -> np.ndarray:
    """(D, H, W) int16 HU: air, a soft-tissue block and a brighter nodule."""
    hu = np.full((depth, height, width), -1000, np.int16)
    hu[:, 20:70, 15:65] = 40
    hu[2:5, 40:50, 30:44] = 120
    return hu


def asymmetric_phantom(depth: int = 8, height: int = 64, width: int = 56) -> np.ndarray:
    """(D, H, W) int16 HU with no mirror symmetry along any axis, so that a flipped or
    permuted read shows: an off-centre body, a bright bone rod at its left-posterior corner
    that stops short of the last slices, and two nodules of different size and HU on
    different slices."""
    hu = np.full((depth, height, width), -1000, np.int16)
    d, h, w = np.indices(hu.shape)
    hu[:, height // 6:height * 5 // 6, width // 8:width * 3 // 4] = 40
    hu[:max(1, depth - 2), height * 2 // 3:height * 3 // 4, width // 8:width // 5] = 700
    hu[((d - depth // 3) ** 2 * 4 + (h - height // 3) ** 2 + (w - width // 3) ** 2) <= 36] = 150
    hu[((d - depth * 2 // 3) ** 2 + (h - height // 2) ** 2 + (w - width // 2) ** 2) <= 12] = 90
    return hu


def axial_image(hu: np.ndarray, spacing: Sequence[float] = SPACING,
                origin: Sequence[float] = ORIGIN) -> sitk.Image:
    """``hu`` (D, H, W) as an axial SimpleITK image: identity direction (columns to the
    patient's left, rows posterior, slices superior), ``spacing`` (sx, sy, sz) mm."""
    img = sitk.GetImageFromArray(hu)
    img.SetSpacing(tuple(float(s) for s in spacing))
    img.SetOrigin(tuple(float(o) for o in origin))
    return img


def write_nifti(path: str, hu: np.ndarray, spacing: Sequence[float] = SPACING,
                origin: Sequence[float] = ORIGIN, permute: Optional[Sequence[int]] = None,
                flip: Optional[Sequence[bool]] = None) -> str:
    """Write ``hu`` (D, H, W), an axial volume, as a NIfTI; with ``permute`` (SimpleITK's
    ``PermuteAxes`` order of the (x, y, z) index axes, e.g. ``(1, 2, 0)``: sagittal slices)
    and / or ``flip`` (per (x, y, z) axis), the same anatomy in another voxel layout (the
    direction, origin and spacing follow, so every voxel keeps its patient position)."""
    img = axial_image(hu, spacing, origin)
    if permute is not None:
        img = sitk.PermuteAxes(img, [int(a) for a in permute])
    if flip is not None:
        img = sitk.Flip(img, [bool(f) for f in flip])
    sitk.WriteImage(img, path)
    return path


def write_dicom_series(folder: str, hu: np.ndarray, modality: str = 'CT',
                       z_positions: Optional[Sequence[float]] = None) -> str:
    """One file per slice with ImagePositionPatient, PixelSpacing, SliceThickness,
    RescaleIntercept/Slope (0 / 1; SimpleITK rewrites them for integer pixels) and Modality.

    Args:
        folder (str): Created if needed; files ``slice_000.dcm``, ...
        hu (np.ndarray): (D, H, W) HU.
        modality (str): Default: ``'CT'``.
        z_positions (Sequence[float], optional): z (mm) of each slice's ImagePositionPatient;
            default ``ORIGIN[2] + k * SPACING[2]`` (uniform).
    """
    os.makedirs(folder, exist_ok=True)
    if z_positions is None:
        z_positions = [ORIGIN[2] + k * SPACING[2] for k in range(hu.shape[0])]
    if len(z_positions) != hu.shape[0]:
        raise ValueError(f'z_positions: {len(z_positions)} values for {hu.shape[0]} slices')
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series_uid = '1.2.826.0.1.3680043.2.1125.1.42'
    for k in range(hu.shape[0]):
        img = sitk.GetImageFromArray(hu[k].astype(np.int16))
        img.SetSpacing(SPACING[:2])
        z = float(z_positions[k])
        tags = {
            '0008|0060': modality,
            '0020|000e': series_uid,
            '0020|000d': series_uid + '.0',
            '0008|0016': '1.2.840.10008.5.1.4.1.1.2',
            '0008|0018': f'{series_uid}.{k + 1}',
            '0020|0013': str(k + 1),
            '0020|0032': f'{ORIGIN[0]}\\{ORIGIN[1]}\\{z}',
            '0020|0037': '1\\0\\0\\0\\1\\0',
            '0028|0030': f'{SPACING[1]}\\{SPACING[0]}',
            '0018|0050': str(SPACING[2]),
            '0028|1052': '0',
            '0028|1053': '1',
        }
        for key, value in tags.items():
            img.SetMetaData(key, value)
        writer.SetFileName(osp.join(folder, f'slice_{k:03d}.dcm'))
        writer.Execute(img)
    return folder
