"""RandomScaleVolume: sizes follow the drawn factor, image and labels stay aligned (a ball
stays a ball of the scaled radius at the scaled centre), integer round trips are exact,
spacing keeps physical sizes, prob 0 / one axis / anisotropic draws, arguments checked,
and the LiTS pipeline (crop, scale, crop) gives the training shape."""
import numpy as np
import pytest
from mmengine.config import Config

from acsdet.datasets.transforms import RandomScaleVolume
from acsdet.registry import TRANSFORMS
from acsdet.testing.synthetic_volumes import ball_mask


def _ball_results(shape=(20, 24, 24), centre=(8, 11, 13), radius=5.0):
    ball = ball_mask(shape, centre, (radius, ) * 3)
    return dict(img=(100.0 * ball)[None].astype(np.float32), gt_seg_map=ball.astype(np.int64),
                spacing=(2.0, 0.8, 0.8))


def test_sizes_alignment_and_spacing():
    np.random.seed(0)
    t = RandomScaleVolume(ratio_range=(0.6, 1.6))
    seen = []
    for _ in range(12):
        res = _ball_results()
        out = t(res)
        f = out['scale_factor']
        seen.append(f[0])
        assert f[0] == pytest.approx(f[1], abs=0.06) and f[1] == pytest.approx(f[2], abs=0.06)
        img, seg = out['img'][0], out['gt_seg_map']
        assert img.shape == seg.shape == tuple(out['img_shape'])
        assert seg.dtype == np.int64 and set(np.unique(seg)) <= {0, 1}
        np.testing.assert_allclose(img.shape, np.round(np.array((20, 24, 24)) * f), atol=0)
        # the label covers the bright voxels of the image
        assert img[seg == 1].mean() > 70 and img[seg == 0].mean() < 10
        # centre and volume move with the scale (pixel-centre convention: (i + 0.5) * f - 0.5)
        np.testing.assert_allclose(np.argwhere(seg).mean(0),
                                   (np.array((8, 11, 13)) + 0.5) * f - 0.5, atol=0.35)
        expected = ball_mask((20, 24, 24), (8, 11, 13), (5.0, ) * 3).sum() * np.prod(f)
        assert abs(seg.sum() - expected) <= 0.12 * expected
        # physical size kept: voxel size shrinks as the content grows
        np.testing.assert_allclose(out['spacing'], np.array((2.0, 0.8, 0.8)) / f)
    assert min(seen) < 0.9 and max(seen) > 1.2  # the range is used, both ways


def test_integer_up_then_down_is_identity_for_labels():
    rng = np.random.default_rng(2)
    seg = rng.integers(0, 3, size=(5, 6, 7))
    img = rng.normal(size=(2, 5, 6, 7)).astype(np.float32)
    res = dict(img=img, gt_seg_map=seg)
    up = RandomScaleVolume(ratio_range=(2, 2))(res)
    assert up['gt_seg_map'].shape == (10, 12, 14)
    np.testing.assert_array_equal(up['gt_seg_map'][::2, ::2, ::2], seg)
    down = RandomScaleVolume(ratio_range=(0.5, 0.5))(up)
    np.testing.assert_array_equal(down['gt_seg_map'], seg)
    assert down['img'].shape == (2, 5, 6, 7)
    np.testing.assert_allclose(down['scale_factor'], (0.5, 0.5, 0.5))


def test_prob_zero_axes_and_anisotropic():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(1, 8, 10, 12)).astype(np.float32)
    out = RandomScaleVolume(prob=0.0)(dict(img=img.copy()))
    np.testing.assert_array_equal(out['img'], img)
    assert out['scale_factor'] == (1.0, 1.0, 1.0) and 'spacing' not in out
    np.random.seed(4)
    out = RandomScaleVolume(ratio_range=(1.5, 2.0), axes=(1, 2))(dict(img=img.copy()))
    assert out['img'].shape[1] == 8 and out['img'].shape[2] >= 15 and out['img'].shape[3] >= 18
    np.random.seed(5)
    factors = [RandomScaleVolume(ratio_range=(0.5, 2.0), isotropic=False)(
        dict(img=img.copy()))['scale_factor'] for _ in range(4)]
    assert any(abs(f[0] - f[2]) > 0.2 for f in factors)


@pytest.mark.parametrize('kwargs, match', [
    (dict(ratio_range=(1.2, 0.8)), 'ratio_range'),
    (dict(ratio_range=(0, 1)), 'ratio_range'),
    (dict(ratio_range=(1, )), 'ratio_range'),
    (dict(prob=1.5), 'prob'),
    (dict(axes=(0, 3)), 'axes'),
    (dict(axes=(1, 1)), 'axes'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TRANSFORMS.build(dict(type='RandomScaleVolume', **kwargs))


def test_lits_pipeline_crop_scale_crop(repo_root):
    """The LiTS base pipeline's first window fills the final crop at the strongest zoom-out,
    and the three steps give the training crop on a small generated volume."""
    cfg = Config.fromfile(f'{repo_root}/configs/_base_/datasets/lits_liver_tumor.py')
    low = cfg.scale_range[0]
    assert all(w * low >= c for w, c in zip(cfg.scale_window, cfg.crop_size))
    steps = [s for s in cfg.train_pipeline if s['type'] in
             ('RandomCropVolume', 'RandomScaleVolume')]
    assert [s['type'] for s in steps] == ['RandomCropVolume', 'RandomScaleVolume',
                                          'RandomCropVolume']
    small = dict(crop_size=(8, 16, 16))
    pipeline = [TRANSFORMS.build(dict(steps[0], crop_size=(10, 20, 20))),
                TRANSFORMS.build(steps[1]), TRANSFORMS.build(dict(steps[2], **small))]
    np.random.seed(0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        res = dict(img=rng.normal(size=(1, 12, 30, 30)).astype(np.float32),
                   gt_seg_map=rng.integers(0, 3, size=(12, 30, 30)))
        for t in pipeline:
            res = t(res)
        assert res['img'].shape == (1, 8, 16, 16) and res['gt_seg_map'].shape == (8, 16, 16)
