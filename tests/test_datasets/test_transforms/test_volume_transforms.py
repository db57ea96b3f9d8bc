"""CenterCropVolume (the classification crop) and PackVolumeInputs' gt_label."""
import numpy as np
import pytest
import torch

from acsdet.datasets.transforms import CenterCropVolume, PackVolumeInputs


def _volume(shape=(6, 8, 10)):
    return np.arange(np.prod(shape), dtype=np.float32).reshape((1, ) + shape)


def test_center_crop_takes_the_middle_and_the_label_with_it():
    img = _volume()
    seg = (img[0] % 7).astype(np.int64)
    out = CenterCropVolume((4, 4, 4))(dict(img=img.copy(), gt_seg_map=seg.copy()))
    np.testing.assert_array_equal(out['img'], img[:, 1:5, 2:6, 3:7])
    np.testing.assert_array_equal(out['gt_seg_map'], seg[1:5, 2:6, 3:7])
    assert out['crop_bbox'] == ((1, 2, 3), (5, 6, 7)) and out['img_shape'] == (4, 4, 4)


def test_center_crop_pads_where_the_window_leaves_the_volume():
    img = _volume((2, 2, 2))
    out = CenterCropVolume(4, pad_value=-1.0)(dict(img=img.copy()))
    assert out['img'].shape == (1, 4, 4, 4)
    np.testing.assert_array_equal(out['img'][:, 1:3, 1:3, 1:3], img)
    assert (out['img'][:, 0] == -1).all() and out['crop_bbox'] == ((-1, -1, -1), (3, 3, 3))


def test_center_crop_shift_stays_within_max_shift():
    img = _volume((12, 12, 12))
    np.random.seed(0)
    starts = set()
    for _ in range(200):
        out = CenterCropVolume(4, max_shift=(0, 1, 2))(dict(img=img.copy()))
        start = out['crop_bbox'][0]
        starts.add(start)
        np.testing.assert_array_equal(
            out['img'], img[:, start[0]:start[0] + 4, start[1]:start[1] + 4,
                            start[2]:start[2] + 4])
    assert {s[0] for s in starts} == {4} and {s[1] for s in starts} == {3, 4, 5}
    assert {s[2] for s in starts} == {2, 3, 4, 5, 6}


def test_center_crop_bad_settings():
    with pytest.raises(ValueError, match='CenterCropVolume: crop_size must be a positive int'):
        CenterCropVolume(0)
    with pytest.raises(ValueError, match='max_shift a non-negative int'):
        CenterCropVolume(4, max_shift=-1)


def test_pack_volume_inputs_packs_the_class_label():
    out = PackVolumeInputs()(dict(img=_volume(), gt_label=1, case_id='n01'))
    assert torch.equal(out['data_samples'].gt_label, torch.tensor([1]))
    assert out['data_samples'].case_id == 'n01' and 'gt_sem_seg' not in out['data_samples']
    assert 'gt_label' not in PackVolumeInputs()(dict(img=_volume()))['data_samples']
