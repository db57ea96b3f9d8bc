"""Augmentations keep the slices, boxes, masks and RECIST points aligned."""
import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.registry import init_default_scope

from acsdet.datasets.transforms import (PackMultiSliceDetInputs, RandomShiftScaleRotate,
                                        project_index_points)
from acsdet.registry import TRANSFORMS

H, W, D = 96, 128, 5


def _sample():
    """A D-slice stack: lesion ellipse (0.3 * gain_k) with 1.0 markers on its RECIST ends."""
    yy, xx = np.mgrid[:H, :W].astype(np.float64)
    cx, cy, a, b, th = 60.0, 44.0, 20.0, 11.0, 0.3
    u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
    v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
    lesion = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    c, e1, e2 = np.array([cx, cy]), np.array([np.cos(th), np.sin(th)]), \
        np.array([-np.sin(th), np.cos(th)])
    recist = np.rint(np.concatenate([c - a * e1, c + a * e1, c - b * e2, c + b * e2]))
    base = lesion * 0.3
    for x, y in recist.reshape(4, 2).astype(int):
        base[y, x] = 1.0
    gains = 1.0 + 0.1 * np.arange(D)
    img = (base[:, :, None] * gains).astype(np.float32)
    xs, ys = recist[0::2], recist[1::2]
    box = [xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5]
    return {
        'img': img, 'img_shape': (H, W), 'ori_shape': (H, W), 'img_id': 0, 'img_path': 'x.png',
        'slice_interval': 2.0, 'pixel_spacing': 0.8, 'series': '000001_01_01', 'key_slice': 5,
        'gt_bboxes': HorizontalBoxes(np.array([box], np.float32)),
        'gt_bboxes_labels': np.array([0]), 'gt_ignore_flags': np.array([False]),
        'gt_masks': BitmapMasks(lesion[None].astype(np.uint8), H, W),
        'gt_recists': recist[None].astype(np.float32),
        'recist_base_matrix': np.eye(3, dtype=np.float32),
    }, gains


def _pipeline(seed):
    init_default_scope('acsdet')
    ts = [TRANSFORMS.build(c) for c in (
        dict(type='Resize', scale=(192, 144), keep_ratio=True),
        dict(type='RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='RandomShiftScaleRotate', prob=1.0, max_shift=0.08, scale_range=(0.8, 1.2),
             max_rotate=30.0),
        dict(type='PackMultiSliceDetInputs'))]
    np.random.seed(seed)
    return ts


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_slices_boxes_masks_recist_stay_aligned(seed):
    results, gains = _sample()
    for t in _pipeline(seed):
        results = t(results)
    inputs, ds = results['inputs'], results['data_samples']
    assert inputs.shape == (1, D, 144, 192) and inputs.dtype == torch.float32
    img = inputs[0].numpy()
    # every slice went through the same geometry
    for k in range(1, D):
        np.testing.assert_allclose(img[k], img[0] * gains[k], atol=1e-5)
    gt = ds.gt_instances
    recist = gt.recists.numpy().reshape(4, 2)
    # each RECIST end point sits on its marker (the local maximum of the image)
    for x, y in recist:
        xi, yi = int(round(x)), int(round(y))
        win = img[0, yi - 3:yi + 4, xi - 3:xi + 4]
        py, px = np.unravel_index(np.argmax(win), win.shape)
        assert np.hypot(px - 3 + xi - x, py - 3 + yi - y) <= 1.0, (seed, x, y)
    # the mask lies on the lesion of the image
    mask = gt.masks.masks[0].astype(bool)
    lesion = img[0] > 0.15
    assert (mask & lesion).sum() / (mask | lesion).sum() > 0.85
    # the box holds the mask and the RECIST points
    x1, y1, x2, y2 = gt.bboxes.tensor[0].tolist()
    ys, xs = np.nonzero(mask)
    assert x1 - 1 <= xs.min() and xs.max() <= x2 + 1 and y1 - 1 <= ys.min() and ys.max() <= y2
    assert (recist[:, 0] >= x1).all() and (recist[:, 0] <= x2).all()
    assert (recist[:, 1] >= y1).all() and (recist[:, 1] <= y2).all()
    assert ds.flip is True and ds.img_shape == (144, 192) and ds.slice_interval == 2.0


