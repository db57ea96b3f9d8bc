"""The README's main job, shrunk: the demo config generates DeepLesion-format data on first use,
trains the ACS Mask R-CNN (loss falls), validates with FROC, and tools/test.py scores it."""
import json
import os.path as osp
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _config(tmp_path):
    demo = osp.join(REPO, 'configs', 'acs_maskrcnn_deeplesion_demo.py')
    data_root = str(tmp_path / 'demo') + '/'
    text = f'''
_base_ = {demo!r}
data_root = {data_root!r}
demo_cfg = dict(num_series=20, image_size=128, seed=0)
train_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
val_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
test_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
val_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json')
train_cfg = dict(max_epochs=6, val_interval=6)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)]
default_hooks = dict(logger=dict(interval=1))
'''
    path = tmp_path / 'demo_small.py'
    path.write_text(text)
    return str(path)


def _run(python_exe, *args):
    proc = subprocess.run([python_exe, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_demo_trains_validates_and_tests(tmp_path, python_exe):
    cfg = _config(tmp_path)
    work = tmp_path / 'work'
    _run(python_exe, 'tools/train.py', cfg, '--work-dir', str(work))
    assert (tmp_path / 'demo' / 'DL_info.csv').is_file()  # generated on first use

    rows = []
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert len(losses) == 6 * 7  # 14 training key slices, batch 2, 6 epochs
    first, last = sum(losses[:7]) / 7, sum(losses[-7:]) / 7
    assert last < 0.8 * first, (first, last)
    froc = [r for r in rows if 'froc/mean' in r]
    assert froc and all(0.0 <= r['froc/mean'] <= 1.0 for r in froc)
    assert list(work.glob('best_froc_mean_epoch_*.pth'))
    assert (work / 'froc' / 'froc_epoch_6.png').is_file()

    out = _run(python_exe, 'tools/test.py', cfg, str(work / 'epoch_6.pth'),
               '--work-dir', str(tmp_path / 'test'))
    assert 'froc/sens@4' in out and 'froc/mean' in out
