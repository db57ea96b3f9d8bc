"""tools/test.py --show-dir on a tiny demo set with a randomly initialised demo checkpoint
(score threshold 0, so there are predictions to draw): one PNG per test key slice, named after
it, original slice size (GT | prediction panels), the slice windowed (not uniform)."""
import json
import os.path as osp
import subprocess

import cv2
import numpy as np
import pytest
import torch


def _config(repo_root, tmp_path):
    demo = osp.join(repo_root, 'configs', 'acs_maskrcnn_deeplesion_demo.py')
    data_root = str(tmp_path / 'demo') + '/'
    text = f'''
_base_ = {demo!r}
data_root = {data_root!r}
demo_cfg = dict(num_series=12, image_size=96, seed=0)
image_size = 64
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=3),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackMultiSliceDetInputs'),
]
test_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg,
                                    pipeline=test_pipeline))
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json',
                      distractor_file=data_root + 'distractors.json')
model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=3)))
'''
    path = tmp_path / 'demo_tiny.py'
    path.write_text(text)
    return str(path), data_root


@pytest.mark.slow
def test_show_dir_writes_one_windowed_png_per_key_slice(repo_root, tmp_path, python_exe):
    from acsdet.apis import load_detector
    cfg, data_root = _config(repo_root, tmp_path)
    torch.manual_seed(0)
    model, _ = load_detector(cfg, None)
    ckpt = str(tmp_path / 'random_init.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    work = tmp_path / 'work'
    proc = subprocess.run(
        [python_exe, 'tools/test.py', cfg, ckpt, '--work-dir', str(work), '--show-dir', 'vis',
         '--show-score-thr', '0', '--show-window', 'soft_tissue'],
        cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    with open(osp.join(data_root, 'annotations', 'deeplesion_test.json')) as f:
        images = json.load(f)['images']
    assert images
    vis_dirs = list(work.glob('*/vis'))
    assert len(vis_dirs) == 1
    written = sorted(p.name for p in vis_dirs[0].iterdir())
    assert written == sorted(f'{im["series"]}_{im["key_slice"]:03d}.png' for im in images)
    for im in images:
        img = cv2.imread(str(vis_dirs[0] / f'{im["series"]}_{im["key_slice"]:03d}.png'))
        assert img.shape == (im['height'], 2 * im['width'], 3)  # GT | predictions, 96 px
        left = img[:, :im['width']]
        assert left.std() > 20, 'uniform image'
        # windowed HU, not the 16-bit PNG squeezed to 8 bits: air is black, soft tissue grey
        assert (left.max(axis=2) < 10).mean() > 0.1 and ((left > 90) & (left < 170)).any()


@pytest.mark.slow
def test_show_dir_keeps_8bit_rgb_images_of_the_smoke_config(repo_root, tmp_path, python_exe):
    """The smoke config (plain RGB COCO, annotations loaded after Resize): pictures drawn as
    they are, ground truth where the json puts it."""
    from mmengine.config import Config

    from acsdet.apis import register_all_modules
    from acsdet.registry import MODELS
    from acsdet.testing import make_synthetic_coco
    register_all_modules()
    data = tmp_path / 'data'
    make_synthetic_coco(str(data), num_train=1, num_val=2, size=96)
    config = osp.join(repo_root, 'configs', 'smoke', 'maskrcnn_r18_fpn_1xb2_3e_synthetic.py')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = str(tmp_path / 'random_init.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    work = tmp_path / 'work'
    proc = subprocess.run(
        [python_exe, 'tools/test.py', config, ckpt, '--work-dir', str(work), '--show-dir', 'vis',
         '--cfg-options', f'test_dataloader.dataset.data_root={data}/',
         f'test_evaluator.ann_file={data}/annotations/val.json'],
        cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    with open(data / 'annotations' / 'val.json') as f:
        coco = json.load(f)
    vis = next(work.glob('*/vis'))
    assert sorted(p.name for p in vis.iterdir()) == sorted(
        osp.basename(im['file_name']) for im in coco['images'])
    for im in coco['images']:
        name = osp.basename(im['file_name'])
        drawn = cv2.imread(str(vis / name))
        assert drawn.shape == (96, 192, 3)
        src = cv2.imread(str(data / 'val' / name))
        left = drawn[:, :96]
        outside = np.ones((96, 96), bool)  # away from every GT box (+ 3 px for lines/labels)
        for a in coco['annotations']:
            if a['image_id'] == im['id']:
                x, y, w, h = (int(v) for v in a['bbox'])
                outside[max(y - 12, 0):y + h + 4, max(x - 4, 0):x + w + 40] = False
                # the GT box edge sits where the json puts it (green tint)
                edge = left[y + 2:y + h - 2, max(x - 1, 0):x + 2].reshape(-1, 3).astype(int)
                assert (edge[:, 1] - edge[:, 2] > 40).mean() > 0.3
        np.testing.assert_array_equal(left[outside], src[outside])


@pytest.mark.parametrize('flag, value', [('--show-score-thr', '0.5'),
                                         ('--show-window', 'lung')])
def test_detection_only_show_flags_on_a_segmentation_config(repo_root, tmp_path, python_exe,
                                                            flag, value):
    """A segmentation config draws with SegVisualizationHook: the detection picture options
    are a one-line error before anything is built (they used to reach the hook's build)."""
    ckpt = tmp_path / 'any.pth'
    ckpt.write_bytes(b'')
    proc = subprocess.run(
        [python_exe, 'tools/test.py', 'configs/poc/acs_unet_poc3d.py', str(ckpt),
         '--work-dir', str(tmp_path / 'w'), '--show-dir', 'shown', flag, value],
        cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        f'tools/test.py: error: {flag} needs default_hooks.visualization of type '
        'CTDetVisualizationHook (a detector config), got SegVisualizationHook')
    assert not (tmp_path / 'w').exists()