def test_quarter_turn_maps_pixels_exactly():
    img = np.zeros((64, 64, 3), np.float32)
    img[20, 10] = 1.0  # pixel index x = 10, y = 20
    t = RandomShiftScaleRotate(prob=1.0)
    m = t.affine_matrix(64, 64, (0.0, 0.0), 1.0, 90.0)
    out = t.apply({'img': img}, m)
    ys, xs = np.nonzero(out['img'][:, :, 0] > 0.99)
    assert (xs.tolist(), ys.tolist()) == ([43], [10])  # (x, y) -> (63 - y, x) for 90 degrees
    assert np.allclose(out['img'][:, :, 2], out['img'][:, :, 0])
    np.testing.assert_allclose(project_index_points(np.array([[10.0, 20.0]]), m), [[43, 10]],
                               atol=1e-5)
    np.testing.assert_allclose(out['homography_matrix'], m, atol=1e-6)


def test_instances_pushed_out_of_the_image_are_dropped_everywhere():
    results, _ = _sample()
    t = RandomShiftScaleRotate(prob=1.0)
    out = t.apply(results, t.affine_matrix(W, H, (200.0, 0.0), 1.0, 0.0))
    assert len(out['gt_bboxes']) == 0 and len(out['gt_masks']) == 0
    assert out['gt_recists'].shape == (0, 8) and out['gt_bboxes_labels'].shape == (0,)
    packed = PackMultiSliceDetInputs()(out)
    assert packed['data_samples'].gt_instances.recists.shape == (0, 8)


def test_prob_zero_is_identity_and_pack_defaults():
    results, _ = _sample()
    img = results['img'].copy()
    out = RandomShiftScaleRotate(prob=0.0)(results)
    assert np.array_equal(out['img'], img) and 'homography_matrix' not in out
    packed = PackMultiSliceDetInputs()(out)
    ds = packed['data_samples']
    assert (ds.flip, ds.flip_direction, ds.scale_factor) == (False, None, (1.0, 1.0))
    np.testing.assert_allclose(ds.gt_instances.recists.numpy(), results['gt_recists'])
    assert packed['inputs'].shape == (1, D, H, W)


def test_pack_rejects_a_2d_image():
    with pytest.raises(ValueError, match=r'x.png: expected an \(H, W, D\) slice stack, '
                                         r'got \(4, 4\)'):
        PackMultiSliceDetInputs()({'img': np.zeros((4, 4), np.float32), 'img_path': 'x.png'})


def test_recist_box_mode_keeps_the_deeplesion_margin_under_rotation():
    """DeepLesion boxes are the RECIST extent +- 5 px: after a rotation by 30 degrees and a
    1.2x zoom the rebuilt box is the new extent +- 6 px; projecting corners inflates it."""
    boxes = {}
    for mode in ('recist', 'project'):
        results, _ = _sample()
        t = RandomShiftScaleRotate(prob=1.0, bbox_mode=mode)
        out = PackMultiSliceDetInputs()(t.apply(results, t.affine_matrix(W, H, (3.0, -2.0),
                                                                           1.2, 30.0)))
        g = out['data_samples'].gt_instances
        boxes[mode] = g.bboxes.tensor[0].numpy()
        pts = g.recists[0].numpy().reshape(4, 2)
    expected = np.concatenate([pts.min(0) - 6.0, pts.max(0) + 6.0])
    np.testing.assert_allclose(boxes['recist'], expected, atol=1e-3)
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert area(boxes['project']) > 1.2 * area(boxes['recist'])
    with pytest.raises(ValueError, match="bbox_mode must be 'recist' or 'project'"):
        RandomShiftScaleRotate(bbox_mode='mask')
