"""GrabCut pseudo-masks from RECIST: coverage, locality, fallback, windowing."""
import cv2
import numpy as np
import pytest

from acsdet.data_prep.recist_grabcut import (recist_ellipse_mask, recist_grabcut_mask,
                                             recist_quadrilateral, window_to_uint8)


def _lesion_image(size=160, cx=80.0, cy=70.0, a=22.0, b=13.0, theta=0.4, seed=0):
    """A noisy soft-tissue slice with one brighter elliptical lesion; returns its RECIST."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(30.0, 12.0, (size, size)).astype(np.float32)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    ct, st = np.cos(theta), np.sin(theta)
    u = (xx - cx) * ct + (yy - cy) * st
    v = -(xx - cx) * st + (yy - cy) * ct
    truth = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    hu[truth] += 90.0
    c = np.array([cx, cy])
    recist = np.concatenate([c - a * np.array([ct, st]), c + a * np.array([ct, st]),
                             c - b * np.array([-st, ct]), c + b * np.array([-st, ct])])
    xs, ys = recist[0::2], recist[1::2]
    box = (xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    return hu, truth, recist, box


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_window_clips_before_scaling_no_wraparound():
    hu = np.array([[-1000.0, -50.0, 77.5, 205.0, 300.0, 3000.0]])
    out = window_to_uint8(hu, (-50.0, 205.0))
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 0, 128, 255, 255, 255]]


def test_grabcut_covers_recist_quadrilateral_and_stays_in_box():
    hu, truth, recist, box = _lesion_image()
    res = recist_grabcut_mask(hu, recist, box, window=(-175, 275))
    assert (res.fallback, res.reason) == (False, 'ok')
    assert res.mask.shape == hu.shape and res.mask.dtype == bool
    quad = np.zeros(hu.shape, np.uint8)
    cv2.fillPoly(quad, [np.rint(recist_quadrilateral(recist)).astype(np.int32)], 1)
    assert res.mask[quad > 0].all()
    x1, y1, x2, y2 = box
    ys, xs = np.nonzero(res.mask)
    assert xs.min() >= np.floor(x1) and xs.max() <= np.ceil(x2)
    assert ys.min() >= np.floor(y1) and ys.max() <= np.ceil(y2)
    assert _iou(res.mask, truth) > 0.85
    assert res.area == res.mask.sum() and res.ellipse_area > 0


def test_crop_matches_whole_image_grabcut():
    hu, truth, recist, box = _lesion_image(size=256, cx=130, cy=120, seed=3)
    crop = recist_grabcut_mask(hu, recist, box)
    whole = recist_grabcut_mask(hu, recist, box, crop=False)
    assert not crop.fallback and not whole.fallback
    assert _iou(crop.mask, whole.mask) > 0.9


def test_ellipse_passes_through_recist_end_points():
    recist = [20.0, 40.0, 80.0, 40.0, 50.0, 25.0, 50.0, 55.0]  # a = 30, b = 15, centred
    m = recist_ellipse_mask(recist, (100, 100))
    # pixels whose centre lies inside, plus at most the one-pixel boundary ring
    assert np.pi * 30 * 15 <= m.sum() <= np.pi * 31 * 16
    for x, y in np.reshape(recist, (4, 2)).astype(int):
        assert m[y, x]
    assert not m[40, 15] and not m[20, 50]


def test_mask_filling_the_box_falls_back_to_ellipse():
    hu = np.full((120, 120), -100.0, np.float32)
    hu[45:76, 35:86] = 60.0  # the bright region is the whole box: implausible for a lesion
    recist = [40.0, 60.0, 80.0, 60.0, 60.0, 50.0, 60.0, 70.0]
    res = recist_grabcut_mask(hu, recist, (35, 45, 85, 75))
    assert (res.fallback, res.reason) == (True, 'fills_box')
    assert np.array_equal(res.mask, recist_ellipse_mask(recist, hu.shape))
    assert res.area == res.ellipse_area


def test_grabcut_error_falls_back_to_ellipse():
    hu = np.random.default_rng(0).normal(0, 30, (40, 40)).astype(np.float32)
    recist = [5.0, 20.0, 35.0, 20.0, 20.0, 5.0, 20.0, 35.0]
    res = recist_grabcut_mask(hu, recist, (0, 0, 39, 39))  # box = image: no background seed
    assert (res.fallback, res.reason) == (True, 'grabcut_error')
    assert np.array_equal(res.mask, recist_ellipse_mask(recist, hu.shape))


def test_seeded_grabcut_is_deterministic():
    hu, _, recist, box = _lesion_image(seed=5)
    a = recist_grabcut_mask(hu, recist, box)
    b = recist_grabcut_mask(hu, recist, box)
    assert np.array_equal(a.mask, b.mask)


def test_rejects_non_2d_input():
    with pytest.raises(ValueError, match=r'expected an \(H, W\) slice, got shape \(2, 8, 8\)'):
        recist_grabcut_mask(np.zeros((2, 8, 8)), [0] * 8, (0, 0, 4, 4))
