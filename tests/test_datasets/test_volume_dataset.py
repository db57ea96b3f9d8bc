"""VolumeDataset (.npz folders, NIfTI pairs from json) and the volume transforms."""
import json

import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from acsdet.data_prep import generate_poc_shapes, load_poc_sample
from acsdet.datasets import VolumeDataset
from acsdet.datasets.transforms import (ClipNormalizeVolume, LoadVolumeFromFile, PackVolumeInputs,
                                        RandomCropVolume, RandomFlipVolume, RandomRot90Volume,
                                        ResampleVolume)
from acsdet.fileio import read_volume


@pytest.fixture(autouse=True)
def acsdet_scope():
    with DefaultScope.overwrite_default_scope('acsdet'):
        yield


PIPELINE = [dict(type='LoadVolumeFromFile'), dict(type='PackVolumeInputs')]


@pytest.fixture(scope='module')
def poc_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('poc')
    generate_poc_shapes(str(root), counts={'3d': {'train': 2, 'test': 0}}, dims=('3d', ))
    return root / 'poc_3d'


def _results(shape=(6, 8, 10), seed=0):
    rng = np.random.default_rng(seed)
    img = rng.normal(size=(1, ) + shape).astype(np.float32)
    # label encodes the image, so any geometric mismatch between the two is detected
    return dict(img=img, gt_seg_map=(img[0] > 0).astype(np.int64) + (img[0] > 1))


def test_npz_folder_dataset(poc_root):
    ds = VolumeDataset(data_root=str(poc_root), data_prefix=dict(img_path='train'),
                       pipeline=PIPELINE)
    assert len(ds) == 2
    info = ds.get_data_info(1)
    assert info['case_id'] == '00001' and info['seg_path'] is None
    sample = ds[1]
    image, label = load_poc_sample(str(poc_root / 'train' / '00001.npz'))
    assert sample['inputs'].shape == (1, 48, 48, 48) and sample['inputs'].dtype == torch.float32
    assert torch.equal(sample['inputs'][0], torch.from_numpy(image))
    assert torch.equal(sample['data_samples'].gt_sem_seg.data, torch.from_numpy(label).long())
    assert sample['data_samples'].case_id == '00001'
    assert sample['data_samples'].ori_shape == (48, 48, 48)
    with pytest.raises(FileNotFoundError, match='no .npz files in'):
        VolumeDataset(data_root=str(poc_root), data_prefix=dict(img_path='test'))


def _write_nifti(path, xyz, zooms):
    img = nib.Nifti1Image(xyz, np.diag(list(zooms) + [1.0]))
    img.header.set_zooms(zooms)
    nib.save(img, str(path))


@pytest.mark.parametrize('msd', [False, True])
def test_nifti_pairs_from_json(tmp_path, msd):
    xyz = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (X, Y, Z)
    (tmp_path / 'imagesTr').mkdir()
    (tmp_path / 'labelsTr').mkdir()
    _write_nifti(tmp_path / 'imagesTr' / 'case_7.nii.gz', xyz, (0.7, 0.8, 2.5))
    _write_nifti(tmp_path / 'labelsTr' / 'case_7.nii.gz', (xyz % 3).astype(np.uint8),
                 (0.7, 0.8, 2.5))
    entries = [dict(image='./imagesTr/case_7.nii.gz', label='./labelsTr/case_7.nii.gz')]
    (tmp_path / 'dataset.json').write_text(json.dumps(dict(training=entries) if msd
                                                      else entries))
    ds = VolumeDataset(ann_file='dataset.json', data_root=str(tmp_path),
                       pipeline=[dict(type='LoadVolumeFromFile'),
                                 dict(type='ClipNormalizeVolume', clip_range=(0, 50),
                                      mode='minmax'),
                                 dict(type='PackVolumeInputs')])
    sample = ds[0]
    dhw = xyz.transpose(2, 1, 0)  # (Z, Y, X) = (D, H, W)
    assert sample['inputs'].shape == (1, 6, 5, 4)
    np.testing.assert_allclose(sample['inputs'][0].numpy(), np.clip(dhw, 0, 50) / 50)
    assert torch.equal(sample['data_samples'].gt_sem_seg.data, torch.from_numpy(dhw % 3).long())
    assert sample['data_samples'].spacing == pytest.approx((2.5, 0.8, 0.7))
    assert sample['data_samples'].case_id == 'case_7'


def test_read_errors(tmp_path):
    np.savez(tmp_path / 'a.npz', image=np.zeros((2, 2, 2)))
    with pytest.raises(KeyError, match=r"a.npz: missing key 'label' \(has \['image'\]\)"):
        read_volume(str(tmp_path / 'a.npz'), key='label')
    (tmp_path / 'b.raw').write_bytes(b'')
    with pytest.raises(ValueError, match=r'b.raw: unknown volume format'):
        read_volume(str(tmp_path / 'b.raw'))
    np.savez(tmp_path / 'c.npz', image=np.zeros((2, 2, 2)), label=np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match=r'c.npz: label shape \(2, 2, 3\) != image shape'):
        LoadVolumeFromFile()(dict(img_path=str(tmp_path / 'c.npz')))


