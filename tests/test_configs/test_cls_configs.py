"""configs/lidc/cls_*: the paper's classification settings (Table V, A1, A4, A5), siblings
differing by one line, and every config training one iteration and validating (AUC, ROC
picture) on generated nodules, the "p." ones through the real torchvision weight path."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from torchvision.models import densenet121, resnet18, vgg16_bn

from acsdet.apis import register_all_modules
from acsdet.data_prep import generate_synthetic_nodules
from acsdet.engine.runner_setup import build_runner, load_config

CONFIGS = sorted(osp.basename(p)[:-3] for p in glob.glob(
    osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs', 'lidc',
             'cls_*.py')))
TABLE_ROWS = [f'cls_{arch}_{conv}{init}_lidc' for arch in ('r18', 'vgg16', 'densenet121')
              for conv in ('2.5d', '3d', 'acs') for init in ('', '_p')] + \
    [f'cls_r18_{conv}{init}_lidc' for conv in ('mean_acs', 'soft_acs') for init in ('', '_p')]


def test_every_table_row_has_its_config():
    assert sorted(TABLE_ROWS) == sorted(c for c in CONFIGS if c.endswith('_lidc'))
    assert 'cls_r18_acs_synthetic_nodules' in CONFIGS


def test_paper_settings(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'lidc', 'cls_r18_acs_lidc.py'))
    assert cfg.model.type == 'VolumeClassifier'
    assert cfg.model.network == dict(type='ClsResNet3D', depth=18, in_channels=1,
                                     conv_type='acs',
                                     init_cfg=dict(type='Pretrained', checkpoint=None))
    assert cfg.model.head.type == 'PooledLinearClsHead' and cfg.model.head.num_classes == 2
    assert cfg.train_dataloader.batch_size == 24                  # "a batch of 24"
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-3)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.param_scheduler[0].milestones == [50, 75] and cfg.param_scheduler[0].gamma == 0.1
    crop = [t for t in cfg.train_pipeline if t.type == 'CenterCropVolume'][0]
    assert tuple(crop.crop_size) == (48, 48, 48) and crop.max_shift == 5
    assert cfg.val_evaluator.type == 'BinaryClsMetric'
    assert cfg.default_hooks.checkpoint.save_best == 'cls/auc'
    assert [h.type for h in cfg.custom_hooks] == ['ROCCurveHook']


def test_siblings_differ_by_one_line(repo_root):
    folder = osp.join(repo_root, 'configs', 'lidc')
    for name in CONFIGS:
        lines = [ln for ln in open(osp.join(folder, name + '.py')).read().splitlines()
                 if ln.strip() and not ln.startswith('#')]
        if name in ('cls_r18_acs_lidc', 'cls_r18_acs_synthetic_nodules'):
            continue
        if name in ('cls_vgg16_acs_lidc', 'cls_densenet121_acs_lidc'):  # the architecture
            assert lines[1].startswith("model = dict(network=dict(_delete_=True, type='Cls")
            continue
        assert len(lines) == 2 and lines[0].startswith('_base_ = '), name
        assert lines[1].startswith('model = dict(network=dict('), name
        cfg = Config.fromfile(osp.join(folder, name + '.py'))
        if name.endswith('_p_lidc'):
            assert cfg.model.network.init_cfg.checkpoint.startswith('checkpoints/'), name
        arch = name.split('_')[1]
        conv = name[len(f'cls_{arch}_'):-len('_lidc')].replace('_p', '')
        assert cfg.model.network.conv_type == conv, name


@pytest.fixture(scope='module')
def nodules(tmp_path_factory):
    root = tmp_path_factory.mktemp('nodules')
    generate_synthetic_nodules(str(root), num=16, size=16, spacing=2.0, seed=0)
    content = json.loads((root / 'lidc_nodules.json').read_text())
    assert {e['malignancy_label'] for e in content['validation']} >= {0, 1}  # an AUC exists
    return str(root) + '/'


@pytest.fixture(scope='module')
def torchvision_files(tmp_path_factory):
    """Random torchvision state dicts in the ImageNet files' layout (VGG / DenseNet without
    their classifiers, which the networks do not use, to keep the files small)."""
    root = tmp_path_factory.mktemp('tv')
    torch.manual_seed(0)
    files = {}
    for arch, build in (('r18', resnet18), ('vgg16', vgg16_bn), ('densenet121', densenet121)):
        state = build(weights=None).state_dict()
        if arch != 'r18':
            state = {k: v for k, v in state.items() if not k.startswith('classifier')}
        files[arch] = str(root / f'{arch}.pth')
        torch.save(state, files[arch])
    return files


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS)
def test_config_trains_one_iteration_and_validates(name, nodules, torchvision_files, repo_root,
                                                   tmp_path):
    register_all_modules()
    torch.manual_seed(0)
    np.random.seed(0)
    cfg = load_config(osp.join(repo_root, 'configs', 'lidc', name + '.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = nodules
        for t in loader.dataset.pipeline:
            if t.type == 'CenterCropVolume':
                t.crop_size = (16, 16, 16)
                t.max_shift = min(t.get('max_shift', 0), 2)
    if cfg.model.network.init_cfg.checkpoint:  # "p.": the torchvision file, loaded for real
        cfg.model.network.init_cfg.checkpoint = torchvision_files[name.split('_')[1]]
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.custom_hooks = [dict(type='ROCCurveHook', by_epoch=False)]
    cfg.log_processor = dict(type='LogProcessor', window_size=1, by_epoch=False)
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert np.isfinite(scalars['train/loss'].current())
    assert 0.0 <= scalars['val/cls/auc'].current() <= 1.0
    assert (tmp_path / 'work' / 'roc' / 'cls_iter_1.png').is_file()
