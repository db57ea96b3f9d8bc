"""Per-volume z-score normalisation over the foreground (non-zero) voxels of each channel,
the GSP-Conv paper's MR preprocessing ("normalize each 3D image independently with the mean
and standard deviation calculated from the corresponding foreground regions").

Written here because mmcv's ``Normalize`` is 2D / fixed-statistics and MONAI's
``NormalizeIntensity(nonzero=True)`` is not an acsdet dependency.
"""
import numpy as np
from mmcv.transforms import BaseTransform

from acsdet.registry import TRANSFORMS

__all__ = ['NormalizeNonzeroVolume']


@TRANSFORMS.register_module()
class NormalizeNonzeroVolume(BaseTransform):
    """``img`` (C, D, H, W): per channel, voxels ``!= 0`` become ``(x - mean) / std`` with the
    statistics of those voxels; zero voxels (the background outside the head / body in
    skull-stripped BraTS) stay 0.  A channel without non-zero voxels is left at 0.

    Args:
        eps (float): Lower bound of the std. Defaults to 1e-8.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        self.eps = float(eps)

    def transform(self, results: dict) -> dict:
        img = results['img'].astype(np.float32)
        out = np.zeros_like(img)
        for c in range(img.shape[0]):
            mask = img[c] != 0
            if mask.any():
                values = img[c][mask]
                out[c][mask] = (values - values.mean()) / max(float(values.std()), self.eps)
        results['img'] = out
        return results
