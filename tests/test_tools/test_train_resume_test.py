"""End to end through the tools: train a small Mask R-CNN, resume from its checkpoint, test it.

This is the foundation's smoke run: mmcv ops, mmdet heads, mmengine's Runner, acsdet's
weights-only checkpoint loading and the tool flags, all on the CPU.
"""
import json
import os.path as osp
import pickle
import subprocess

import pytest

from acsdet.testing import make_synthetic_coco

CONFIG = 'configs/smoke/maskrcnn_r18_fpn_1xb2_3e_synthetic.py'


def _run(python_exe, repo_root, *args, check=True):
    proc = subprocess.run([python_exe, *args], cwd=repo_root, capture_output=True, text=True,
                          timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


def _scalars(work_dir):
    """All json log lines the Runner wrote (one per logged iteration / evaluation)."""
    import glob
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    rows = []
    for f in files:
        with open(f) as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


@pytest.mark.slow
def test_train_resume_then_test(tmp_path, python_exe, repo_root):
    data = tmp_path / 'data'
    make_synthetic_coco(str(data), num_train=6, num_val=2, size=96)
    work = tmp_path / 'work'
    data_opts = [f'train_dataloader.dataset.data_root={data}/',
                 f'val_dataloader.dataset.data_root={data}/',
                 f'test_dataloader.dataset.data_root={data}/',
                 f'val_evaluator.ann_file={data}/annotations/val.json',
                 f'test_evaluator.ann_file={data}/annotations/val.json']

    # 1) two epochs (3 iterations each), then stop
    _run(python_exe, repo_root, 'tools/train.py', CONFIG, '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_epochs=2', *data_opts)
    ckpt2 = work / 'epoch_2.pth'
    assert ckpt2.is_file()
    first = [r for r in _scalars(str(work)) if 'loss' in r]
    assert first and first[-1]['iter'] == 6

    # 2) resume from the explicit checkpoint and run the third epoch (+ validation)
    proc = _run(python_exe, repo_root, 'tools/train.py', CONFIG, '--work-dir', str(work),
                '--resume', str(ckpt2), *['--cfg-options'] + data_opts)
    assert 'resumed epoch: 2, iter: 6' in proc.stdout + proc.stderr
    assert (work / 'epoch_3.pth').is_file()
    rows = [r for r in _scalars(str(work)) if 'loss' in r]
    assert rows[-1]['iter'] == 9 and rows[-1]['epoch'] == 3
    assert any('coco/bbox_mAP' in r for r in _scalars(str(work)))

    # 3) auto-resume (no path) finds epoch_3 and has nothing left to do
    proc = _run(python_exe, repo_root, 'tools/train.py', CONFIG, '--work-dir', str(work),
                '--resume', *['--cfg-options'] + data_opts)
    assert 'resumed epoch: 3, iter: 9' in proc.stdout + proc.stderr

    # 4) test the checkpoint and dump the predictions
    out = tmp_path / 'preds.pkl'
    proc = _run(python_exe, repo_root, 'tools/test.py', CONFIG, str(work / 'epoch_3.pth'),
                '--work-dir', str(tmp_path / 'test'), '--out', str(out),
                *['--cfg-options'] + data_opts)
    assert 'coco/segm_mAP' in proc.stdout + proc.stderr
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 2 and {'img_id', 'pred_instances'} <= set(preds[0])


def test_train_reports_bad_flags_in_one_line(tmp_path, python_exe, repo_root):
    proc = _run(python_exe, repo_root, 'tools/train.py', 'configs/does_not_exist.py',
                check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == \
        'tools/train.py: error: config file not found: configs/does_not_exist.py'

    proc = _run(python_exe, repo_root, 'tools/train.py', CONFIG, '--resume',
                str(tmp_path / 'missing.pth'), check=False)
    assert proc.returncode != 0
    assert 'tools/train.py: error: --resume: checkpoint not found:' in proc.stderr


@pytest.mark.slow
def test_amp_trains_on_this_machine(tmp_path, python_exe, repo_root):
    """--amp: AmpOptimWrapper (float16) on a GPU, bfloat16 autocast on a CPU-only machine."""
    import torch
    data = tmp_path / 'data'
    make_synthetic_coco(str(data), num_train=2, num_val=1, size=64)
    proc = _run(python_exe, repo_root, 'tools/train.py', CONFIG, '--amp',
                '--work-dir', str(tmp_path / 'w'), '--cfg-options', 'train_cfg.max_epochs=1',
                f'train_dataloader.dataset.data_root={data}/',
                f'val_dataloader.dataset.data_root={data}/',
                f'val_evaluator.ann_file={data}/annotations/val.json')
    log = proc.stdout + proc.stderr
    if torch.cuda.is_available():
        assert "type='AmpOptimWrapper'" in log
    else:
        assert '--amp without CUDA: bfloat16 autocast on the CPU' in log
        assert "type='CPUAmpOptimWrapper'" in log
    assert (tmp_path / 'w' / 'epoch_1.pth').is_file()


def test_test_tool_refuses_unsafe_checkpoint(tmp_path, python_exe, repo_root):
    import os

    import torch
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': {'hook': os.system}}, evil)
    data = tmp_path / 'data'
    make_synthetic_coco(str(data), num_train=1, num_val=1, size=64)
    proc = _run(python_exe, repo_root, 'tools/test.py', CONFIG, str(evil),
                '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                f'test_dataloader.dataset.data_root={data}/',
                f'test_evaluator.ann_file={data}/annotations/val.json', check=False)
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError: refusing to load checkpoint' in proc.stderr
    assert 'posix.system' in proc.stderr
