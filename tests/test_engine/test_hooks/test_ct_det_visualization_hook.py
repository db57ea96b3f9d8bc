"""CTDetVisualizationHook: DeepLesion 16-bit PNGs shown as windowed HU, 8-bit images as they
are, ground truth mapped from the network-input frame back to the slice, files per key slice."""
import os
import types

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from acsdet.engine.hooks import CTDetVisualizationHook
from acsdet.fileio.deeplesion_png import write_hu_png
from acsdet.visualization import CTDetLocalVisualizer, read_display_image


def _sample(img_path, ori=(64, 48), scale=2.0, series='000001_01_01', key=7):
    """GT in the input frame (image resized x``scale``): box, mask, RECIST; one prediction in
    the original frame."""
    h, w = ori
    ih, iw = int(h * scale), int(w * scale)
    s = DetDataSample(metainfo=dict(img_path=img_path, ori_shape=(h, w), img_shape=(ih, iw),
                                    scale_factor=(scale, scale), series=series, key_slice=key))
    gt = InstanceData()
    gt.bboxes = HorizontalBoxes(torch.tensor([[10.0, 20.0, 30.0, 40.0]]) * scale)
    gt.labels = torch.tensor([0])
    m = np.zeros((1, ih, iw), np.uint8)
    m[0, int(20 * scale):int(40 * scale), int(10 * scale):int(30 * scale)] = 1
    gt.masks = BitmapMasks(m, ih, iw)
    rec = torch.tensor([[12.0, 30.0, 28.0, 30.0, 20.0, 22.0, 20.0, 38.0]])
    gt.recists = (rec + 0.5) * scale - 0.5
    s.gt_instances = gt
    pred = InstanceData()
    pred.bboxes = torch.tensor([[5.0, 5.0, 15.0, 15.0]])
    pred.scores = torch.tensor([0.9])
    pred.labels = torch.tensor([0])
    s.pred_instances = pred
    return s


@pytest.fixture
def visualizer():
    return CTDetLocalVisualizer.get_instance(f'hooktest_{os.getpid()}_{id(object())}',
                                             window='soft_tissue')


def test_read_display_image(tmp_path):
    hu = np.full((6, 5), 40.0, np.float32)
    hu[0, 0] = -1000
    write_hu_png(str(tmp_path / 'a.png'), hu)
    np.testing.assert_array_equal(read_display_image(str(tmp_path / 'a.png')), hu)
    grey = np.full((4, 4), 51, np.uint8)
    cv2.imwrite(str(tmp_path / 'g.png'), grey)
    np.testing.assert_allclose(read_display_image(str(tmp_path / 'g.png'), (-1024, 3071)),
                               np.full((4, 4), -1024 + 51 * 4095 / 255), rtol=1e-6)
    rgb = read_display_image(str(tmp_path / 'g.png'))
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8 and (rgb == 51).all()
    colour = np.zeros((3, 3, 3), np.uint8)
    colour[..., 2] = 200  # red in BGR
    cv2.imwrite(str(tmp_path / 'c.png'), colour)
    assert (read_display_image(str(tmp_path / 'c.png'), (-1024, 3071))[..., 0] == 200).all()
    with pytest.raises(FileNotFoundError, match='image not found: .*missing.png'):
        read_display_image(str(tmp_path / 'missing.png'))
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match='cannot decode image: .*bad.png'):
        read_display_image(str(tmp_path / 'bad.png'))


