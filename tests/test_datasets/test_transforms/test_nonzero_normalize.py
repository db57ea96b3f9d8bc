"""NormalizeNonzeroVolume: per-channel z-score over the non-zero voxels, zeros kept."""
import numpy as np

from acsdet.datasets.transforms import NormalizeNonzeroVolume
from acsdet.registry import TRANSFORMS


def test_zscore_over_nonzero_voxels_per_channel():
    rng = np.random.default_rng(0)
    img = np.zeros((3, 4, 5, 6), np.float32)
    img[0, 1:3, 1:4, 1:5] = rng.normal(500, 40, size=(2, 3, 4))
    img[1] = rng.normal(-3, 2, size=(4, 5, 6))
    # channel 2 stays empty
    out = TRANSFORMS.build(dict(type='NormalizeNonzeroVolume'))(dict(img=img.copy()))['img']
    assert out.dtype == np.float32 and out.shape == img.shape
    for c in (0, 1):
        mask = img[c] != 0
        np.testing.assert_allclose(out[c][mask].mean(), 0, atol=1e-5)
        np.testing.assert_allclose(out[c][mask].std(), 1, atol=1e-5)
        ref = (img[c][mask] - img[c][mask].mean()) / img[c][mask].std()
        np.testing.assert_allclose(out[c][mask], ref, rtol=1e-5, atol=1e-5)
        assert np.all(out[c][~mask] == 0)
    assert np.all(out[2] == 0)


def test_constant_foreground_does_not_divide_by_zero():
    img = np.zeros((1, 2, 3, 3), np.float32)
    img[0, 0] = 7.0
    out = NormalizeNonzeroVolume()(dict(img=img))['img']
    assert np.all(np.isfinite(out)) and np.all(out == 0)
