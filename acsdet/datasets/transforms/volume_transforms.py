"""Transforms for 3D volumes (segmentation): load (NIfTI, MetaImage / NRRD, ``.npz``, DICOM,
through :func:`acsdet.fileio.read_volume`), resample to a voxel spacing, HU clip + normalise,
random-centre crop, random-axis flip, random 90-degree rotation, pack.

Results-dict format shared by these transforms:

* ``img``: float32 ndarray (C, D, H, W) (a (D, H, W) file gets C = 1);
* ``gt_seg_map``: int64 ndarray (D, H, W) label map (absent without labels);
* ``img_path``, ``seg_path``, ``case_id``, ``ori_shape`` (D, H, W), ``img_shape`` (D, H, W),
  ``spacing`` (mm, (D, H, W); None for a ``.npz`` without one), ``crop_bbox``
  ((d0, h0, w0), (d1, h1, w1)), ``flip_axes`` (list of flipped spatial axes), ``rot90``
  ((k, (a, b)) or None).

Volumes are indexed (D, H, W) = (z, y, x) in the file's voxel order, exactly the arrays
:func:`acsdet.fileio.read_volume` gives inference (SimpleITK's ``GetArrayFromImage`` order,
nothing reoriented); ``spacing`` is that volume's :attr:`~acsdet.fileio.CTVolume.spacing_dhw`.
Written here because mmcv / mmdet transforms are 2D-only and MONAI (which has
3D ones) is not an acsdet dependency.
"""
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from acsdet.fileio import read_volume
from acsdet.registry import TRANSFORMS

__all__ = [
    'LoadVolumeFromFile', 'ClipNormalizeVolume', 'RandomCropVolume', 'RandomFlipVolume',
    'RandomRot90Volume', 'ResampleVolume', 'PackVolumeInputs', 'resize_volume_results'
]


@TRANSFORMS.register_module()
class LoadVolumeFromFile(BaseTransform):
    """Load ``img`` (and ``gt_seg_map``) from ``results['img_path']`` (``seg_path``) with
    :func:`acsdet.fileio.read_volume`, the reader inference uses, so training, evaluation and
    inference see the same arrays: (D, H, W) = (z, y, x) in the file's voxel order, NIfTI /
    MetaImage / NRRD / DICOM through SimpleITK.

    A ``.npz`` holds both arrays (``image_key`` and ``label_key``); a NIfTI (MetaImage, ...)
    image takes its label from ``results['seg_path']`` (another file, read the same way).
    Without ``seg_path`` a ``.npz``'s label comes from the image file itself.

    Args:
        image_key (str): ``.npz`` array of the image. Defaults to ``'image'``.
        label_key (str): ``.npz`` array of the labels. Defaults to ``'label'``.
        with_label (bool): Load the label map. Defaults to True.
        spatial_dims (int): 3 for volumes, 2 for 2D images (e.g. the POC ``poc_2d`` set,
            ``.npz`` only): a file holds (H, W) or (C, H, W). Defaults to 3.

    Adds ``img`` float32 (C, D, H, W), ``gt_seg_map`` int64 (D, H, W), ``ori_shape``,
    ``img_shape``, ``spacing`` (mm, (D, H, W): the file's, else a ``spacing`` already in the
    data info (a ``.npz`` without a ``spacing`` array), else None); (C, H, W) / (H, W) with
    ``spatial_dims=2`` (the packed samples then feed 2D networks such as :class:`UNet2D` in a
    ``VolumeSegmentor``).  Values are read as stored (no HU check: MR and labels pass).
    """

    def __init__(self, image_key: str = 'image', label_key: str = 'label',
                 with_label: bool = True, spatial_dims: int = 3) -> None:
        if spatial_dims not in (2, 3):
            raise ValueError(f'LoadVolumeFromFile: spatial_dims must be 2 or 3, got '
                             f'{spatial_dims}')
        self.image_key, self.label_key, self.with_label = image_key, label_key, with_label
        self.spatial_dims = spatial_dims

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        image = read_volume(path, key=self.image_key, check_hu=False,
                            spatial_dims=self.spatial_dims, allow_channels=True)
        img = image.hu if image.hu.ndim == self.spatial_dims + 1 else image.hu[None]
        results['img'] = img
        results['ori_shape'] = results['img_shape'] = tuple(img.shape[1:])
        # a .npz without a spacing array: keep one given by the data info, if any
        results['spacing'] = image.spacing_dhw if image.spacing is not None else \
            results.get('spacing')
        if self.with_label:
            seg_path = results.get('seg_path') or path
            label = read_volume(seg_path, key=self.label_key, check_hu=False, dtype=None,
                                spatial_dims=self.spatial_dims)
            if tuple(label.hu.shape) != tuple(img.shape[1:]):
                raise ValueError(f'{seg_path}: label shape {tuple(label.hu.shape)} != image '
                                 f'shape {tuple(img.shape[1:])}')
            results['gt_seg_map'] = label.hu.astype(np.int64)
        return results


