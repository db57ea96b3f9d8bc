"""2-process gloo DDP training through ``tools/dist_train.sh`` equals 1-process training with
the same global batch; validation FROC over 2 ranks (``tools/dist_test.sh``) equals
``tools/test.py``.

The model is the smoke Mask R-CNN (ResNet-18 + FPN, random init; mask head off, see below) with
:class:`acsdet.models.utils.SyncBNDistributedDataParallel`, so its batch norms see the same
2-image batch in both runs.  What makes the two runs the same computation:

* data: 2 training images, one per rank (``DefaultSampler(shuffle=False)`` gives rank r the
  image r; one process with batch 2 gets both), no random flip;
* the second image is the first with its contrast changed (``0.5 * img + 60``): same boxes,
  different pixels, so BN statistics differ between ranks (SyncBN matters) while the anchor
  and proposal *counts* per image are equal -- mmdet normalises each loss by the sample count
  of the whole (per-rank) batch, which only equals the mean of per-image losses when the
  counts match;
* samplers exhaustive (``sampler.num=100000`` takes every positive and negative, no random
  pick) and 32 RPN proposals per image;
* the mask head is off: its loss is a mean over the positive RoIs, whose count depends on the
  proposals of each image.

Asserted: per iteration, the mean of the two ranks' logged losses equals the 1-process loss
within 2e-4 (the logs round to 4 decimals: each logged value is off by <= 5e-5), and after 2
iterations every weight and buffer of the two checkpoints agrees within rtol 1e-4 / atol 1e-5
(float32 sums in a different order; measured max difference 2.4e-7).
"""
import json
import os
import os.path as osp
import re
import socket
import subprocess

import cv2
import pytest
import torch

from acsdet.testing import make_synthetic_coco
from acsdet.utils.safe_checkpoint import allow_mmengine_checkpoint_types, load_local_checkpoint

