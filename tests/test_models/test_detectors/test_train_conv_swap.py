"""The one-line backbone swap through tools/train.py --cfg-options, on generated DeepLesion data."""
import os.path as osp
import subprocess

import pytest

from acsdet.data_prep import prepare_demo_deeplesion
from acsdet.utils import allow_mmengine_checkpoint_types, load_local_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _tiny_config(tmp_path, data_root):
    """The 3-slice ACS config, CPU-sized: 64 px images, 1 epoch, no validation, no workers."""
    base = osp.join(REPO, 'configs', 'acs_maskrcnn_deeplesion_3slices.py')
    text = f'''
_base_ = {base!r}
data_root = {str(data_root) + '/'!r}
model = dict(backbone=dict(init_cfg=None),
             train_cfg=dict(rpn=dict(sampler=dict(num=32)), rcnn=dict(sampler=dict(num=32))))
train_pipeline = [dict(t, scale=(64, 64)) if t.type == 'Resize' else t
                  for t in _base_.train_dataloader.dataset.pipeline]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
train_cfg = dict(max_epochs=1, val_interval=100)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(save_best=None),
                     visualization=dict(type='DetVisualizationHook', draw=False))
'''
    path = tmp_path / 'tiny_acs_deeplesion.py'
    path.write_text(text)
    return str(path)


def _train(python_exe, *args):
    return subprocess.run([python_exe, 'tools/train.py', *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_cfg_options_swap_conv_type(tmp_path, python_exe):
    data = prepare_demo_deeplesion(str(tmp_path / 'data'), num_series=8, image_size=128)
    cfg = _tiny_config(tmp_path, data['root'])
    work = tmp_path / 'work'
    proc = _train(python_exe, cfg, '--work-dir', str(work),
                  '--cfg-options', 'model.backbone.conv_type=3d')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    allow_mmengine_checkpoint_types()
    state = load_local_checkpoint(str(work / 'epoch_1.pth'), map_location='cpu')
    weights = state['state_dict']
    # the swap took effect: an I3D 7x7x7 stem and 3x3x3 dense-layer kernels, 3-slice squeeze
    assert weights['backbone.conv0.weight'].shape == (64, 1, 7, 7, 7)
    assert weights['backbone.denseblock1.denselayer1.conv2.weight'].shape == (32, 128, 3, 3, 3)
    assert weights['neck.squeeze_convs.0.weight'].shape == (256, 256, 3, 1, 1)
    assert 'loss_mask' in proc.stdout + proc.stderr

    proc = _train(python_exe, cfg, '--work-dir', str(tmp_path / 'bad'),
                  '--cfg-options', 'model.backbone.conv_type=4d')
    assert proc.returncode != 0
    assert "conv_type must be one of ['acs', '2.5d', '3d', 'mean_acs', 'soft_acs'], got '4d'" \
        in proc.stderr
