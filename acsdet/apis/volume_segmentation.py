"""Segment a user's own volume with a trained volume segmentor (ACS / 3D / 2.5D U-Net, FCN,
DeepLabv3+, GSP U-Net).

The volume (read by :func:`acsdet.fileio.read_volume`: NIfTI, DICOM folder, ...) goes through
the config's test pipeline minus its ``Load*`` step, so the same intensity transform
(``ClipNormalizeVolume`` / ``NormalizeNonzeroVolume``) and resampling (``ResampleVolume``)
as in testing, then through ``model.test_step``, which applies the config's ``test_cfg``
(whole volume or sliding windows).  A prediction made on a resampled grid is mapped back to
the input grid by nearest neighbour, so the label map always matches the input voxel for
voxel and can be saved in its frame (:func:`save_label_map`).

Orientation: segmentors are trained on arrays in the file's own voxel order
(:class:`~acsdet.datasets.transforms.LoadVolumeFromFile` reads without reorientation), so
:func:`segment_volume` keeps that order by default; ``orient=True`` runs the model on the volume
in the axial ``'LPS'`` convention (:func:`acsdet.fileio.orient_axial`) and maps the labels back
exactly (axes only).  In-plane anisotropic spacing is handled by the config's test pipeline
(``ResampleVolume`` to its target spacing) or, without one, segmented as stored; the statistics
use the true spacing either way.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

from acsdet.fileio.volume_io import CTVolume, check_geometry, orient_axial, orient_back

from .model_from_config import model_from_config
from .inference_pipeline import pipeline_without_load

__all__ = ['load_segmentor', 'segment_volume', 'label_statistics', 'save_label_map']


def load_segmentor(config, checkpoint: Optional[str], device: str = 'cpu'):
    """Build the config's segmentor and load a checkpoint (weights-only, see
    :mod:`acsdet.utils.safe_checkpoint`).

    A 2D checkpoint named in the config's ``init_cfg`` is not read (it is applied by
    ``init_weights()``, which only training calls; the checkpoint holds the trained weights).

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): ``.pth`` file; None keeps the random init.
        device (str): Default: ``'cpu'``.

    Returns:
        tuple: (model in eval mode, Config).

    Raises:
        ValueError: Not a segmentor config, or a checkpoint of another model (one line
            naming the file and the first mismatches).
        FileNotFoundError: No checkpoint file.
    """
    return model_from_config(config, checkpoint, device, strict=True,
                             model_type=('VolumeSegmentor', 'segmentation',
                                         'use tools/infer.py for detectors'))


@torch.no_grad()
def segment_volume(model, cfg: Config, volume: CTVolume, orient: bool = False) -> np.ndarray:
    """Label map of a volume, on the volume's own grid.

    Args:
        model: A :class:`acsdet.models.segmentors.VolumeSegmentor` (see
            :func:`load_segmentor`) for single-channel input.
        cfg (Config): Its config (for the test pipeline).
        volume (CTVolume): ``hu`` (D, H, W), ``spacing`` (sx, sy, sz) mm.
        orient (bool): Predict on the volume reoriented to the axial ``'LPS'`` convention
            and map the labels back (an oblique volume is refused). Default: False (the
            file's voxel order, as the segmentor was trained).

    Returns:
        np.ndarray: (D, H, W) uint8 labels (0 = background), the arg-max of the logits.

    Raises:
        ValueError: The model wants another number of input channels (e.g. BraTS' four
            MR sequences: this function takes one volume); NaN / infinite voxels, a bad
            spacing or direction (:func:`acsdet.fileio.check_geometry`); with ``orient``, an
            oblique volume.
    """
    in_channels = _in_channels(model)
    if in_channels not in (None, 1):
        raise ValueError(f'the model takes {in_channels} input channels; segment_volume '
                         'takes one single-channel volume')
    check_geometry(volume)
    if orient:
        oriented = orient_axial(volume)
        if oriented is not volume:
            return orient_back(segment_volume(model, cfg, oriented), volume)
    hu = np.ascontiguousarray(volume.hu, dtype=np.float32)
    shape = tuple(hu.shape)
    sx, sy, sz = (abs(float(s)) for s in volume.spacing)
    results = dict(img=hu[None], img_path=volume.path, case_id=osp.basename(volume.path),
                   ori_shape=shape, img_shape=shape, spacing=(sz, sy, sx))
    data = pipeline_without_load(cfg)(results)
    sample = model.test_step(dict(inputs=[data['inputs']], data_samples=[data['data_samples']]))
    labels = sample[0].pred_sem_seg.data
    if tuple(labels.shape) != shape:  # predicted on a resampled grid: back to the input's
        labels = torch.nn.functional.interpolate(
            labels[None, None].float(), size=shape, mode='nearest-exact')[0, 0]
    return labels.to(torch.uint8).cpu().numpy()


def _in_channels(model) -> Optional[int]:
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv3d)):
            return module.in_channels  # the first convolution registered sees the input
    return None


def label_statistics(labels: np.ndarray, spacing: Sequence[float],
                     classes: Sequence[str]) -> List[Dict]:
    """Per foreground class: voxels, volume (mL), connected components (26-connectivity)
    and the largest component's volume.

    Args:
        labels (np.ndarray): (D, H, W) label map.
        spacing (Sequence[float]): Voxel size (any axis order) in mm.
        classes (Sequence[str]): Names, index = label.
    """
    from scipy import ndimage
    voxel_ml = float(np.prod(np.abs(np.asarray(spacing, np.float64)))) / 1000.0
    stats = []
    for k in range(1, len(classes)):
        mask = labels == k
        components, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
        sizes = np.bincount(components.ravel())[1:] if count else np.zeros(0, np.int64)
        stats.append(dict(label=k, name=classes[k], voxels=int(mask.sum()),
                          volume_ml=float(mask.sum() * voxel_ml), components=int(count),
                          largest_component_ml=float(sizes.max() * voxel_ml) if count else 0.0))
    return stats


def save_label_map(labels: np.ndarray, volume: CTVolume, path: str) -> Tuple[int, ...]:
    """Write ``labels`` (D, H, W) as a NIfTI (``.nii`` / ``.nii.gz``) in the volume's frame
    (spacing, origin, direction), atomically; returns the written size (x, y, z)."""
    import SimpleITK as sitk

    from acsdet.utils.atomic_write import atomic_file_path
    if tuple(labels.shape) != tuple(volume.hu.shape):
        raise ValueError(f'label map shape {tuple(labels.shape)} != volume shape '
                         f'{tuple(volume.hu.shape)}')
    if not (path.endswith('.nii') or path.endswith('.nii.gz')):
        raise ValueError(f'{path}: the label map is written as NIfTI (.nii / .nii.gz)')
    image = sitk.GetImageFromArray(np.ascontiguousarray(labels, dtype=np.uint8))
    image.SetSpacing(tuple(float(s) for s in volume.spacing))
    image.SetOrigin(tuple(float(o) for o in volume.origin))
    image.SetDirection(tuple(float(d) for d in np.asarray(volume.direction).ravel()))
    with atomic_file_path(path) as tmp:
        sitk.WriteImage(image, tmp)
    return tuple(image.GetSize())