@TRANSFORMS.register_module()
class ClipNormalizeVolume(BaseTransform):
    """Clip intensities (e.g. HU) and normalise ``img``.

    Args:
        clip_range (tuple[float, float] | None): (low, high) clip, e.g. (-1024, 2050) HU;
            None: no clip. Defaults to None.
        mode (str): ``'fixed'``: ``(x - mean) / std``; ``'minmax'``: ``clip_range`` mapped to
            [0, 1] (needs ``clip_range``); ``'zscore'``: the volume's own mean / std (per
            channel). Defaults to ``'fixed'``.
        mean (float): For ``'fixed'``. Defaults to 0.
        std (float): For ``'fixed'``. Defaults to 1.
    """

    def __init__(self, clip_range: Optional[Sequence[float]] = None, mode: str = 'fixed',
                 mean: float = 0.0, std: float = 1.0) -> None:
        if mode not in ('fixed', 'minmax', 'zscore'):
            raise ValueError(f"ClipNormalizeVolume: mode must be 'fixed', 'minmax' or "
                             f"'zscore', got {mode!r}")
        if mode == 'minmax' and clip_range is None:
            raise ValueError("ClipNormalizeVolume: mode 'minmax' needs clip_range")
        if clip_range is not None and not clip_range[0] < clip_range[1]:
            raise ValueError(f'ClipNormalizeVolume: clip_range must be (low, high) with '
                             f'low < high, got {clip_range}')
        if std <= 0:
            raise ValueError(f'ClipNormalizeVolume: std must be > 0, got {std}')
        self.clip_range = None if clip_range is None else tuple(float(v) for v in clip_range)
        self.mode, self.mean, self.std = mode, float(mean), float(std)

    def transform(self, results: dict) -> dict:
        img = results['img'].astype(np.float32)
        if self.clip_range is not None:
            img = np.clip(img, *self.clip_range)
        if self.mode == 'fixed':
            img = (img - self.mean) / self.std
        elif self.mode == 'minmax':
            low, high = self.clip_range
            img = (img - low) / (high - low)
        else:
            axes = tuple(range(1, img.ndim))
            img = (img - img.mean(axis=axes, keepdims=True)) / \
                np.maximum(img.std(axis=axes, keepdims=True), 1e-8)
        results['img'] = img.astype(np.float32, copy=False)
        return results


