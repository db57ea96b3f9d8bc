"""configs/lidc (ResNet-18 FCN) and configs/lits (DeepLabv3+ ResNet-101): the paper's settings,
siblings differing by conv_type only (LIDC also has the appendix's Mean-/Soft-ACS), and each
config training one iteration and validating (whole crops for LIDC, sliding windows for LiTS)
on tiny generated data."""
import os.path as osp

import pytest
from mmengine.config import Config

from acsdet.engine.runner_setup import build_runner
from acsdet.models.inferers import window_starts
from acsdet.testing import load_script, make_lidc_like, make_lits_like

CONV_TYPES = ('acs', '3d', '2.5d')
LIDC_CONV_TYPES = CONV_TYPES + ('mean_acs', 'soft_acs')  # + the appendix's Table A1
LIDC = 'configs/lidc/fcn_r18_{}_lidc.py'
LITS = 'configs/lits/deeplabv3plus_r101_{}_lits.py'


def _load(repo_root, pattern, conv_type):
    return Config.fromfile(osp.join(repo_root, pattern.format(conv_type)))


@pytest.mark.parametrize('pattern, conv_types', [(LIDC, LIDC_CONV_TYPES), (LITS, CONV_TYPES)])
def test_siblings_differ_by_conv_type_only(repo_root, pattern, conv_types):
    cfgs = {ct: _load(repo_root, pattern, ct) for ct in conv_types}
    for ct, cfg in cfgs.items():
        assert cfg.model.network.conv_type == ct
    dumps = {ct: cfg.to_dict() for ct, cfg in cfgs.items()}
    for d in dumps.values():
        d['model']['network'].pop('conv_type')
    assert all(d == dumps['acs'] for d in dumps.values())
    for name in conv_types[1:]:  # one line: _base_ + that model line
        text = open(osp.join(repo_root, pattern.format(name))).read()
        assert [ln for ln in text.splitlines() if ln.strip()][1].startswith(
            "model = dict(network=dict(conv_type='")


def test_lidc_paper_settings(repo_root):
    cfg = _load(repo_root, LIDC, 'acs')
    assert cfg.model.network.type == 'FCNResNet3D' and cfg.model.network.depth == 18
    assert cfg.model.network.num_classes == 2
    assert cfg.model.loss.type == 'SoftDiceLoss'  # "Dice loss with a batch of 8"
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-3)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.param_scheduler[0].milestones == [50, 75] and cfg.param_scheduler[0].gamma == 0.1
    crop = [t for t in cfg.train_pipeline if t.type == 'RandomCropVolume'][0]
    assert tuple(crop.crop_size) == (48, 48, 48)


def test_lits_paper_settings(repo_root):
    cfg = _load(repo_root, LITS, 'acs')
    assert cfg.model.network.type == 'DeepLabV3PlusResNet3D'
    assert cfg.model.network.depth == 101 and cfg.model.network.num_classes == 3
    assert [loss.type for loss in cfg.model.loss] == ['SoftDiceLoss', 'SegCrossEntropyLoss']
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-3)
    assert cfg.train_cfg.max_epochs == 6000
    assert cfg.param_scheduler[0].milestones == [3000, 4500]
    # random-centre crop, random-scale resampling, flips and rotation ("Training data
    # augmentation"); the last crop gives the paper's 64 x 224 x 224
    types = [t.type for t in cfg.train_pipeline]
    assert {'RandomScaleVolume', 'RandomFlipVolume', 'RandomRotateVolume'} <= set(types)
    crop = [t for t in cfg.train_pipeline if t.type == 'RandomCropVolume'][-1]
    assert tuple(crop.crop_size) == (64, 224, 224)
    assert types.index('RandomScaleVolume') < len(types) - 1 - types[::-1].index(
        'RandomCropVolume')
    test = cfg.model.test_cfg
    assert test.mode == 'slide' and tuple(test.window) == (64, 512, 512)
    # "window sliding at a step of 24 at z axis" (the last window flush with the end)
    assert window_starts(200, 64, test.overlap) == [0, 24, 48, 72, 96, 120, 136]
    assert window_starts(512, 512, test.overlap) == [0]