def test_clip_normalise():
    img = np.array([[[[-2000.0, 0.0, 3000.0]]]], np.float32)
    out = ClipNormalizeVolume(clip_range=(-1024, 2050), mean=-500, std=100)(dict(img=img))
    np.testing.assert_allclose(out['img'].ravel(), [-5.24, 5.0, 25.5], rtol=1e-6)
    out = ClipNormalizeVolume(mode='zscore')(dict(img=img.copy()))
    assert abs(out['img'].mean()) < 1e-6 and abs(out['img'].std() - 1) < 1e-5
    with pytest.raises(ValueError, match="mode 'minmax' needs clip_range"):
        ClipNormalizeVolume(mode='minmax')


def test_random_crop_is_a_crop_and_pads():
    np.random.seed(0)
    res = _results((6, 8, 10))
    img, seg = res['img'].copy(), res['gt_seg_map'].copy()
    for _ in range(5):
        out = RandomCropVolume((4, 5, 6))(dict(img=img, gt_seg_map=seg))
        (d0, h0, w0), (d1, h1, w1) = out['crop_bbox']
        assert (d1 - d0, h1 - h0, w1 - w0) == (4, 5, 6)
        np.testing.assert_array_equal(out['img'], img[:, d0:d1, h0:h1, w0:w1])
        np.testing.assert_array_equal(out['gt_seg_map'], seg[d0:d1, h0:h1, w0:w1])
    out = RandomCropVolume((8, 8, 8), seg_pad_value=255)(dict(img=img, gt_seg_map=seg))
    assert out['img'].shape == (1, 8, 8, 8) and out['img_shape'] == (8, 8, 8)
    assert (out['gt_seg_map'][6:] == 255).all() and (out['img'][:, 6:] == 0).all()


def test_random_crop_foreground_centre():
    np.random.seed(1)
    seg = np.zeros((40, 40, 40), np.int64)
    seg[33, 2, 37] = 1
    img = np.zeros((1, 40, 40, 40), np.float32)
    for _ in range(5):
        out = RandomCropVolume(8, fg_prob=1.0)(dict(img=img, gt_seg_map=seg))
        assert out['gt_seg_map'].sum() == 1


def test_random_flip_and_rot90_keep_image_and_label_aligned():
    np.random.seed(0)
    res = _results((4, 6, 6))
    out = RandomFlipVolume(prob=1.0, axes=(0, 2))(dict(res))
    np.testing.assert_array_equal(out['img'], res['img'][:, ::-1, :, ::-1])
    np.testing.assert_array_equal(out['gt_seg_map'], res['gt_seg_map'][::-1, :, ::-1])
    assert out['flip_axes'] == [0, 2]
    assert RandomFlipVolume(prob=0.0)(dict(res))['flip_axes'] == []
    seen = set()
    for _ in range(12):
        out = RandomRot90Volume(prob=1.0, planes=((1, 2), (0, 1)))(dict(res))
        k, plane = out['rot90']
        seen.add(k)
        np.testing.assert_array_equal(out['img'][0],
                                      np.rot90(res['img'][0], k, plane))
        np.testing.assert_array_equal(out['gt_seg_map'],
                                      (out['img'][0] > 0).astype(int) + (out['img'][0] > 1))
        assert out['img_shape'] == out['img'].shape[1:]
    assert seen == {1, 2, 3}
    with pytest.raises(ValueError, match='planes of two different axes'):
        RandomRot90Volume(planes=((1, 1), ))


def test_pack_without_label():
    res = _results((2, 3, 4))
    del res['gt_seg_map']
    packed = PackVolumeInputs()(dict(res, img_path='x.npz', case_id='x'))
    assert packed['inputs'].shape == (1, 2, 3, 4)
    assert 'gt_sem_seg' not in packed['data_samples']
    assert packed['data_samples'].img_path == 'x.npz'


def test_resample_to_spacing():
    img = np.zeros((1, 4, 6, 6), np.float32)
    img[:, :, :, 3:] = 10.0
    seg = (img[0] > 0).astype(np.int64) * 2
    out = ResampleVolume((1.0, None, 0.5))(
        dict(img=img, gt_seg_map=seg, spacing=(2.5, 0.8, 1.0)))
    assert out['img'].shape == (1, 10, 6, 12) and out['gt_seg_map'].shape == (10, 6, 12)
    assert out['spacing'] == pytest.approx((1.0, 0.8, 0.5))
    # nearest labels stay labels; the step edge moves to the same physical position
    assert set(np.unique(out['gt_seg_map'])) == {0, 2}
    np.testing.assert_array_equal(out['gt_seg_map'][:, :, 6:], 2)
    np.testing.assert_array_equal(out['gt_seg_map'][:, :, :6], 0)
    assert out['img'][0, :, :, 0].max() == 0 and out['img'][0, :, :, -1].min() == 10
    np.testing.assert_allclose(out['img'][0, 0, 0, 5:7], [2.5, 7.5])  # trilinear edge
    with pytest.raises(KeyError, match="ResampleVolume: a.npz has no 'spacing'"):
        ResampleVolume((1, 1, 1))(dict(img=img, img_path='a.npz', spacing=None))