@TRANSFORMS.register_module()
class RandomCropVolume(BaseTransform):
    """Crop a fixed-size window at a random centre (zero-padding volumes that are smaller).

    The centre is uniform over the positions that keep the window inside the (padded)
    volume; with probability ``fg_prob`` it is a uniformly drawn voxel of a label > 0
    instead (moved as little as needed to keep the window inside), which keeps small
    lesions in the crops.

    Args:
        crop_size (int | tuple[int, int, int]): (d, h, w).
        fg_prob (float): Probability of a foreground centre. Defaults to 0.
        pad_value (float): Image padding. Defaults to 0.
        seg_pad_value (int): Label padding. Defaults to 0.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]], fg_prob: float = 0.0,
                 pad_value: float = 0.0, seg_pad_value: int = 0) -> None:
        self.crop_size = (int(crop_size), ) * 3 if isinstance(crop_size, int) else \
            tuple(int(c) for c in crop_size)
        if len(self.crop_size) != 3 or min(self.crop_size) < 1:
            raise ValueError(f'RandomCropVolume: crop_size must be a positive int or 3 ints, '
                             f'got {crop_size}')
        if not 0 <= fg_prob <= 1:
            raise ValueError(f'RandomCropVolume: fg_prob must be in [0, 1], got {fg_prob}')
        self.fg_prob, self.pad_value, self.seg_pad_value = fg_prob, pad_value, seg_pad_value

    def transform(self, results: dict) -> dict:
        img = results['img']
        shape = img.shape[1:]
        pad = [(0, max(0, c - s)) for c, s in zip(self.crop_size, shape)]
        if any(p[1] for p in pad):
            img = np.pad(img, [(0, 0)] + pad, constant_values=self.pad_value)
            if 'gt_seg_map' in results:
                results['gt_seg_map'] = np.pad(results['gt_seg_map'], pad,
                                               constant_values=self.seg_pad_value)
        size = img.shape[1:]
        seg = results.get('gt_seg_map')
        if seg is not None and self.fg_prob > 0 and np.random.rand() < self.fg_prob and \
                (seg > 0).any():
            fg = np.argwhere(seg > 0)
            centre = fg[np.random.randint(len(fg))]
            start = [int(np.clip(c - k // 2, 0, s - k))
                     for c, k, s in zip(centre, self.crop_size, size)]
        else:
            start = [np.random.randint(s - k + 1) for k, s in zip(self.crop_size, size)]
        region = tuple(slice(s, s + k) for s, k in zip(start, self.crop_size))
        results['img'] = np.ascontiguousarray(img[(slice(None), ) + region])
        if seg is not None:
            results['gt_seg_map'] = np.ascontiguousarray(seg[region])
        results['img_shape'] = self.crop_size
        results['crop_bbox'] = (tuple(start), tuple(s + k for s, k in zip(start, self.crop_size)))
        return results


@TRANSFORMS.register_module()
class CenterCropVolume(BaseTransform):
    """Crop a fixed-size window at the volume's centre, moved by up to ``max_shift`` voxels
    per axis (uniform integers; 0: the exact centre) and zero-padded where it leaves the
    volume: the ACS authors' LIDC classification crop (48^3, shift +-5 in training, none at
    test time).

    Args:
        crop_size (int | tuple[int, int, int]): (d, h, w).
        max_shift (int | tuple[int, int, int]): Largest shift of the centre per axis.
            Defaults to 0.
        pad_value (float): Image padding. Defaults to 0.
        seg_pad_value (int): Label padding. Defaults to 0.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]],
                 max_shift: Union[int, Sequence[int]] = 0, pad_value: float = 0.0,
                 seg_pad_value: int = 0) -> None:
        self.crop_size = (int(crop_size), ) * 3 if isinstance(crop_size, int) else \
            tuple(int(c) for c in crop_size)
        self.max_shift = (int(max_shift), ) * 3 if isinstance(max_shift, int) else \
            tuple(int(c) for c in max_shift)
        if len(self.crop_size) != 3 or min(self.crop_size) < 1 or len(self.max_shift) != 3 \
                or min(self.max_shift) < 0:
            raise ValueError(f'CenterCropVolume: crop_size must be a positive int or 3 ints and '
                             f'max_shift a non-negative int or 3 ints, got {crop_size}, '
                             f'{max_shift}')
        self.pad_value, self.seg_pad_value = pad_value, seg_pad_value

    def transform(self, results: dict) -> dict:
        img = results['img']
        shape = img.shape[1:]
        shift = [np.random.randint(-m, m + 1) if m else 0 for m in self.max_shift]
        start = [(s - k) // 2 + t for s, k, t in zip(shape, self.crop_size, shift)]
        # pad wherever the window leaves the volume, then cut
        before = [max(0, -b) for b in start]
        after = [max(0, b + k - s) for b, k, s in zip(start, self.crop_size, shape)]
        pad = list(zip(before, after))
        start = [b + p for b, p in zip(start, before)]
        region = tuple(slice(b, b + k) for b, k in zip(start, self.crop_size))
        if any(before) or any(after):
            img = np.pad(img, [(0, 0)] + pad, constant_values=self.pad_value)
        results['img'] = np.ascontiguousarray(img[(slice(None), ) + region])
        if 'gt_seg_map' in results:
            seg = results['gt_seg_map']
            if any(before) or any(after):
                seg = np.pad(seg, pad, constant_values=self.seg_pad_value)
            results['gt_seg_map'] = np.ascontiguousarray(seg[region])
        results['img_shape'] = self.crop_size
        origin = [b - p for b, p in zip(start, before)]
        results['crop_bbox'] = (tuple(origin), tuple(o + k for o, k in zip(origin,
                                                                           self.crop_size)))
        return results


@TRANSFORMS.register_module()
class RandomFlipVolume(BaseTransform):
    """Flip each of the given spatial axes independently with probability ``prob``.

    Args:
        prob (float): Per-axis flip probability. Defaults to 0.5.
        axes (Sequence[int]): Spatial axes, 0 = D, 1 = H, 2 = W. Defaults to (0, 1, 2).
    """

    def __init__(self, prob: float = 0.5, axes: Sequence[int] = (0, 1, 2)) -> None:
        if not 0 <= prob <= 1 or any(a not in (0, 1, 2) for a in axes):
            raise ValueError(f'RandomFlipVolume: prob in [0, 1] and axes in (0, 1, 2), got '
                             f'prob={prob}, axes={axes}')
        self.prob, self.axes = prob, tuple(axes)

    def transform(self, results: dict) -> dict:
        flipped = [a for a in self.axes if np.random.rand() < self.prob]
        if flipped:
            results['img'] = np.ascontiguousarray(
                np.flip(results['img'], [a + 1 for a in flipped]))
            if 'gt_seg_map' in results:
                results['gt_seg_map'] = np.ascontiguousarray(
                    np.flip(results['gt_seg_map'], flipped))
        results['flip_axes'] = results.get('flip_axes', []) + flipped
        return results


@TRANSFORMS.register_module()
class RandomRot90Volume(BaseTransform):
    """With probability ``prob`` rotate by k x 90 degrees (k uniform in 1..3) in one plane
    drawn from ``planes``.  A non-square plane swaps its sizes, so use it on cubic crops
    when batches must share a shape.

    Args:
        prob (float): Defaults to 0.5.
        planes (Sequence[tuple[int, int]]): Spatial axis pairs (0 = D, 1 = H, 2 = W).
            Defaults to ((1, 2), ) (axial plane).
    """

    def __init__(self, prob: float = 0.5, planes: Sequence[Sequence[int]] = ((1, 2), )) -> None:
        planes = [tuple(int(a) for a in p) for p in planes]
        if not 0 <= prob <= 1 or not planes or any(
                len(p) != 2 or p[0] == p[1] or not set(p) <= {0, 1, 2} for p in planes):
            raise ValueError(f'RandomRot90Volume: prob in [0, 1] and planes of two different '
                             f'axes in (0, 1, 2), got prob={prob}, planes={planes}')
        self.prob, self.planes = prob, planes

    def transform(self, results: dict) -> dict:
        results['rot90'] = None
        if np.random.rand() < self.prob:
            k = np.random.randint(1, 4)
            plane = self.planes[np.random.randint(len(self.planes))]
            results['img'] = np.ascontiguousarray(
                np.rot90(results['img'], k, (plane[0] + 1, plane[1] + 1)))
            if 'gt_seg_map' in results:
                results['gt_seg_map'] = np.ascontiguousarray(
                    np.rot90(results['gt_seg_map'], k, plane))
            results['img_shape'] = tuple(results['img'].shape[1:])
            results['rot90'] = (int(k), plane)
        return results


@TRANSFORMS.register_module()
class ResampleVolume(BaseTransform):
    """Resample ``img`` (trilinear) and ``gt_seg_map`` (nearest) to a voxel spacing.

    The new size per axis is ``round(size * spacing / target)`` (at least 1) and
    ``results['spacing']`` becomes the achieved spacing ``size * spacing / new_size``.
    Needs ``results['spacing']`` (NIfTI / MetaImage / NRRD files carry it, a ``.npz`` may
    store a ``spacing`` array; otherwise set it in the data info or leave this transform
    out).

    Args:
        spacing (tuple[float, float, float]): Target (D, H, W) spacing in mm; an axis given
            as None or <= 0 keeps its spacing.
    """

    def __init__(self, spacing: Sequence[Optional[float]]) -> None:
        if len(spacing) != 3:
            raise ValueError(f'ResampleVolume: spacing must have 3 entries (D, H, W), got '
                             f'{spacing}')
        self.spacing = tuple(None if v is None or v <= 0 else float(v) for v in spacing)

    def transform(self, results: dict) -> dict:
        old = results.get('spacing')
        if old is None:
            raise KeyError(f"ResampleVolume: {results.get('img_path', 'the volume')} has no "
                           "'spacing' (a .npz without a spacing array; set it in the data info)")
        img = results['img']
        size = img.shape[1:]
        target = [o if t is None else t for o, t in zip(old, self.spacing)]
        new = tuple(max(1, int(round(n * o / t))) for n, o, t in zip(size, old, target))
        resize_volume_results(results, new)
        results['spacing'] = tuple(n * o / m for n, o, m in zip(size, old, new))
        return results


def resize_volume_results(results: dict, size: Sequence[int]) -> dict:
    """Resize ``img`` (C, D, H, W) trilinearly and ``gt_seg_map`` (D, H, W) by nearest
    neighbour to the spatial ``size`` (d, h, w) in place; sets ``img_shape``.

    Nearest is ``nearest-exact`` (pixel centres), so a label map scaled by an integer factor
    and back is unchanged.  Nothing is resampled when the size is already right.
    """
    size = tuple(int(s) for s in size)
    if size != tuple(results['img'].shape[1:]):
        x = torch.from_numpy(np.ascontiguousarray(results['img'], dtype=np.float32))[None]
        results['img'] = torch.nn.functional.interpolate(
            x, size=size, mode='trilinear', align_corners=False)[0].numpy()
        if 'gt_seg_map' in results:
            seg = torch.from_numpy(np.ascontiguousarray(results['gt_seg_map']))[None, None]
            results['gt_seg_map'] = torch.nn.functional.interpolate(
                seg.float(), size=size, mode='nearest-exact')[0, 0].long().numpy()
    results['img_shape'] = size
    return results


@TRANSFORMS.register_module()
class PackVolumeInputs(BaseTransform):
    """Pack to ``dict(inputs=Tensor (C, D, H, W) float32, data_samples=BaseDataElement)``.

    The data sample holds ``gt_sem_seg`` (``BaseDataElement`` with ``data`` int64 (D, H, W))
    when labels were loaded, ``gt_label`` (int64 tensor (1, )) when the data info has one
    (:class:`acsdet.datasets.VolumeClsDataset`), and the metainfo keys present in the
    results, the format of :class:`acsdet.models.segmentors.VolumeSegmentor` /
    :class:`acsdet.models.classifiers.VolumeClassifier` and of their metrics.

    Args:
        meta_keys (Sequence[str]): Defaults to ('img_path', 'seg_path', 'case_id',
            'ori_shape', 'img_shape', 'spacing', 'crop_bbox', 'flip_axes', 'rot90').
    """

    def __init__(self, meta_keys: Sequence[str] = ('img_path', 'seg_path', 'case_id',
                                                   'ori_shape', 'img_shape', 'spacing',
                                                   'crop_bbox', 'flip_axes', 'rot90')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if 'gt_seg_map' in results:
            sample.gt_sem_seg = BaseDataElement(data=torch.from_numpy(
                np.ascontiguousarray(results['gt_seg_map'])).long())
        if results.get('gt_label') is not None:
            sample.gt_label = torch.tensor([int(results['gt_label'])], dtype=torch.long)
        inputs = torch.from_numpy(np.ascontiguousarray(results['img'])).float()
        return dict(inputs=inputs, data_samples=sample)