@pytest.fixture(scope='module')
def lidc_root(repo_root, tmp_path_factory):
    """2 generated LIDC patients -> 2 nodule crops of 16^3 (1 train, 1 validation)."""
    raw = str(tmp_path_factory.mktemp('lidc_raw'))
    out = str(tmp_path_factory.mktemp('lidc'))
    make_lidc_like(raw, num_patients=2)
    cli = load_script(repo_root, 'data_prep/lidc_to_npz.py')
    assert cli.main([raw, out, '--size', '16', '--val-ratio', '0.5', '--quiet']) == 0
    return out + '/'


@pytest.fixture(scope='module')
def lits_root(repo_root, tmp_path_factory):
    """3 generated LiTS volumes of 20 x 32 x 32 (2 train, 1 validation)."""
    root = str(tmp_path_factory.mktemp('lits'))
    make_lits_like(root, num_cases=3, shape=(20, 32, 32))
    cli = load_script(repo_root, 'data_prep/lits_to_json.py')
    assert cli.main([root, '--val-ratio', '0.34', '--quiet']) == 0
    return root + '/'


def _shrink(cfg, data_root, work_dir, crop_size, batch_size):
    """One epoch of one iteration, no workers, no checkpoint, tiny crops."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.num_workers, loader.persistent_workers = 0, False
        loader.dataset.data_root = data_root
    cfg.train_dataloader.batch_size = batch_size
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'RandomCropVolume':
            t.crop_size = crop_size
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = work_dir
    return cfg


def _train_and_validate(cfg):
    runner = build_runner(cfg)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    metrics = {k: v for k, v in runner.message_hub.log_scalars.items() if k.startswith('val/')}
    return runner, losses, metrics


@pytest.mark.slow
@pytest.mark.parametrize('conv_type', LIDC_CONV_TYPES)
def test_lidc_config_trains_and_validates(repo_root, lidc_root, tmp_path, conv_type):
    cfg = _shrink(_load(repo_root, LIDC, conv_type), lidc_root, str(tmp_path / 'work'),
                  crop_size=(8, 8, 8), batch_size=1)  # validation: whole 16^3 crops
    runner, losses, metrics = _train_and_validate(cfg)
    assert len(runner.train_dataloader.dataset) == 1 and len(runner.val_dataloader.dataset) == 1
    assert losses > 0
    assert 0.0 <= metrics['val/dice/global/mean'].current() <= 1.0
    conv = runner.model.network.backbone.layer1[0].conv1
    assert type(conv).__name__ == {'acs': 'ACSConv', '3d': 'InflatedConv3d',
                                   '2.5d': 'Conv2_5d', 'mean_acs': 'MeanACSConv',
                                   'soft_acs': 'SoftACSConv'}[conv_type]


@pytest.mark.slow
@pytest.mark.parametrize('conv_type', CONV_TYPES)
def test_lits_config_trains_and_slides(repo_root, lits_root, tmp_path, conv_type):
    cfg = _load(repo_root, LITS, conv_type)
    # a ResNet-18 DeepLabv3+ of small widths, 16^3 crops and 16 x 32 x 32 windows (2 along
    # the 20 slices at the config's overlap) keep this fast; the rest (pipeline, losses,
    # sliding-window validation, metric) is the config's
    cfg.model.network.update(depth=18, aspp_channels=16, low_level_channels=8,
                              decoder_channels=16)
    cfg.model.test_cfg.window = (16, 32, 32)
    cfg = _shrink(cfg, lits_root, str(tmp_path / 'work'), crop_size=(16, 16, 16), batch_size=2)
    runner, losses, metrics = _train_and_validate(cfg)
    assert runner.model.test_mode == 'slide'
    assert losses > 0
    assert {'train/loss_dice', 'train/loss_ce'} <= set(runner.message_hub.log_scalars)
    assert {'val/dice/per_case/class_1', 'val/dice/per_case/class_2'} <= set(metrics)
