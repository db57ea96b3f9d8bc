"""Every config parses and its model builds; the slice variants and the one-line conv swap."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from acsdet.apis import register_all_modules
from acsdet.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
# full configs (configs/*.py, configs/<group>/*.py) and the model bases
CONFIGS = sorted([p for p in glob.glob(osp.join(REPO, 'configs', '*.py')) +
                  glob.glob(osp.join(REPO, 'configs', '*', '*.py'))
                  if '_base_' not in p] +
                 glob.glob(osp.join(REPO, 'configs', '_base_', 'models', '*.py')))


def _rel(path):
    return osp.relpath(path, REPO)


@pytest.fixture(scope='module', autouse=True)
def _register():
    register_all_modules(init_default_scope=True)


def test_main_entry_exists():
    assert osp.join(REPO, 'configs', 'acs_maskrcnn_deeplesion.py') in CONFIGS


@pytest.mark.parametrize('path', CONFIGS, ids=_rel)
def test_config_parses_and_model_builds(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    if cfg.model.type == 'MaskRCNN':
        assert model.with_neck
    backbone = cfg.model.get('backbone', {})  # segmentors hold a whole `network` instead
    if backbone.get('type') == 'TruncatedDenseNet3D':
        # D agrees between the backbone, the neck and the loader of every DeepLesion config
        assert cfg.model.neck.num_slices == backbone.num_slices
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if loader in cfg:
                load = [t for t in cfg[loader].dataset.pipeline
                        if t.type == 'LoadDeepLesionSlices']
                assert [t.num_slices for t in load] == [backbone.num_slices]


@pytest.mark.parametrize('conv, slices', [('acs', 7), ('3d', 7), ('2.5d', 7), ('acs', 3),
                                          ('3d', 9), ('2.5d', 3)])
def test_siblings_differ_in_conv_type_and_slices_only(conv, slices):
    suffix = '' if slices == 7 else f'_{slices}slices'
    cfg = Config.fromfile(osp.join(REPO, 'configs', f'{conv}_maskrcnn_deeplesion{suffix}.py'))
    main = Config.fromfile(osp.join(REPO, 'configs', 'acs_maskrcnn_deeplesion.py'))
    assert cfg.model.backbone.conv_type == conv
    assert cfg.model.backbone.num_slices == cfg.model.neck.num_slices == slices
    main.model.backbone.conv_type = conv
    main.model.backbone.num_slices = main.model.neck.num_slices = slices
    assert cfg.model.to_dict() == main.model.to_dict()
    assert cfg.optim_wrapper.to_dict() == main.optim_wrapper.to_dict()


def test_paper_schedule():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'acs_maskrcnn_deeplesion.py'))
    assert cfg.train_cfg.max_epochs == 20
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert steps[0].milestones == [10, 13] and steps[0].gamma == 0.1
    assert cfg.train_dataloader.batch_size == 2
