"""SegVisualizationHook: image | ground truth | prediction PNGs of a few slices per validation
run (3D and 2D samples), the interval, the test loop, bad arguments; and one real run of the
segmentation runtime (configs/_base_/seg_runtime.py) through mmengine's Runner."""
import os.path as osp
import types

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement

from acsdet.engine.hooks import SegVisualizationHook
from acsdet.registry import HOOKS
from acsdet.visualization import (SEG_PALETTE, label_colors, overlay_labels, pick_slices,
                                  render_seg_slices)

D, H, W = 10, 16, 12
# panels scaled x8 (ceil(128 / 16)): 128 x 96; 20-px header, 4-px gaps
PH, PW = 8 * H, 8 * W
SIZE_3D = (20 + 4 + 3 * (PH + 4), 4 + 3 * (PW + 4), 3)


def _volume_sample(case_id='case', gt_label=2, pred_label=1, with_gt=True):
    """inputs (1, D, H, W); GT ``gt_label`` on slices 2..7 rows 4..11 cols 3..8; prediction
    ``pred_label`` on the same box of slices 2..4."""
    image = torch.randn(1, D, H, W)
    gt = torch.zeros(D, H, W, dtype=torch.long)
    gt[2:8, 4:12, 3:9] = gt_label
    pred = torch.zeros(D, H, W, dtype=torch.long)
    pred[2:5, 4:12, 3:9] = pred_label
    sample = BaseDataElement(metainfo=dict(case_id=case_id,
                                           img_path=f'/data/{case_id}.nii.gz'))
    if with_gt:
        sample.gt_sem_seg = BaseDataElement(data=gt)
    sample.pred_sem_seg = BaseDataElement(data=pred)
    return image, sample


def _batch(samples):
    inputs, outputs = zip(*samples)
    return dict(inputs=list(inputs), data_samples=list(outputs)), list(outputs)


def _runner(tmp_path, epoch=3, it=120):
    return types.SimpleNamespace(work_dir=str(tmp_path / 'work'), timestamp='ts', epoch=epoch,
                                 iter=it)


