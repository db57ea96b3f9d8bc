"""Random-scale resampling of a volume (the ACS paper's LiTS augmentation, section IV-C).

The whole sample is resized by one random factor (image trilinear, labels nearest), the way
mmseg's ``Resize(ratio_range=...)`` does in 2D; a :class:`RandomCropVolume` after it brings
the batch back to one shape (padding a volume that came out smaller).  Resampling a whole
512 x 512 x D CT is slow, so the LiTS config crops a window ``1 / min_ratio`` larger first,
scales it, then crops the training size.  Written here because mmcv / mmdet resizing is 2D
only; the resampling is ``torch.nn.functional.interpolate`` (shared with ``ResampleVolume``).
"""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from acsdet.registry import TRANSFORMS

from .volume_transforms import resize_volume_results

__all__ = ['RandomScaleVolume']


@TRANSFORMS.register_module()
class RandomScaleVolume(BaseTransform):
    """With probability ``prob`` resize ``img`` (C, D, H, W) and ``gt_seg_map`` (D, H, W) by
    a factor drawn uniformly from ``ratio_range``: new size ``round(size * s)`` per scaled
    axis (at least 1).

    Args:
        ratio_range (tuple[float, float]): (low, high) scale factors, 0 < low <= high.
            Defaults to (0.8, 1.25).
        prob (float): Probability of scaling. Defaults to 1.
        axes (Sequence[int]): Spatial axes to scale, 0 = D, 1 = H, 2 = W. Defaults to
            (0, 1, 2); (1, 2) scales in-plane only.
        isotropic (bool): One factor for all ``axes`` (default) or one per axis.

    Adds ``scale_factor`` ((d, h, w) achieved size ratios; 1 on unscaled axes) and divides
    ``spacing`` (mm per voxel) by it when the results carry one, so physical sizes stay true.
    """

    def __init__(self, ratio_range: Sequence[float] = (0.8, 1.25), prob: float = 1.0,
                 axes: Sequence[int] = (0, 1, 2), isotropic: bool = True) -> None:
        ratio_range = tuple(float(r) for r in ratio_range)
        if len(ratio_range) != 2 or not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f'RandomScaleVolume: ratio_range must be (low, high) with '
                             f'0 < low <= high, got {ratio_range}')
        axes = tuple(int(a) for a in axes)
        if not 0 <= prob <= 1 or not axes or not set(axes) <= {0, 1, 2} or \
                len(set(axes)) != len(axes):
            raise ValueError(f'RandomScaleVolume: prob in [0, 1] and distinct axes in '
                             f'(0, 1, 2), got prob={prob}, axes={axes}')
        self.ratio_range, self.prob, self.axes, self.isotropic = \
            ratio_range, prob, axes, isotropic

    def transform(self, results: dict) -> Optional[dict]:
        size = tuple(results['img'].shape[1:])
        factors = [1.0, 1.0, 1.0]
        if np.random.rand() < self.prob:
            low, high = self.ratio_range
            draws = [np.random.uniform(low, high)] * len(self.axes) if self.isotropic else \
                np.random.uniform(low, high, len(self.axes))
            for a, f in zip(self.axes, draws):
                factors[a] = float(f)
        new = tuple(max(1, int(round(n * f))) for n, f in zip(size, factors))
        resize_volume_results(results, new)
        achieved = tuple(m / n for m, n in zip(new, size))
        results['scale_factor'] = achieved
        if results.get('spacing') is not None:
            results['spacing'] = tuple(s / f for s, f in zip(results['spacing'], achieved))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ratio_range={self.ratio_range}, prob={self.prob}, '
                f'axes={self.axes}, isotropic={self.isotropic})')
