"""DeepLesionDataset + the multi-slice pipeline on DeepLesion-format demo data."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from pycocotools import mask as mask_utils

from acsdet.registry import DATASETS

TRAIN_PIPELINE = [
    dict(type='LoadDeepLesionSlices', num_slices=7),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomShiftScaleRotate', prob=0.5),
    dict(type='PackMultiSliceDetInputs'),
]


def _dataset(paths, split='train', pipeline=TRAIN_PIPELINE, **kw):
    init_default_scope('acsdet')
    return DATASETS.build(dict(
        type='DeepLesionDataset', data_root=paths['root'],
        ann_file=f'annotations/deeplesion_{split}.json', data_prefix=dict(img='Images_png/'),
        pipeline=pipeline, **kw))


def test_data_info_carries_deeplesion_keys(demo_deeplesion):
    ds = _dataset(demo_deeplesion, pipeline=[])
    coco = json.load(open(demo_deeplesion['train']))
    assert len(ds) == len(coco['images']) == 6  # 10 series split 6 : 1 : 3
    info = ds.get_data_info(0)
    img = coco['images'][0]
    assert info['img_path'] == osp.join(demo_deeplesion['images_dir'], img['file_name'])
    for key in ('series', 'key_slice', 'slice_interval', 'slice_range', 'pixel_spacing',
                'dicom_window', 'split'):
        assert info[key] == img[key]
    inst = info['instances'][0]
    ann = [a for a in coco['annotations'] if a['image_id'] == img['id']][0]
    x, y, w, h = ann['bbox']
    assert inst['bbox'] == [x, y, x + w, y + h] and inst['recist'] == ann['recist']
    assert inst['bbox_label'] == 0 and inst['mask'] == ann['segmentation']
    assert ds.metainfo['classes'] == ('lesion',)


def test_noisy_lesions_ignored_or_dropped(demo_deeplesion):
    coco = json.load(open(demo_deeplesion['train']))
    noisy = sum(a['noisy'] for a in coco['annotations'])
    assert noisy >= 1
    ign = _dataset(demo_deeplesion, pipeline=[], noisy='ignore')
    drop = _dataset(demo_deeplesion, pipeline=[], noisy='drop')
    flags = [i['ignore_flag'] for k in range(len(ign)) for i in ign.get_data_info(k)['instances']]
    n_drop = sum(len(drop.get_data_info(k)['instances']) for k in range(len(drop)))
    assert sum(flags) == noisy and len(flags) == len(coco['annotations'])
    assert n_drop == len(coco['annotations']) - noisy
    with pytest.raises(ValueError, match="noisy must be 'ignore' or 'drop'"):
        _dataset(demo_deeplesion, noisy='keep')


def test_train_sample_is_1_d_h_w_with_aligned_targets(demo_deeplesion):
    np.random.seed(0)
    ds = _dataset(demo_deeplesion)
    for idx in range(len(ds)):
        out = ds[idx]
        x, s = out['inputs'], out['data_samples']
        assert x.shape == (1, 7, 160, 160) and x.dtype == torch.float32
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert s.img_shape == (160, 160) and s.ori_shape == (128, 128)
        assert s.slice_interval == ds.get_data_info(idx)['slice_interval']
        g = s.gt_instances
        n = len(g.bboxes)
        assert g.masks.masks.shape == (n, 160, 160) and g.recists.shape == (n, 8)
        assert len(s.ignored_instances.bboxes) + n >= 1
        for box, mask, rec in zip(g.bboxes.tensor, g.masks.masks, g.recists):
            x1, y1, x2, y2 = box.tolist()
            ys, xs = np.nonzero(mask)
            # 1.5 px: nearest-neighbour mask resampling after the 1.25x resize and a rotation
            assert len(xs) and x1 - 1.5 <= xs.min() and xs.max() <= x2 + 1.5
            assert y1 - 1.5 <= ys.min() and ys.max() <= y2 + 1.5
            pts = rec.reshape(4, 2).numpy()
            assert (pts[:, 0] >= x1 - 1).all() and (pts[:, 0] <= x2 + 1).all()


def test_test_pipeline_keeps_original_geometry(demo_deeplesion):
    pipeline = [dict(type='LoadDeepLesionSlices', num_slices=3),
                dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
                dict(type='PackMultiSliceDetInputs')]
    ds = _dataset(demo_deeplesion, 'test', pipeline)
    coco = json.load(open(demo_deeplesion['test']))
    out = ds[0]
    assert out['inputs'].shape == (1, 3, 128, 128)
    anns = [a for a in coco['annotations'] if a['image_id'] == coco['images'][0]['id']
            and not a['noisy']]
    g = out['data_samples'].gt_instances
    np.testing.assert_allclose(g.recists.numpy(), [a['recist'] for a in anns], atol=1e-4)
    np.testing.assert_array_equal(g.masks.masks[0], mask_utils.decode(anns[0]['segmentation']))


def test_one_slice_stack_survives_cv2_transforms(demo_deeplesion):
    """D = 1 (the 2D pretraining model): cv2's resize and flip drop the length-1 channel axis;
    the packed input is still (1, 1, H, W)."""
    np.random.seed(0)
    pipeline = [dict(t, num_slices=1) if t['type'] == 'LoadDeepLesionSlices' else t
                for t in TRAIN_PIPELINE if t['type'] != 'RandomShiftScaleRotate']
    ds = _dataset(demo_deeplesion, pipeline=pipeline)
    out = ds[0]
    assert out['inputs'].shape == (1, 1, 160, 160)
    assert out['data_samples'].gt_instances.masks.masks.shape[1:] == (160, 160)


def test_missing_series_at_load_time(demo_deeplesion, tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(demo_deeplesion['root'], root)
    coco = json.load(open(demo_deeplesion['val']))
    shutil.rmtree(osp.join(root, 'Images_png', coco['images'][0]['series']))
    ds = _dataset({'root': root}, 'val')
    with pytest.raises(FileNotFoundError, match='series folder not found'):
        ds[0]


def test_json_without_deeplesion_keys_is_rejected(demo_deeplesion, tmp_path):
    coco = json.load(open(demo_deeplesion['val']))
    del coco['images'][0]['slice_interval']
    ann = tmp_path / 'annotations' / 'deeplesion_val.json'
    ann.parent.mkdir()
    ann.write_text(json.dumps(coco))
    with pytest.raises(KeyError, match=r'deeplesion_val.json: image .* lacks "slice_interval"'):
        _dataset({'root': str(tmp_path)}, 'val')