def _read(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return img[:, :, ::-1].astype(int)  # RGB


def _panel(picture, row, col):
    y, x = 20 + 4 + row * (PH + 4), 4 + col * (PW + 4)
    return picture[y:y + PH, x:x + PW]


def _tinted(pixels, colour):
    """Pixels blended 50 / 50 with ``colour``: its strongest channel leads by > 60."""
    c = int(np.argmax(colour))
    others = [i for i in range(3) if i != c]
    return (pixels[..., c] - pixels[..., others].max(-1) > 60)


def _run_val(hook, runner, batches):
    hook.before_val_epoch(runner)
    for i, (data_batch, outputs) in enumerate(batches):
        hook.after_val_iter(runner, i, data_batch, outputs)
    hook.after_val_epoch(runner, {})


def test_val_writes_the_first_samples_of_a_3d_run(tmp_path):
    hook = HOOKS.build(dict(type='SegVisualizationHook', max_samples=3))
    runner = _runner(tmp_path)
    batches = [_batch([_volume_sample(f'case{2 * b}'), _volume_sample(f'case{2 * b + 1}')])
               for b in range(3)]
    _run_val(hook, runner, batches)
    out = tmp_path / 'work' / 'ts' / 'vis_seg' / 'epoch_3'
    assert sorted(p.name for p in out.iterdir()) == ['case0.png', 'case1.png', 'case2.png']
    pic = _read(out / 'case0.png')
    assert pic.shape == SIZE_3D
    # rows: slices 3, 5, 7 (the middles of three runs of the GT slices 2..7)
    assert pick_slices(D, 3, batches[0][1][0].gt_sem_seg.data.numpy()) == [3, 5, 7]
    box = (slice(4 * 8 + 4, 12 * 8 - 4), slice(3 * 8 + 4, 9 * 8 - 4))  # inside the GT box
    for row, z in enumerate((3, 5, 7)):
        image, gt, pred = (_panel(pic, row, c) for c in range(3))
        assert _tinted(gt[box], SEG_PALETTE[1]).all()      # label 2: green
        assert not _tinted(gt[:4 * 8], SEG_PALETTE[1]).any()  # nothing above the box
        assert np.ptp(image[box], axis=-1).max() <= 1       # the image panel stays grey
        assert np.ptp(image[..., 0]) > 50                   # ... and shows the noise
        # prediction (label 1, red) on slices 2..4 only
        red = _tinted(pred[box], SEG_PALETTE[0])
        assert red.all() if z <= 4 else not red.any()


def test_val_2d_samples_one_row(tmp_path):
    image = torch.randn(1, 20, 24)
    gt = torch.zeros(20, 24, dtype=torch.long)
    gt[5:15, 6:18] = 1
    sample = BaseDataElement(metainfo=dict(img_path='/poc_2d/test/00007.npz'),
                             gt_sem_seg=BaseDataElement(data=gt),
                             pred_sem_seg=BaseDataElement(data=torch.zeros(20, 24).long()))
    hook = SegVisualizationHook()
    runner = _runner(tmp_path, epoch=1)
    _run_val(hook, runner, [_batch([(image, sample)] * 3)])  # max_samples 2 of 3
    out = tmp_path / 'work' / 'ts' / 'vis_seg' / 'epoch_1'
    assert sorted(p.name for p in out.iterdir()) == ['00007.png', '00007_1.png']
    pic = _read(out / '00007.png')
    s = 6  # ceil(128 / 24)
    assert pic.shape == (20 + 4 + 20 * s + 4, 4 + 3 * (24 * s + 4), 3)
    y, x = 24, 4 + (24 * s + 4)  # GT panel
    gt_panel = pic[y:y + 20 * s, x:x + 24 * s]
    assert _tinted(gt_panel[7 * s:13 * s, 8 * s:16 * s], SEG_PALETTE[0]).all()
    assert not _tinted(gt_panel[:4 * s], SEG_PALETTE[0]).any()


def test_interval_draw_by_iter_and_no_gt(tmp_path):
    runner = _runner(tmp_path)
    hook = SegVisualizationHook(interval=2, max_samples=1)
    for epoch in (1, 2, 3, 4, 5):
        runner.epoch = epoch
        _run_val(hook, runner, [_batch([_volume_sample()])])
    assert sorted(p.name for p in (tmp_path / 'work' / 'ts' / 'vis_seg').iterdir()) == [
        'epoch_1', 'epoch_3', 'epoch_5']

    off = SegVisualizationHook(draw=False, val_out_dir='off')
    _run_val(off, runner, [_batch([_volume_sample()])])
    assert not (tmp_path / 'work' / 'ts' / 'off').exists()

    by_iter = SegVisualizationHook(by_epoch=False, val_out_dir='it', num_slices=1)
    _run_val(by_iter, runner, [_batch([_volume_sample('x', with_gt=False)])])
    pic = _read(tmp_path / 'work' / 'ts' / 'it' / 'iter_120' / 'x.png')
    assert pic.shape == (20 + 4 + PH + 4, SIZE_3D[1], 3)  # one row: the middle slice
    assert pick_slices(D, 1) == [5] and pick_slices(9, 3) == [1, 4, 7]
    # without ground truth the GT panel is the plain image
    np.testing.assert_array_equal(_panel(pic, 0, 0)[20:], _panel(pic, 0, 1)[20:])


def test_test_loop_only_with_test_out_dir(tmp_path):
    runner = _runner(tmp_path)
    batch = _batch([_volume_sample('a'), _volume_sample('b'), _volume_sample('c')])
    hook = SegVisualizationHook()
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, *batch)
    assert not (tmp_path / 'work').exists()  # test_out_dir None: nothing drawn
    hook = SegVisualizationHook(test_out_dir='show', max_samples=1)
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, *batch)
    out = tmp_path / 'work' / 'ts' / 'show'
    assert sorted(p.name for p in out.iterdir()) == ['a.png', 'b.png', 'c.png']  # every sample
    assert _read(out / 'a.png').shape == SIZE_3D


def test_stacked_inputs_channel_and_shape_mismatch(tmp_path):
    runner = _runner(tmp_path)
    (img0, s0), (img1, s1) = _volume_sample('p'), _volume_sample('q')
    inputs = torch.stack([torch.cat([img0, img0 * 0]), torch.cat([img1, img1 * 0])])
    hook = SegVisualizationHook(channel=1)  # a constant channel: a flat grey image panel
    _run_val(hook, runner, [(dict(inputs=inputs), [s0, s1])])
    pic = _read(tmp_path / 'work' / 'ts' / 'vis_seg' / 'epoch_3' / 'p.png')
    assert np.ptp(_panel(pic, 2, 0)[20:].reshape(-1, 3), axis=0).max() == 0
    with pytest.raises(ValueError, match='channel 2 out of range for inputs of 2 channels'):
        _run_val(SegVisualizationHook(channel=2), runner, [(dict(inputs=inputs), [s0, s1])])
    # inputs of another size (a padding preprocessor): the sample is skipped, not the run
    small = _runner(tmp_path / 'small')
    _run_val(SegVisualizationHook(), small, [(dict(inputs=[img0[:, :4]]), [s0])])
    assert not (tmp_path / 'small').exists()


