"""The README's main job, shrunk: the demo config generates DeepLesion-format data on first use,
trains the ACS Mask R-CNN, validates with FROC and tools/test.py scores it (with and without
--tta).  Learning is asserted, not only running: the loss falls and the detector fits its
training key slices to a FROC floor that the shrunk run reached on every seed measured."""
import json
import os.path as osp
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EPOCHS = 40  # 6 training key slices, batch 2: 120 iterations, about a minute on one core
# FROC mean on the 6 training key slices after the shrunk run.  Measured on 2026-12-01 with
# this file's train_and_score (1 thread): seeds 0 / 1 / 2 / 3 gave FROC_SEEDS, and the
# loss of the last 15 iterations was 0.67-0.74 x the first 15's.
# The floor sits well under the lowest, for other thread counts' numerics.
FROC_SEEDS = (0.722, 0.556, 0.389, 0.583)
FROC_FLOOR = 0.2


def _config(tmp_path, seed=0):
    demo = osp.join(REPO, 'configs', 'acs_maskrcnn_deeplesion_demo.py')
    data_root = str(tmp_path / 'demo') + '/'
    text = f'''
_base_ = {demo!r}
data_root = {data_root!r}
demo_cfg = dict(num_series=10, image_size=128, seed=0)
train_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
val_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
test_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
val_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json',
                      distractor_file=data_root + 'distractors.json')
train_cfg = dict(max_epochs={EPOCHS}, val_interval={EPOCHS})
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20)]
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed={seed})
'''
    path = tmp_path / 'demo_small.py'
    path.write_text(text)
    return str(path), data_root


def _run(python_exe, *args):
    proc = subprocess.run([python_exe, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def train_and_score(python_exe, tmp_path, seed=0):
    """Train the shrunk demo; returns (losses, work dir, FROC mean on the training split)."""
    cfg, data_root = _config(tmp_path, seed)
    work = tmp_path / 'work'
    _run(python_exe, 'tools/train.py', cfg, '--work-dir', str(work))
    rows = []
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    losses = [r['loss'] for r in rows if 'loss' in r]
    _run(python_exe, 'tools/test.py', cfg, str(work / f'epoch_{EPOCHS}.pth'),
         '--work-dir', str(tmp_path / 'fit'), '--cfg-options',
         'test_dataloader.dataset.ann_file=annotations/deeplesion_train.json',
         f'test_evaluator.ann_file={data_root}annotations/deeplesion_train.json')
    fit = sorted((tmp_path / 'fit').glob('2*/2*.json'))[-1]
    return losses, work, json.loads(fit.read_text())['froc/mean']


@pytest.mark.slow
def test_demo_learns_validates_and_tests(tmp_path, python_exe):
    losses, work, fit = train_and_score(python_exe, tmp_path)
    assert (tmp_path / 'demo' / 'DL_info.csv').is_file()  # generated on first use
    assert (tmp_path / 'demo' / 'distractors.json').is_file()
    assert len(losses) == EPOCHS * 3  # 6 training key slices (10 series, 6:1:3), batch 2
    first, last = sum(losses[:15]) / 15, sum(losses[-15:]) / 15
    assert last < 0.8 * first, (first, last)
    assert fit >= FROC_FLOOR, (fit, FROC_SEEDS)
    assert list(work.glob('best_froc_mean_epoch_*.pth'))
    assert (work / 'froc' / f'froc_epoch_{EPOCHS}.png').is_file()

    cfg = str(tmp_path / 'demo_small.py')
    ckpt = str(work / f'epoch_{EPOCHS}.pth')
    out = _run(python_exe, 'tools/test.py', cfg, ckpt, '--work-dir', str(tmp_path / 'test'))
    assert 'froc/sens@4' in out and 'froc/distractor/fp_per_image' in out
    tta = _run(python_exe, 'tools/test.py', cfg, ckpt, '--tta', '--work-dir',
               str(tmp_path / 'tta'))
    assert 'froc/mean' in tta and 'LesionDetTTAModel' in tta
