"""RandomRotateVolume / rotate_volume: identity at 0, np.rot90 at 90 degrees, image and
labels stay aligned (labels derived from the image), shape kept, arguments checked."""
import numpy as np
import pytest

from acsdet.datasets.transforms import RandomRotateVolume, rotate_volume
from acsdet.registry import TRANSFORMS
from acsdet.testing.synthetic_volumes import ball_mask


def _results(rng, shape=(2, 9, 11, 11)):
    img = rng.normal(size=shape).astype(np.float32)
    return dict(img=img, gt_seg_map=(img[0] > 0.5).astype(np.int64) + (img[1] > 1.0))


@pytest.mark.parametrize('plane', [(0, 1), (1, 2), (2, 0), (0, 2)])
def test_angle_0_is_identity_and_90_is_rot90(plane):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 10, 10, 10)).astype(np.float32)
    lab = rng.integers(0, 4, size=(10, 10, 10))
    np.testing.assert_array_equal(rotate_volume(x, 0, plane, 1), x)
    np.testing.assert_array_equal(rotate_volume(lab, 0, plane, 0), lab)
    ax = (plane[0] + 1, plane[1] + 1)
    for k in (1, 2, 3, -1):
        np.testing.assert_allclose(rotate_volume(x, 90 * k, plane, 1), np.rot90(x, k, ax),
                                   atol=1e-6)
        np.testing.assert_array_equal(rotate_volume(lab, 90 * k, plane, 0),
                                      np.rot90(lab, k, plane))
        # cubic spline order: prefiltered, still exact on the grid
        np.testing.assert_allclose(rotate_volume(x, 90 * k, plane, 3), np.rot90(x, k, ax),
                                   atol=1e-4)


def test_labels_derived_from_the_image_stay_consistent():
    """A ball of intensity 100 and its label map: after rotation by any angle, the rotated
    label (nearest) covers the voxels where the rotated image (linear) is high."""
    shape = (17, 21, 21)
    ball = ball_mask(shape, (6, 7, 6), (3.5, 3.5, 3.5))  # off-centre in every plane
    results = dict(img=(100.0 * ball)[None].astype(np.float32),
                   gt_seg_map=ball.astype(np.int64))
    np.random.seed(3)
    t = RandomRotateVolume(prob=1.0, max_angle=(40, 40, 40), planes=((1, 2), (0, 1), (0, 2)))
    for _ in range(6):
        out = t(dict(img=results['img'].copy(), gt_seg_map=results['gt_seg_map'].copy()))
        angle, plane = out['rotate']
        assert 0 < abs(angle) <= 40
        img, seg = out['img'][0], out['gt_seg_map']
        assert img.shape == shape and seg.shape == shape and seg.dtype == np.int64
        assert set(np.unique(seg)) <= {0, 1}
        # interior of the rotated label: image near 100; far outside: image 0
        assert img[seg == 1].mean() > 80
        assert img[seg == 0].mean() < 5
        # the ball moved as its label did: centroids agree
        w = img / img.sum()
        centroid_img = [(w * g).sum() for g in np.indices(shape)]
        np.testing.assert_allclose(centroid_img, np.argwhere(seg).mean(0), atol=0.3)
        # the same voxel count (a ball rotates into a ball), up to nearest-neighbour edges
        assert abs(int(seg.sum()) - int(ball.sum())) <= 0.15 * ball.sum()
        # it moved where a rotation by `angle` about the volume centre, from the plane's
        # first axis towards its second, takes the ball's centre
        a, b = plane
        theta = np.deg2rad(angle)
        centre = (np.asarray(shape) - 1) / 2
        rel = np.array([6.0, 7.0, 6.0]) - centre
        moved = rel.copy()
        moved[a] = np.cos(theta) * rel[a] - np.sin(theta) * rel[b]
        moved[b] = np.sin(theta) * rel[a] + np.cos(theta) * rel[b]
        np.testing.assert_allclose(np.argwhere(seg).mean(0), moved + centre, atol=0.3)


def test_prob_zero_and_padding_values():
    rng = np.random.default_rng(1)
    res = _results(rng)
    out = RandomRotateVolume(prob=0.0)(dict(img=res['img'].copy(),
                                            gt_seg_map=res['gt_seg_map'].copy()))
    assert out['rotate'] is None
    np.testing.assert_array_equal(out['img'], res['img'])
    # 45 degrees in a square plane: the corners come from outside -> pad values
    img = np.ones((1, 3, 9, 9), np.float32)
    seg = np.ones((3, 9, 9), np.int64)
    np.random.seed(0)
    t = RandomRotateVolume(prob=1.0, max_angle=45, pad_value=-7.0, seg_pad_value=255)
    t.max_angles = [45.0]
    out = t(dict(img=img, gt_seg_map=seg))
    assert out['img'][0, 1, 0, 0] == -7.0 and out['gt_seg_map'][1, 0, 0] == 255
    assert out['img'][0, 1, 4, 4] == 1.0 and out['gt_seg_map'][1, 4, 4] == 1


def test_registered_and_bad_arguments():
    t = TRANSFORMS.build(dict(type='RandomRotateVolume', prob=1.0, max_angle=10,
                              planes=[[0, 2]]))
    assert t.planes == [(0, 2)] and t.max_angles == [10.0]
    with pytest.raises(ValueError, match=r'planes of two different axes'):
        RandomRotateVolume(planes=((1, 1), ))
    with pytest.raises(ValueError, match=r'one value or one per plane \(2\)'):
        RandomRotateVolume(max_angle=(10, 20, 30), planes=((0, 1), (1, 2)))
    with pytest.raises(ValueError, match=r'interp_order must be 0..5'):
        RandomRotateVolume(interp_order=7)
