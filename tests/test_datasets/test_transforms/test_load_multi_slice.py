"""LoadDeepLesionSlices: per-position interpolation end to end, edges, cache, bad files."""
import os.path as osp

import cv2
import numpy as np
import pytest

from acsdet.datasets.transforms import LoadDeepLesionSlices, load_multi_slice
from acsdet.fileio.deeplesion_png import write_hu_png

LOW, HIGH = -1024.0, 2050.0


def _series(root, first=40, last=60, size=16):
    """Slice i holds the constant HU 10 * i."""
    folder = osp.join(root, 'Images_png', '000001_01_01')
    for i in range(first, last + 1):
        hu = np.full((size, size), 10.0 * i, np.float32)
        write_hu_png(osp.join(folder, f'{i:03d}.png'), hu)
    return folder


def _results(folder, key=50, rng=(40, 60), interval=2.5):
    return {'img_path': osp.join(folder, f'{key:03d}.png'), 'key_slice': key,
            'slice_range': list(rng), 'slice_interval': interval}


def _hu(img):
    return img * (HIGH - LOW) + LOW


@pytest.mark.parametrize('interval,positions', [
    (1.0, [44, 46, 48, 50, 52, 54, 56]),
    (2.0, [47, 48, 49, 50, 51, 52, 53]),
    (2.5, [47.6, 48.4, 49.2, 50, 50.8, 51.6, 52.4]),
    (5.0, [48.8, 49.2, 49.6, 50, 50.4, 50.8, 51.2]),
])
def test_each_slice_is_interpolated_at_its_own_position(tmp_path, interval, positions):
    folder = _series(str(tmp_path))
    out = LoadDeepLesionSlices(num_slices=7)(_results(folder, interval=interval))
    img = out['img']
    assert img.shape == (16, 16, 7) and img.dtype == np.float32
    assert out['img_shape'] == out['ori_shape'] == (16, 16)
    np.testing.assert_allclose(_hu(img[3, 5]), 10.0 * np.array(positions), atol=0.02)


def test_edge_replication_and_hu_clip(tmp_path):
    folder = _series(str(tmp_path), first=198, last=210)  # 10 * 210 HU > 2050: clipped
    out = LoadDeepLesionSlices(num_slices=9)(_results(folder, key=209, rng=(198, 210),
                                                      interval=1.0))
    np.testing.assert_allclose(_hu(out['img'][0, 0]),
                               [2010, 2030, 2050, 2050, 2050, 2050, 2050, 2050, 2050],
                               atol=0.02)
    assert out['img'].max() == pytest.approx(1.0) and out['slice_positions'][-1] == 210


def test_normalise_thickness_off_takes_adjacent_slices(tmp_path):
    folder = _series(str(tmp_path))
    out = LoadDeepLesionSlices(num_slices=3, normalize_thickness=False)(
        _results(folder, interval=5.0))
    np.testing.assert_allclose(_hu(out['img'][0, 0]), [490, 500, 510], atol=0.02)


def test_cache_returns_the_same_stack_without_reading(tmp_path, monkeypatch):
    folder = _series(str(tmp_path))
    t = LoadDeepLesionSlices(num_slices=7, cache_dir=str(tmp_path / 'cache'))
    first = t(_results(folder))['img']
    reads = []
    monkeypatch.setattr(load_multi_slice, 'read_hu_png', lambda p: reads.append(p))
    again = t(_results(folder))['img']
    assert reads == []
    np.testing.assert_allclose(again, first, atol=0.5 / (HIGH - LOW))
    assert [p.name for p in (tmp_path / 'cache').iterdir()] == [
        '000001_01_01_050_r40-60_d7_t2.npy']


def test_missing_neighbour_is_a_one_line_error(tmp_path):
    folder = _series(str(tmp_path))
    import os
    os.remove(osp.join(folder, '048.png'))
    with pytest.raises(FileNotFoundError, match=r'missing slice .*000001_01_01/048.png '
                                                r'\(key slice 50, slice_range \[40, 60\]\)'):
        LoadDeepLesionSlices(num_slices=7)(_results(folder, interval=2.0))


def test_missing_series_folder(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'series folder not found: .*/nowhere \(sample .*/nowhere/050.png\)'):
        LoadDeepLesionSlices(num_slices=3)(_results(str(tmp_path / 'nowhere')))


def test_8bit_and_corrupt_png_are_one_line_errors(tmp_path):
    folder = _series(str(tmp_path))
    cv2.imwrite(osp.join(folder, '049.png'), np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError, match=r'expected a single-channel 16-bit PNG .*got uint8 '
                                         r'with shape \(16, 16\): .*/049.png'):
        LoadDeepLesionSlices(num_slices=3)(_results(folder, interval=2.0))
    with open(osp.join(folder, '051.png'), 'wb') as f:
        f.write(b'garbage')
    with pytest.raises(ValueError, match=r'cannot decode slice \(corrupt PNG\?\): .*/051.png'):
        LoadDeepLesionSlices(num_slices=3)(_results(folder, key=52, interval=2.0))


def test_missing_metadata_and_bad_args(tmp_path):
    r = _results(str(tmp_path))
    del r['slice_interval']
    with pytest.raises(KeyError, match='lacks "slice_interval"'):
        LoadDeepLesionSlices()(r)
    with pytest.raises(ValueError, match='num_slices must be odd'):
        LoadDeepLesionSlices(num_slices=6)