@pytest.mark.parametrize('kwargs, message', [
    (dict(interval=0), 'interval must be an int >= 1, got 0'),
    (dict(max_samples=1.5), 'max_samples must be an int >= 1, got 1.5'),
    (dict(num_slices=True), 'num_slices must be an int >= 1, got True'),
    (dict(min_panel_size=-1), 'min_panel_size must be an int >= 1, got -1'),
    (dict(channel=-1), 'channel must be an int >= 0, got -1'),
    (dict(draw='yes'), "draw must be a bool, got 'yes'"),
    (dict(alpha=1.5), r'alpha must be a number in \[0, 1\], got 1.5'),
    (dict(test_out_dir=''), "test_out_dir must be a non-empty str or None, got ''"),
    (dict(val_out_dir=None), 'val_out_dir must be a non-empty str, got None'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f'^SegVisualizationHook: {message}$'):
        SegVisualizationHook(**kwargs)


def test_colour_table():
    colours, tinted = label_colors(np.array([[0, 1, 255, len(SEG_PALETTE) + 1]]))
    assert tinted.tolist() == [[False, True, False, True]]  # background, ignore: untinted
    assert colours[0].tolist() == [[0, 0, 0], list(SEG_PALETTE[0]), [0, 0, 0],
                                   list(SEG_PALETTE[0])]  # the table cycles
    grey = np.full((1, 2), 100, np.uint8)
    assert overlay_labels(grey, np.array([[0, 2]])).tolist() == [
        [[100, 100, 100], [50, 160, 50]]]  # alpha 0.5 on (0, 220, 0)


def test_render_seg_slices_checks_shapes():
    with pytest.raises(ValueError, match=r'gt shape \(2, 4, 4\) != image shape \(2, 4, 5\)'):
        render_seg_slices(np.zeros((2, 4, 5)), np.zeros((2, 4, 4)), None)
    pic = render_seg_slices(np.zeros((4, 5)), None, None, min_panel_size=1)
    assert pic.shape == (20 + 4 + 4 + 4, 4 + 3 * (5 + 4), 3)


def test_seg_runtime_replaces_the_detection_visualizer(repo_root):
    seg = Config.fromfile(osp.join(repo_root, 'configs', '_base_', 'seg_runtime.py'))
    det = Config.fromfile(osp.join(repo_root, 'configs', '_base_', 'default_runtime.py'))
    assert seg.default_hooks.visualization == dict(type='SegVisualizationHook', interval=1,
                                                   max_samples=2, num_slices=3)
    assert seg.visualizer == dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    seg_d, det_d = seg.to_dict(), det.to_dict()
    for d in (seg_d, det_d):
        d.pop('visualizer')
        d['default_hooks'].pop('visualization')
    assert seg_d == det_d  # every other runtime setting kept


def test_real_run_of_the_poc_config_writes_pngs(tmp_path, repo_root):
    """configs/poc/acs_unet_poc3d.py (seg_runtime) shrunk: 2 train / 2 test volumes, a
    widths 4-8-16 U-Net, 1 epoch, validated once, through mmengine's Runner (~7 s on CPU)."""
    from acsdet.apis import register_all_modules
    from acsdet.data_prep import generate_poc_shapes
    from acsdet.engine.runner_setup import build_runner
    register_all_modules(init_default_scope=False)
    generate_poc_shapes(str(tmp_path / 'poc'), counts={'3d': {'train': 2, 'test': 2}},
                        dims=('3d', ))
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'poc', 'acs_unet_poc3d.py'))
    root = str(tmp_path / 'poc' / 'poc_3d') + '/'
    cfg.model.network.unet.widths = (4, 8, 16)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.num_workers, loader.persistent_workers = 0, False
        loader.dataset.data_root = root
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    assert type(runner.visualizer).__name__ == 'Visualizer'
    runner.train()
    pngs = sorted((tmp_path / 'work').glob('*/vis_seg/epoch_1/*.png'))
    assert [p.name for p in pngs] == ['00000.png', '00001.png']
    pic = _read(pngs[0])
    assert pic.shape == (20 + 4 + 3 * (144 + 4), 4 + 3 * (144 + 4), 3)  # 48^3 x3, 3 rows
    gt_panels = pic[24:, 4 + 148:4 + 148 + 144]
    colours = [c for c in SEG_PALETTE[:5] if _tinted(gt_panels, c).sum() > 20]
    assert colours  # ground-truth shapes tinted in the GT column
