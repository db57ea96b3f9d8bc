"""Classify a user's nodule with a trained volume classifier (the LIDC malignancy models of
``configs/lidc/cls_*``): a nodule crop (``.npz`` as ``data_prep/lidc_to_npz.py`` writes) or a
CT volume (NIfTI, DICOM folder, ...) and the nodule's centre.

From a volume, :func:`nodule_crop` resamples a cube around the centre to the crop spacing the
model was trained on (trilinear, air outside the scan), in the volume's voxel order as the
converter's crops (:mod:`data_prep.lidc_to_npz`: axes (D, H, W) = (z, y, x)); the crop then goes
through the config's test pipeline minus its ``Load*`` step (intensity window, centre crop),
exactly as in testing, and through ``model.test_step``.
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from scipy.ndimage import map_coordinates

from acsdet.fileio.volume_io import CTVolume, check_geometry

from .model_from_config import model_from_config
from .inference_pipeline import pipeline_without_load

__all__ = ['load_classifier', 'nodule_crop', 'classify_crop', 'inference_crop_size']

AIR_HU = -1024.0


def load_classifier(config, checkpoint: Optional[str], device: str = 'cpu'):
    """Build the config's ``VolumeClassifier`` and load a checkpoint (weights-only).

    Returns:
        tuple: (model in eval mode, Config).

    Raises:
        ValueError: Not a classifier config, or a checkpoint of another model.
        FileNotFoundError: No checkpoint file.
    """
    return model_from_config(config, checkpoint, device, strict=True,
                             model_type=('VolumeClassifier', 'classification',
                                         'tools/infer_seg.py segments, tools/infer.py detects'))


def inference_crop_size(cfg: Config) -> Optional[Sequence[int]]:
    """The ``crop_size`` of the test pipeline's ``CenterCropVolume`` (None without one)."""
    for step in cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', ()):
        if step['type'] == 'CenterCropVolume':
            size = step['crop_size']
            return (int(size), ) * 3 if isinstance(size, int) else tuple(int(s) for s in size)
    return None


def nodule_crop(volume: CTVolume, centre_dhw: Sequence[float], size: Sequence[int],
                spacing_mm: float = 1.0) -> np.ndarray:
    """A (d, h, w) cube of HU around a voxel position, resampled to ``spacing_mm``.

    Args:
        volume (CTVolume): ``hu`` (D, H, W), ``spacing`` (sx, sy, sz) mm.
        centre_dhw (Sequence[float]): Nodule centre as a (continuous) voxel index (d, h, w).
        size (Sequence[int]): Crop edge in voxels per axis (d, h, w).
        spacing_mm (float): Isotropic spacing of the crop (the converter's ``--spacing``,
            1 mm by default). Defaults to 1.0.

    Returns:
        np.ndarray: float32 (d, h, w) HU; -1024 outside the scan.

    Raises:
        ValueError: A centre outside the volume, a bad geometry, a spacing <= 0.
    """
    check_geometry(volume)
    if not spacing_mm > 0:
        raise ValueError(f'nodule_crop: spacing_mm must be > 0, got {spacing_mm}')
    centre = np.asarray(centre_dhw, np.float64)
    shape = np.asarray(volume.hu.shape)
    if centre.shape != (3, ) or (centre < -0.5).any() or (centre > shape - 0.5).any():
        raise ValueError(f'nodule_crop: centre {tuple(centre_dhw)} (d, h, w voxels) is outside '
                         f'the volume of shape {tuple(int(s) for s in shape)}')
    step = spacing_mm / np.abs(np.asarray(volume.spacing_dhw, np.float64))
    axes = [c + (np.arange(k) - (k - 1) / 2.0) * s for c, k, s in zip(centre, size, step)]
    grid = np.meshgrid(*axes, indexing='ij')
    crop = map_coordinates(volume.hu.astype(np.float32), grid, order=1, mode='constant',
                           cval=AIR_HU)
    return crop.astype(np.float32)


@torch.no_grad()
def classify_crop(model, cfg: Config, hu: np.ndarray,
                  spacing_dhw: Optional[Sequence[float]] = None) -> np.ndarray:
    """Class probabilities of one crop (D, H, W) HU through the config's test pipeline.

    Returns:
        np.ndarray: (K, ) float probabilities (softmax).
    """
    hu = np.ascontiguousarray(hu, dtype=np.float32)
    if hu.ndim != 3:
        raise ValueError(f'classify_crop: a (D, H, W) crop is needed, got shape {hu.shape}')
    shape = tuple(hu.shape)
    results = dict(img=hu[None], ori_shape=shape, img_shape=shape,
                   spacing=None if spacing_dhw is None else tuple(spacing_dhw))
    data = pipeline_without_load(cfg)(results)
    sample = model.test_step(dict(inputs=[data['inputs']], data_samples=[data['data_samples']]))
    return sample[0].pred_score.float().cpu().numpy()
