"""Random rotation of a volume by an arbitrary angle in one plane (image linear, labels
nearest), one resampling per array, shape kept.

Written here because mmcv / mmdet rotations are 2D-only and MONAI (which has ``RandRotate``)
is not an acsdet dependency; the resampling itself is ``scipy.ndimage.affine_transform``.
"""
from typing import Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform
from scipy import ndimage

from acsdet.registry import TRANSFORMS

__all__ = ['RandomRotateVolume', 'rotate_volume']


def rotate_volume(array: np.ndarray, angle: float, plane: Sequence[int], order: int,
                  cval: float = 0.0) -> np.ndarray:
    """Rotate the last three axes (D, H, W) of ``array`` by ``angle`` degrees in ``plane``.

    The rotation is about the centre of the volume, from the first axis of ``plane``
    towards the second (the direction of ``np.rot90(array, 1, plane)``, which it equals at
    90 degrees for a square plane); points coming from outside get ``cval``.

    Args:
        array (np.ndarray): (D, H, W) or (C, D, H, W).
        angle (float): Degrees.
        plane (Sequence[int]): Two different spatial axes, 0 = D, 1 = H, 2 = W.
        order (int): Spline order, 1 = linear (images), 0 = nearest (labels).
        cval (float): Value outside the input. Defaults to 0.

    Returns:
        np.ndarray: same shape and dtype as ``array``.
    """
    if array.ndim == 4:
        return np.stack([rotate_volume(a, angle, plane, order, cval) for a in array])
    a, b = plane
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta), np.sin(theta)
    # snap exact quarter turns so that 90 degrees is exactly np.rot90
    cos, sin = (round(v) if abs(v - round(v)) < 1e-12 else v for v in (cos, sin))
    # output -> input coordinates: in = M (out - c) + c
    matrix = np.eye(3)
    matrix[a, a], matrix[a, b], matrix[b, a], matrix[b, b] = cos, sin, -sin, cos
    centre = (np.asarray(array.shape, np.float64) - 1) / 2
    offset = centre - matrix @ centre
    out = ndimage.affine_transform(array, matrix, offset=offset, output_shape=array.shape,
                                   order=order, mode='constant', cval=cval,
                                   prefilter=order > 1)
    return out.astype(array.dtype, copy=False)


@TRANSFORMS.register_module()
class RandomRotateVolume(BaseTransform):
    """With probability ``prob`` rotate ``img`` (linear) and ``gt_seg_map`` (nearest) by an
    angle uniform in [-max_angle, max_angle] degrees in one plane drawn from ``planes``.

    The shape is kept (a non-square plane loses its corners and gains padded ones): put it
    after :class:`RandomCropVolume` on cubic crops, or restrict ``planes`` to square ones.

    Args:
        prob (float): Probability of rotating. Defaults to 0.5.
        max_angle (float | Sequence[float]): Largest angle in degrees, one for all planes
            or one per plane. Defaults to 15.
        planes (Sequence[tuple[int, int]]): Spatial axis pairs (0 = D, 1 = H, 2 = W).
            Defaults to ((1, 2), ) (axial plane).
        interp_order (int): Image spline order (1 linear, 3 cubic). Defaults to 1.
        pad_value (float): Image value outside the volume. Defaults to 0.
        seg_pad_value (int): Label value outside the volume. Defaults to 0.

    Adds ``rotate`` = ``(angle, plane)`` or None to the results.
    """

    def __init__(self, prob: float = 0.5, max_angle: Union[float, Sequence[float]] = 15.0,
                 planes: Sequence[Sequence[int]] = ((1, 2), ), interp_order: int = 1,
                 pad_value: float = 0.0, seg_pad_value: int = 0) -> None:
        planes = [tuple(int(a) for a in p) for p in planes]
        if not 0 <= prob <= 1 or not planes or any(
                len(p) != 2 or p[0] == p[1] or not set(p) <= {0, 1, 2} for p in planes):
            raise ValueError(f'RandomRotateVolume: prob in [0, 1] and planes of two different '
                             f'axes in (0, 1, 2), got prob={prob}, planes={planes}')
        angles = [float(max_angle)] * len(planes) if np.isscalar(max_angle) else \
            [float(v) for v in max_angle]
        if len(angles) != len(planes) or min(angles) < 0:
            raise ValueError(f'RandomRotateVolume: max_angle must be >= 0, one value or one '
                             f'per plane ({len(planes)}), got {max_angle}')
        if interp_order not in range(6):
            raise ValueError(f'RandomRotateVolume: interp_order must be 0..5, got '
                             f'{interp_order}')
        self.prob, self.planes, self.max_angles = prob, planes, angles
        self.interp_order, self.pad_value, self.seg_pad_value = \
            interp_order, pad_value, seg_pad_value

    def transform(self, results: dict) -> Optional[dict]:
        results['rotate'] = None
        if np.random.rand() >= self.prob:
            return results
        i = np.random.randint(len(self.planes))
        angle = float(np.random.uniform(-self.max_angles[i], self.max_angles[i]))
        plane = self.planes[i]
        results['img'] = rotate_volume(results['img'], angle, plane, self.interp_order,
                                       self.pad_value)
        if 'gt_seg_map' in results:
            results['gt_seg_map'] = rotate_volume(results['gt_seg_map'], angle, plane, 0,
                                                  self.seg_pad_value)
        results['rotate'] = (angle, plane)
        return results
