import cv2
import numpy as np
import pytest

from acsdet.apis import recist_from_mask


@pytest.mark.parametrize('angle', [0, 30, 90, 135])
def test_recist_of_an_ellipse(angle):
    mask = np.zeros((120, 120), np.uint8)
    cv2.ellipse(mask, (60, 60), (40, 15), angle, 0, 360, 1, -1)
    out = recist_from_mask(mask, (0.5, 0.5))
    # axes 80 and 30 px between boundary pixel centres (about 79-80 / 29-30 px)
    assert out['long_diameter_mm'] == pytest.approx(40, abs=1.0)
    assert out['short_diameter_mm'] == pytest.approx(15, abs=1.0)
    x1, y1, x2, y2, x3, y3, x4, y4 = out['recist']
    long_vec = np.array([x2 - x1, y2 - y1])
    short_vec = np.array([x4 - x3, y4 - y3])
    assert np.hypot(*long_vec) * 0.5 == pytest.approx(out['long_diameter_mm'], rel=1e-6)
    assert np.hypot(*short_vec) * 0.5 == pytest.approx(out['short_diameter_mm'], rel=1e-6)
    cos = abs(long_vec @ short_vec) / np.hypot(*long_vec) / np.hypot(*short_vec)
    assert cos < 1e-6  # perpendicular
    theta = np.deg2rad(angle)
    assert abs(long_vec @ [np.cos(theta), np.sin(theta)]) / np.hypot(*long_vec) > 0.99


def test_anisotropic_spacing_and_empty_mask():
    # 80 x 10 px ellipse at 0.5 x 2 mm pixels: a 40 x 20 mm ellipse in mm
    mask = np.zeros((40, 100), np.uint8)
    cv2.ellipse(mask, (50, 20), (40, 5), 0, 0, 360, 1, -1)
    out = recist_from_mask(mask, (0.5, 2.0))
    assert out['long_diameter_mm'] == pytest.approx(40, abs=1.0)
    assert out['short_diameter_mm'] == pytest.approx(20, abs=2.0)
    assert abs(out['recist'][1] - out['recist'][3]) < 1.5  # long axis along x
    # a 41 x 11 px rectangle: the long axis is the diagonal
    rect = np.zeros((30, 50), np.uint8)
    rect[10:21, 5:46] = 1
    assert recist_from_mask(rect)['long_diameter_mm'] == pytest.approx(np.hypot(40, 10))
    assert recist_from_mask(np.zeros((5, 5), bool)) is None
