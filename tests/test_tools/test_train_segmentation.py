"""The POC 3D config trained by tools/train.py and evaluated by tools/test.py (CPU-sized)."""
import os.path as osp
import re
import subprocess

import pytest

from acsdet.data_prep import generate_poc_shapes
from acsdet.utils import allow_mmengine_checkpoint_types, load_local_checkpoint


def _tiny_config(tmp_path, repo_root, data_root):
    """The ACS POC config: 4 train / 2 test volumes, 32^3 random crops, a 3-stage UNet of
    widths 4-8-16, sliding-window validation (32^3 windows, overlap 0.5), 2 epochs."""
    base = osp.join(repo_root, 'configs', 'poc', 'acs_unet_poc3d.py')
    text = f'''
_base_ = {base!r}
data_root = {str(data_root) + '/'!r}
model = dict(
    network=dict(unet=dict(widths=(4, 8, 16))),
    test_cfg=dict(mode='slide', window=(32, 32, 32), overlap=0.5, blend='gaussian'))
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
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
'''
    path = tmp_path / 'tiny_acs_unet_poc3d.py'
    path.write_text(text)
    return str(path)


@pytest.mark.slow
def test_train_and_test_poc3d(tmp_path, repo_root, python_exe):
    generate_poc_shapes(str(tmp_path / 'poc'), counts={'3d': {'train': 4, 'test': 2}},
                        dims=('3d', ))
    cfg = _tiny_config(tmp_path, repo_root, tmp_path / 'poc' / 'poc_3d')
    work = tmp_path / 'work'
    proc = subprocess.run([python_exe, 'tools/train.py', cfg, '--work-dir', str(work)],
                          cwd=repo_root, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert re.search(r'loss_dice: \d\.\d+', log) and re.search(r'loss_ce: \d\.\d+', log)
    dice = re.findall(r'dice/per_case/mean: (\d\.\d+)', log)
    assert len(dice) == 1 and 0.0 <= float(dice[0]) <= 1.0
    assert 'dice/global_iou/mean' in log

    allow_mmengine_checkpoint_types()
    ckpt = str(work / 'epoch_2.pth')
    weights = load_local_checkpoint(ckpt, map_location='cpu')['state_dict']
    # ACS keeps 2D kernels (Cout, Cin, 3, 3) inside the converted U-Net
    assert weights['network.unet.encoder.1.0.weight'].shape == (8, 4, 3, 3)
    assert weights['network.unet.classifier.weight'].shape == (6, 4, 1, 1)

    proc = subprocess.run([python_exe, 'tools/test.py', cfg, ckpt, '--work-dir',
                           str(tmp_path / 'test')], cwd=repo_root, capture_output=True,
                          text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert re.findall(r'dice/per_case/mean: (\d\.\d+)', log) == dice  # same model, same data


def test_poc2d_pipeline_gives_2d_samples(tmp_path, repo_root):
    """configs/_base_/datasets/poc_shapes2d.py: (1, 48, 48) images, (48, 48) label maps."""
    from mmengine.config import Config

    from acsdet.apis import register_all_modules
    from acsdet.registry import DATASETS
    register_all_modules()
    generate_poc_shapes(str(tmp_path / 'poc'), counts={'2d': {'train': 2, 'test': 1}},
                        dims=('2d', ))
    cfg = Config.fromfile(osp.join(repo_root, 'configs', '_base_', 'datasets',
                                   'poc_shapes2d.py'))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'poc' / 'poc_2d')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2
    sample = dataset[0]
    label = sample['data_samples'].gt_sem_seg.data
    assert sample['inputs'].shape == (1, 48, 48) and label.shape == (48, 48)
    assert set(label.unique().tolist()) <= {0, 1, 2} and label.max() > 0
    assert sample['data_samples'].img_shape == (48, 48)

    from acsdet.datasets.transforms import LoadVolumeFromFile
    with pytest.raises(ValueError, match=r'00000.npz: image must be \(D, H, W\) or '
                       r'\(C, D, H, W\), got shape \(48, 48\)'):
        LoadVolumeFromFile()(dict(img_path=dataset[0]['data_samples'].img_path))
    with pytest.raises(ValueError, match='spatial_dims must be 2 or 3, got 1'):
        LoadVolumeFromFile(spatial_dims=1)


@pytest.mark.slow
def test_train_unet2d_poc2d(tmp_path, repo_root, python_exe):
    """configs/poc/unet2d_poc2d.py trains 2 iterations through tools/train.py and its
    checkpoint is the 2D checkpoint (init_cfg) of the ACS config (classifier skipped: 3 vs 6
    classes)."""
    generate_poc_shapes(str(tmp_path / 'poc'), counts={'2d': {'train': 4, 'test': 2}},
                        dims=('2d', ))
    root = str(tmp_path / 'poc' / 'poc_2d') + '/'
    cfg = tmp_path / 'tiny_unet2d_poc2d.py'
    cfg.write_text(f'''
_base_ = {osp.join(repo_root, 'configs', 'poc', 'unet2d_poc2d.py')!r}
model = dict(network=dict(widths=(4, 8, 16)))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={root!r}))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
''')
    work = tmp_path / 'work'
    proc = subprocess.run([python_exe, 'tools/train.py', str(cfg), '--work-dir', str(work)],
                          cwd=repo_root, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert len(re.findall(r'Epoch\(train\) \[1\]\[[12]/2\].*loss_dice: \d\.\d+  '
                          r'loss_ce: \d\.\d+', log)) == 2
    assert re.search(r'dice/per_case/class_2: \d\.\d+', log)
    assert not re.search(r'class_3', log)  # 2 foreground classes

    from acsdet.models.seg_networks import ConvertedUNet3D
    from acsdet.testing import with_2d_weights
    allow_mmengine_checkpoint_types()
    weights = load_local_checkpoint(str(work / 'epoch_1.pth'), map_location='cpu')['state_dict']
    assert weights['network.encoder.0.0.weight'].shape == (4, 1, 3, 3)
    model = with_2d_weights(ConvertedUNet3D, str(work / 'epoch_1.pth'),
                            dict(type='UNet2D', num_classes=6, widths=(4, 8, 16)), 'acs',
                            skip=('classifier', ))
    assert model.unet.classifier.weight.shape == (6, 4, 1, 1)
    assert model.unet.encoder[0][0].weight.equal(weights['network.encoder.0.0.weight'])