def test_gt_mapped_back_to_the_original_frame(visualizer):
    hook = CTDetVisualizationHook(draw=True)
    s = hook.original_frame(_sample('x.png'))
    gt = s.gt_instances
    np.testing.assert_allclose(gt.bboxes.numpy(), [[10, 20, 30, 40]])
    assert gt.masks.to_ndarray().shape == (1, 64, 48)
    assert gt.masks.to_ndarray()[0, 20:40, 10:30].all() and gt.masks.to_ndarray().sum() == 400
    np.testing.assert_allclose(gt.recists.numpy(),
                               [[12, 30, 28, 30, 20, 22, 20, 38]], atol=1e-5)
    # a key slice whose only lesion is ignored (noisy): empty GT, masks of the input size
    empty = _sample('x.png')
    empty.gt_instances = empty.gt_instances[torch.zeros(1, dtype=torch.bool)]
    mapped = hook.original_frame(empty).gt_instances
    assert len(mapped) == 0 and mapped.masks.to_ndarray().shape == (0, 64, 48)
    # gt_frame='original' leaves the sample alone (mmdet pipelines: annotations after Resize)
    same = CTDetVisualizationHook(gt_frame='original').original_frame(_sample('x.png'))
    np.testing.assert_allclose(same.gt_instances.bboxes.numpy(), [[20, 40, 60, 80]])
    with pytest.raises(ValueError, match="gt_frame must be 'auto', 'input' or 'original'"):
        CTDetVisualizationHook(gt_frame='resized')


def test_test_iter_writes_windowed_hu_16bit_and_rgb_8bit(tmp_path, visualizer):
    hu = np.full((64, 48), -1000.0, np.float32)
    hu[:, 24:] = 40.0
    png16 = str(tmp_path / 'Images_png' / '000001_01_01' / '007.png')
    write_hu_png(png16, hu)
    rgb = np.zeros((64, 48, 3), np.uint8)
    rgb[:, :, 1] = 90
    png8 = str(tmp_path / 'coco.png')
    cv2.imwrite(png8, rgb[:, :, ::-1])
    hook = CTDetVisualizationHook(draw=True, test_out_dir='vis', window='lung')
    assert visualizer.window == 'lung'
    runner = types.SimpleNamespace(work_dir=str(tmp_path / 'work'), timestamp='ts')
    coco_sample = _sample(png8, series=None, key=None, scale=1.0)
    hook.after_test_iter(runner, 0, {}, [_sample(png16), coco_sample])
    out_dir = tmp_path / 'work' / 'ts' / 'vis'
    assert sorted(p.name for p in out_dir.iterdir()) == ['000001_01_01_007.png', 'coco.png']
    a = cv2.imread(str(out_dir / '000001_01_01_007.png'))[:, :, ::-1]
    assert a.shape == (64, 96, 3)  # GT | prediction panels, original size
    # lung window [-1350, 150]: air -1000 -> 59, tissue 40 -> 236 (far from the boxes)
    assert abs(int(a[60, 2, 0]) - 59) <= 1 and abs(int(a[60, 46, 0]) - 236) <= 1
    # the GT mask, mapped back, fills x 10..30, y 20..40 of the left panel (green) and
    # nothing below it
    inside = a[32:38, 12:18].reshape(-1, 3).astype(int)
    assert (inside[:, 1] - inside[:, 0] > 80).all()
    below = a[44:60, 12:18].reshape(-1, 3).astype(int)
    assert (np.abs(below[:, 1] - below[:, 0]) < 5).all()
    b = cv2.imread(str(out_dir / 'coco.png'))[:, :, ::-1]
    assert b.shape == (64, 96, 3)
    np.testing.assert_array_equal(b[60, 44], [0, 90, 0])  # 8-bit image drawn as is


def test_val_iter_draws_every_interval(tmp_path, visualizer):
    hu = np.full((64, 48), 40.0, np.float32)
    png16 = str(tmp_path / '007.png')
    write_hu_png(png16, hu)
    calls = []
    visualizer.add_datasample = lambda name, image, **kw: calls.append((name, image.shape))
    hook = CTDetVisualizationHook(draw=True, interval=2)
    runner = types.SimpleNamespace(iter=0)
    for i in range(4):
        hook.after_val_iter(runner, i, {}, [_sample(png16)])
    assert calls == [('val_img', (64, 48)), ('val_img', (64, 48))]  # HU handed over
