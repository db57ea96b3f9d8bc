"""Small CT files written by the tests with SimpleITK (NIfTI and a DICOM series)."""
import os
import os.path as osp

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


def write_nifti(path: str, hu: np.ndarray) -> str:
    img = sitk.GetImageFromArray(hu)
    img.SetSpacing(SPACING)
    img.SetOrigin(ORIGIN)
    sitk.WriteImage(img, path)
    return path


def write_dicom_series(folder: str, hu: np.ndarray, modality: str = 'CT') -> str:
    """One file per slice with ImagePositionPatient, PixelSpacing, SliceThickness,
    RescaleIntercept/Slope (0 / 1; SimpleITK rewrites them for integer pixels) and Modality."""
    os.makedirs(folder, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series_uid = '1.2.826.0.1.3680043.2.1125.1.42'
    for k in range(hu.shape[0]):
        img = sitk.GetImageFromArray(hu[k].astype(np.int16))
        img.SetSpacing(SPACING[:2])
        z = ORIGIN[2] + k * SPACING[2]
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
