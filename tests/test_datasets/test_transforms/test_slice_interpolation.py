"""Thickness normalisation to 2 mm: weights checked by hand for 1, 2, 2.5 and 5 mm slices."""
import numpy as np
import pytest

from acsdet.datasets.transforms.slice_interpolation import blend_slices, slice_blend_plan


def _plan(interval, key=50, rng=(0, 100), d=7):
    p = slice_blend_plan(key, rng, d, interval, 2.0)
    return p.lower.tolist(), p.upper.tolist(), np.round(p.weight_upper, 6).tolist(), p


def test_1mm_takes_every_second_slice():
    lo, hi, w, p = _plan(1.0)
    assert lo == hi == [44, 46, 48, 50, 52, 54, 56]
    assert w == [0.0] * 7 and p.needed == (44, 46, 48, 50, 52, 54, 56)


def test_2mm_takes_adjacent_slices():
    lo, hi, w, p = _plan(2.0)
    assert lo == hi == [47, 48, 49, 50, 51, 52, 53] and w == [0.0] * 7


def test_2_5mm_weights_come_from_each_position():
    # positions 50 + k * 0.8: 47.6 48.4 49.2 50 50.8 51.6 52.4
    lo, hi, w, p = _plan(2.5)
    assert p.positions == pytest.approx([47.6, 48.4, 49.2, 50.0, 50.8, 51.6, 52.4])
    assert lo == [47, 48, 49, 50, 50, 51, 52]
    assert hi == [48, 49, 50, 50, 51, 52, 53]
    assert w == [0.6, 0.4, 0.2, 0.0, 0.8, 0.6, 0.4]   # not 0.8 everywhere (published bug)


def test_5mm_weights_come_from_each_position():
    # positions 50 + k * 0.4: 48.8 49.2 49.6 50 50.4 50.8 51.2
    lo, hi, w, p = _plan(5.0)
    assert lo == [48, 49, 49, 50, 50, 50, 51]
    assert hi == [49, 50, 50, 50, 51, 51, 52]
    assert w == [0.8, 0.2, 0.6, 0.0, 0.4, 0.8, 0.2]
    assert p.needed == (48, 49, 50, 51, 52)


def test_outside_the_range_replicates_the_edge_slice():
    lo, hi, w, p = _plan(1.0, key=50, rng=(49, 51))
    assert lo == hi == [49, 49, 49, 50, 51, 51, 51] and w == [0.0] * 7
    lo, hi, w, p = _plan(5.0, key=50, rng=(50, 50), d=3)
    assert lo == hi == [50, 50, 50] and p.needed == (50,)


@pytest.mark.parametrize('interval', [0.625, 1.0, 1.25, 2.0, 2.5, 3.0, 5.0])
def test_blend_is_linear_in_position(interval):
    """With slice i filled with the value i, output slice j holds exactly its position."""
    p = slice_blend_plan(30, (20, 40), 9, interval)
    out = blend_slices(p, lambda i: np.full((4, 5), float(i), np.float32))
    assert out.shape == (4, 5, 9) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], p.positions, atol=1e-4)
    np.testing.assert_allclose(p.positions, np.clip(30 + np.arange(-4, 5) * 2.0 / interval,
                                                    20, 40))


def test_each_needed_slice_is_read_once():
    reads = []
    p = slice_blend_plan(10, (0, 20), 7, 5.0)
    blend_slices(p, lambda i: reads.append(i) or np.zeros((2, 2), np.float32))
    assert reads == [8, 9, 10, 11, 12]


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_slices must be odd'):
        slice_blend_plan(5, (0, 9), 4, 2.0)
    with pytest.raises(ValueError, match=r'key slice 12 outside slice_range \[0, 9\]'):
        slice_blend_plan(12, (0, 9), 3, 2.0)
    p = slice_blend_plan(5, (0, 9), 3, 2.0)
    shapes = {4: (8, 8), 5: (8, 8), 6: (8, 9)}
    with pytest.raises(ValueError, match='slices of one stack differ in shape'):
        blend_slices(p, lambda i: np.zeros(shapes[i], np.float32))
