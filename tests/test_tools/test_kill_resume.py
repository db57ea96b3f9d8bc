"""A training run killed with SIGKILL and restarted with ``--resume`` ends with the same weights
and the same metric as an uninterrupted run of the same config and seed: the demo detector
(FROC) and the POC 3D segmentation config (Dice).

The shrunk configs run mmengine's ``IterBasedTrainLoop`` with a checkpoint every 3 iterations
(2 for the segmentation): the kill lands in the middle of a pass over the data, and mmengine
resumes an iteration loop exactly (it skips the batches already trained).  ``RNGStateHook``
carries the generator states over.  See docs/robustness.md.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import time

import pytest
import torch

from acsdet.utils.safe_checkpoint import install_safe_checkpoint_loading, load_local_checkpoint

MAX_ITERS = 12  # 14 training key slices, batch 2: 7 iterations per pass over the data
CKPT_EVERY = 3
SEG_ITERS = 8  # 4 training volumes, batch 2: 2 iterations per pass


def _config(tmp_path, repo_root):
    demo = osp.join(repo_root, 'configs', 'acs_maskrcnn_deeplesion_demo.py')
    data_root = str(tmp_path / 'demo') + '/'
    text = f'''
_base_ = {demo!r}
data_root = {data_root!r}
demo_cfg = dict(num_series=20, image_size=64, seed=0)
train_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=3),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomShiftScaleRotate', prob=0.5),
    dict(type='PackMultiSliceDetInputs'),
]
test_pipeline = [
    dict(type='LoadDeepLesionSlices', num_slices=3),
    dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackMultiSliceDetInputs'),
]
train_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg,
                                     pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg,
                                   pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg,
                                    pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json')
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={MAX_ITERS},
                 val_interval={MAX_ITERS})
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=6)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval={CKPT_EVERY}, max_keep_ckpts=-1))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='RNGStateHook')]
randomness = dict(seed=0, deterministic=True)
'''
    path = tmp_path / 'demo_resume.py'
    path.write_text(text)
    return str(path)


def _seg_config(tmp_path, repo_root):
    """The ACS POC segmentation config, tiny: 4 training volumes, 32^3 random crops and
    flips, a 3-stage UNet of widths 4-8-16, Dice validation at the end."""
    from acsdet.data_prep import generate_poc_shapes
    generate_poc_shapes(str(tmp_path / 'poc'), counts={'3d': {'train': 4, 'test': 2}},
                        dims=('3d', ))
    base = osp.join(repo_root, 'configs', 'poc', 'acs_unet_poc3d.py')
    data_root = str(tmp_path / 'poc' / 'poc_3d') + '/'
    text = f'''
_base_ = {base!r}
data_root = {data_root!r}
model = dict(network=dict(unet=dict(widths=(4, 8, 16))))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=[
        dict(type='LoadVolumeFromFile'),
        dict(type='RandomCropVolume', crop_size=32, fg_prob=0.5),
        dict(type='RandomFlipVolume', prob=0.5),
        dict(type='PackVolumeInputs')]))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={SEG_ITERS},
                 val_interval={SEG_ITERS})
param_scheduler = []
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval=2, max_keep_ckpts=-1))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='RNGStateHook')]
randomness = dict(seed=0, deterministic=True)
'''
    path = tmp_path / 'poc_resume.py'
    path.write_text(text)
    return str(path)


def _train(python_exe, repo_root, cfg, work, *extra):
    proc = subprocess.run([python_exe, 'tools/train.py', cfg, '--work-dir', str(work), *extra],
                          cwd=repo_root, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def _weights(path):
    install_safe_checkpoint_loading()
    return load_local_checkpoint(str(path), map_location='cpu')['state_dict']


def _scalars(work):
    rows = []
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def _losses(work):
    """{iteration: loss} of every logged iteration (the resumed run logs only its own)."""
    return {r['iter']: r['loss'] for r in _scalars(work) if 'loss' in r}


def _metric(work, key):
    return [r[key] for r in _scalars(work) if key in r]


CASES = {
    # name: (config builder, iterations, checkpoint interval, metric)
    'detector_demo': (_config, MAX_ITERS, CKPT_EVERY, 'froc/mean'),
    'segmentation_poc3d': (_seg_config, SEG_ITERS, 2, 'dice/per_case/mean'),
}


@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(CASES))
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, python_exe, repo_root, case):
    build, max_iters, ckpt_every, metric = CASES[case]
    cfg = build(tmp_path, repo_root)

    # 1) uninterrupted reference run (the demo detector writes its data on first use)
    ref = tmp_path / 'ref'
    _train(python_exe, repo_root, cfg, ref)

    # 2) the same run, killed with SIGKILL as soon as its first checkpoint is on disk
    work = tmp_path / 'killed'
    proc = subprocess.Popen([python_exe, 'tools/train.py', cfg, '--work-dir', str(work)],
                            cwd=repo_root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    marker = work / 'last_checkpoint'  # written by mmengine after the checkpoint file
    deadline = time.time() + 600
    while not marker.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, 'the run ended before it could be killed'
    done = sorted(work.glob('iter_*.pth'))
    assert done and not (work / f'iter_{max_iters}.pth').exists()

    # 3) restart with --resume (latest checkpoint of the work dir)
    out = _train(python_exe, repo_root, cfg, work, '--resume')
    assert 'resumed epoch: 0, iter: ' in out and 'Advance dataloader' in out

    final_ref = _weights(ref / f'iter_{max_iters}.pth')
    final = _weights(work / f'iter_{max_iters}.pth')
    assert final.keys() == final_ref.keys()
    differ = [k for k in final_ref if not torch.equal(final[k], final_ref[k])]
    assert not differ, f'{len(differ)} tensors differ, e.g. {differ[:3]}'
    assert _metric(ref, metric) and _metric(work, metric)[-1] == _metric(ref, metric)[-1]
    # the iterations trained after the restart logged the same losses as the reference run
    ref_losses, losses = _losses(ref), _losses(work)
    assert sorted(ref_losses) == list(range(1, max_iters + 1))
    resumed = [i for i in losses if i > len(done) * ckpt_every]
    assert resumed and all(losses[i] == ref_losses[i] for i in resumed)