SMOKE_CFG = 'configs/smoke/maskrcnn_r18_fpn_1xb2_3e_synthetic.py'
LOSS_KEYS = ('loss', 'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _make_data(root: str) -> None:
    """1 generated training image + its contrast-changed copy; 3 validation images (odd, so
    the distributed sampler pads rank 1 with a repeated image)."""
    make_synthetic_coco(root, num_train=1, num_val=3, size=128, seed=0)
    ann_file = osp.join(root, 'annotations', 'train.json')
    with open(ann_file) as f:
        coco = json.load(f)
    img0 = coco['images'][0]
    img = cv2.imread(osp.join(root, img0['file_name']))
    cv2.imwrite(osp.join(root, 'train', 'contrast.png'), (img * 0.5 + 60).astype('uint8'))
    img1 = dict(img0, id=img0['id'] + 1000, file_name='train/contrast.png')
    coco['images'].append(img1)
    coco['annotations'] += [dict(a, id=a['id'] + 1000, image_id=img1['id'])
                            for a in coco['annotations']]
    with open(ann_file, 'w') as f:
        json.dump(coco, f)


def _write_config(path: str, repo_root: str, data_root: str) -> None:
    text = f'''
_base_ = [{osp.join(repo_root, SMOKE_CFG)!r}]
data_root = {data_root + '/'!r}
model = dict(
    roi_head=dict(mask_head=None, mask_roi_extractor=None),
    train_cfg=dict(rpn=dict(sampler=dict(num=100000)), rcnn=dict(sampler=dict(num=100000)),
                   rpn_proposal=dict(max_per_img=32)))
model_wrapper_cfg = dict(type='SyncBNDistributedDataParallel')
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(data_root=data_root, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='PackDetInputs')]))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# a 2-iteration model: a loose hit rule (box overlap >= 10% of the detection) so the FROC is
# not all zeros and the comparison means something
val_evaluator = dict(_delete_=True, type='FROCMetric', hit_rule='iobb', iou_thr=0.1,
                     ann_file=data_root + 'annotations/val.json', breakdowns=[])
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=2), visualization=dict(draw=False))
randomness = dict(seed=0, diff_rank_seed=False)
'''
    with open(path, 'w') as f:
        f.write(text)


def _run(cmd, env=None, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{proc.stdout[-3000:]}\n' \
                                 f'{proc.stderr[-5000:]}'
    return proc.stdout + proc.stderr


def _train_losses(log_file: str):
    """[{key: value}] per training iteration, from an mmengine log file."""
    losses = []
    with open(log_file) as f:
        for line in f:
            if 'Epoch(train)' in line:
                losses.append({k: float(re.search(rf'\s{k}: ([0-9.]+)', line).group(1))
                               for k in LOSS_KEYS})
    return losses


def _froc(text: str):
    return {k: float(v) for k, v in re.findall(r'(froc/[\w@.]+): ([0-9.]+)', text)}


def _dist_env(python_exe: str) -> dict:
    env = dict(os.environ, PYTHON=python_exe, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    env.pop('RANK', None), env.pop('WORLD_SIZE', None), env.pop('LOCAL_RANK', None)
    return env


@pytest.mark.slow
def test_two_process_gloo_training_matches_one_process(tmp_path, repo_root, python_exe):
    data_root = str(tmp_path / 'data')
    _make_data(data_root)
    cfg = str(tmp_path / 'ddp_equal.py')
    _write_config(cfg, repo_root, data_root)

    ddp_dir, one_dir = tmp_path / 'ddp', tmp_path / 'one'
    # log_level=DEBUG: mmengine then writes one log per rank (each rank logs its own loss)
    _run(['bash', osp.join(repo_root, 'tools', 'dist_train.sh'), cfg, '2', '--work-dir',
          str(ddp_dir), '--cfg-options', 'train_dataloader.batch_size=1', 'log_level=DEBUG'],
         env=_dist_env(python_exe), cwd=repo_root)
    _run([python_exe, osp.join(repo_root, 'tools', 'train.py'), cfg, '--work-dir',
          str(one_dir), '--cfg-options', 'train_dataloader.batch_size=2'],
         env=dict(os.environ, OMP_NUM_THREADS='1'), cwd=repo_root)

    rank_logs = sorted(str(p) for p in ddp_dir.glob('*/*_rank[01].log'))
    assert len(rank_logs) == 2, rank_logs
    per_rank = [_train_losses(p) for p in rank_logs]
    one = _train_losses(next(str(p) for p in one_dir.glob('*/*.log')))
    assert len(one) == len(per_rank[0]) == len(per_rank[1]) == 2
    for it in range(2):
        # the ranks saw different images: different local losses
        assert per_rank[0][it]['loss'] != per_rank[1][it]['loss']
        for key in LOSS_KEYS:
            mean = (per_rank[0][it][key] + per_rank[1][it][key]) / 2
            assert abs(mean - one[it][key]) <= 2e-4, (it, key, mean, one[it][key])

    allow_mmengine_checkpoint_types()  # the message hub / numpy scalars of Runner checkpoints
    ddp_sd = load_local_checkpoint(str(ddp_dir / 'epoch_2.pth'), 'cpu')['state_dict']
    one_sd = load_local_checkpoint(str(one_dir / 'epoch_2.pth'), 'cpu')['state_dict']
    assert ddp_sd.keys() == one_sd.keys()
    assert any('running_var' in k for k in ddp_sd)
    for key in one_sd:
        torch.testing.assert_close(ddp_sd[key], one_sd[key], rtol=1e-4, atol=1e-5,
                                   msg=lambda m, key=key: f'{key}: {m}')

    # validation FROC of the DDP checkpoint: 2 ranks (3 images, one padded) == 1 process
    ckpt = str(ddp_dir / 'epoch_2.pth')
    froc2 = _froc(_run(['bash', osp.join(repo_root, 'tools', 'dist_test.sh'), cfg, ckpt, '2',
                        '--work-dir', str(tmp_path / 'test2')],
                       env=_dist_env(python_exe), cwd=repo_root))
    froc1 = _froc(_run([python_exe, osp.join(repo_root, 'tools', 'test.py'), cfg, ckpt,
                        '--work-dir', str(tmp_path / 'test1')], cwd=repo_root))
    assert froc1['froc/mean'] > 0 and froc1['froc/sens@16'] > 0
    assert froc1 == froc2
