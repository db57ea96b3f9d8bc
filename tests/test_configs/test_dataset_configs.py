"""The public-dataset base configs (LIDC-IDRI, LiTS, PROMISE12, BraTS18) and the GSP-Conv
configs build and run one training iteration + one validation on tiny generated data in
each public format, converted by the data_prep scripts (crops and networks shrunk)."""
import os.path as osp

import numpy as np
import pytest
import torch

from acsdet.apis import register_all_modules
from acsdet.engine.runner_setup import build_runner, load_config
from acsdet.testing import load_script
from acsdet.testing.synthetic_volumes import (make_brats_like, make_lidc_like, make_lits_like,
                                              make_promise12_like)

TINY_BACKBONE = dict(type='TinyUNet3D', base_channels=4, channel_multipliers=(1, 2),
                     kernel_size=3, gs_position=None)


def _script(repo_root, name):
    return load_script(repo_root, f'data_prep/{name}.py')


def _shrink_crops(cfg, crop):
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        cfg[loader].batch_size = 1
        for t in cfg[loader].dataset.pipeline:
            if t.type == 'RandomCropVolume':
                t.crop_size = crop


def _run_one_iter(cfg, data_root, tmp_path):
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.log_processor = dict(type='LogProcessor', window_size=1, by_epoch=False)
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    runner.train()
    return runner.message_hub.log_scalars


def _prepare(kind, repo_root, tmp_path):
    """Generate public-format data, convert it, return the converted data root."""
    raw, out = tmp_path / 'raw', tmp_path / 'data'
    if kind == 'lits':
        make_lits_like(str(raw), num_cases=3, shape=(12, 24, 24))
        assert _script(repo_root, 'lits_to_json').main([str(raw), '--out',
                                                        str(out / 'lits.json'), '--quiet']) == 0
    elif kind == 'promise12':
        make_promise12_like(str(raw), num_cases=3, shape=(8, 24, 24))
        assert _script(repo_root, 'promise12_to_json').main(
            [str(raw), '--out', str(out / 'promise12.json'), '--quiet']) == 0
    elif kind == 'brats18':
        make_brats_like(str(raw), num_cases=3, shape=(16, 16, 16))
        assert _script(repo_root, 'brats18_to_json').main([str(raw), str(out), '--quiet']) == 0
    else:
        make_lidc_like(str(raw), num_patients=2)
        assert _script(repo_root, 'lidc_to_npz').main([str(raw), str(out), '--size', '16',
                                                       '--quiet']) == 0
    return str(out) + '/'


DATASETS = [  # base config, converter kind, crop, in_channels, num_classes
    ('lidc_nodules', 'lidc', (16, 16, 16), 1, 2),
    ('lits_liver_tumor', 'lits', (8, 16, 16), 1, 3),
    ('promise12_prostate', 'promise12', (8, 16, 16), 1, 2),
    ('brats18', 'brats18', (8, 16, 16), 4, 4),
]


@pytest.mark.slow
@pytest.mark.parametrize('base,kind,crop,in_channels,num_classes', DATASETS,
                         ids=[d[0] for d in DATASETS])
def test_dataset_base_config_trains_and_validates(base, kind, crop, in_channels, num_classes,
                                                  repo_root, tmp_path):
    register_all_modules()
    torch.manual_seed(0)
    np.random.seed(0)
    cfg_file = tmp_path / f'tiny_{base}.py'
    base_path = osp.join(repo_root, 'configs', '_base_', 'datasets', base + '.py')
    cfg_file.write_text(
        f"_base_ = [{base_path!r}, "
        f"{osp.join(repo_root, 'configs', '_base_', 'default_runtime.py')!r}]\n"
        f"model = dict(type='VolumeSegmentor', network=dict(in_channels={in_channels}, "
        f"num_classes={num_classes}, **{TINY_BACKBONE!r}), "
        "loss=dict(type='SoftDiceLoss', ignore_background=True), test_cfg=dict(mode='slide', "
        f"window={crop!r}, overlap=0.5))\n"
        "val_cfg = dict(type='ValLoop')\ntest_cfg = dict(type='TestLoop')\n"
        "optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))\n")
    cfg = load_config(str(cfg_file))
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) else \
        [cfg.val_evaluator]
    assert evaluators[0].num_classes == num_classes == cfg.num_classes
    _shrink_crops(cfg, crop)
    data_root = _prepare(kind, repo_root, tmp_path)
    scalars = _run_one_iter(cfg, data_root, tmp_path)
    assert np.isfinite(scalars['train/loss'].current())
    dice = scalars['val/dice/per_case/mean'].current()
    assert 0.0 <= dice <= 1.0
    if kind == 'brats18':  # + the BraTS regions
        for region in ('WT', 'TC', 'ET', 'mean'):
            assert 0.0 <= scalars[f'val/region_dice/per_case/{region}'].current() <= 1.0


GSP_CONFIGS = [('gsp_unet_promise12', 'promise12', (16, 32, 32)),
               ('unet3d_promise12', 'promise12', (16, 32, 32)),
               ('gsp_unet_brats18', 'brats18', (16, 16, 16))]


@pytest.mark.slow
@pytest.mark.parametrize('name,kind,crop', GSP_CONFIGS, ids=[g[0] for g in GSP_CONFIGS])
def test_gsp_config_trains_and_validates(name, kind, crop, repo_root, tmp_path):
    register_all_modules()
    torch.manual_seed(0)
    cfg = load_config(osp.join(repo_root, 'configs', 'gsp', name + '.py'))
    # shrink: 3 stages of widths 16-32-64 keep the paper's first three per-stage groups
    groups = cfg.model.network.spatial_groups
    cfg.model.network.update(base_channels=16, channel_multipliers=(1, 2, 4))
    if cfg.model.network.gs_position is not None:
        from acsdet.models.seg_networks.tiny_unet3d import SPATIAL_GROUP_PRESETS
        cfg.model.network.spatial_groups = list(SPATIAL_GROUP_PRESETS[groups][:3])
    cfg.model.test_cfg.window = crop
    _shrink_crops(cfg, crop)
    data_root = _prepare(kind, repo_root, tmp_path)
    scalars = _run_one_iter(cfg, data_root, tmp_path)
    assert np.isfinite(scalars['train/loss'].current())
    assert 0.0 <= scalars['val/dice/per_case/mean'].current() <= 1.0


def test_gsp_config_siblings(repo_root):
    """The ProSG siblings and baselines differ from their parent only where they say."""
    gsp = osp.join(repo_root, 'configs', 'gsp')
    parent = load_config(osp.join(gsp, 'gsp_unet_promise12.py'))
    assert parent.model.network.spatial_groups == 'ProSGv3'
    assert parent.model.network.gs_position == 'CSC'
    assert parent.train_dataloader.batch_size == 4
    assert parent.optim_wrapper.optimizer.type == 'SGD'
    assert parent.optim_wrapper.optimizer.lr == 0.01
    assert parent.param_scheduler[0].type == 'PolyLR' and parent.param_scheduler[0].power == 0.9
    for v in (1, 2, 4):
        cfg = load_config(osp.join(gsp, f'gsp_unet_promise12_prosgv{v}.py'))
        assert cfg.model.network.spatial_groups == f'ProSGv{v}'
        assert cfg.model.network.gs_position == 'CSC'
    twin = load_config(osp.join(gsp, 'unet3d_promise12.py'))
    assert (twin.model.network.type, twin.model.network.kernel_size,
            twin.model.network.gs_position) == ('TinyUNet3D', 3, None)
    brats = load_config(osp.join(gsp, 'gsp_unet_brats18.py'))
    assert brats.model.network.spatial_groups == 'BraTSSG'
    assert brats.model.network.in_channels == 4 and brats.model.network.num_classes == 4
    for name, kernel in (('unet3d_brats18', 3), ('pointwise_unet_brats18', 1),
                         ('pointwise_unet_promise12', 1)):
        cfg = load_config(osp.join(gsp, name + '.py'))
        assert cfg.model.network.kernel_size == kernel
        assert cfg.model.network.gs_position is None


BENCH_CONFIGS = [f'{net}_{name}' for name in ('organ', 'lesion')
                 for net in ('unet3d', 'pointwise_unet', 'gsp_unet')]


@pytest.fixture(scope='module')
def bench_data(tmp_path_factory):
    from acsdet.data_prep import generate_gsp_bench
    root = tmp_path_factory.mktemp('gsp_bench')
    generate_gsp_bench(str(root), counts={'train': 2, 'test': 1})
    return root


@pytest.mark.slow
@pytest.mark.parametrize('name', BENCH_CONFIGS)
def test_gsp_bench_config_trains_and_validates(name, bench_data, repo_root, tmp_path):
    """The CPU benchmark's configs, unshrunk (the whole 16 x 48 x 48 grid and widths), one
    iteration and a validation with HD95 / ASSD in mm."""
    register_all_modules()
    torch.manual_seed(0)
    cfg = load_config(osp.join(repo_root, 'configs', 'gsp', 'bench', name + '.py'))
    assert cfg.model.network.kernel_size == (3 if name.startswith('unet3d') else 1)
    assert (cfg.model.network.gs_position == 'CSC') == name.startswith('gsp')
    kind = name.rsplit('_', 1)[1]
    _shrink_crops(cfg, None)
    scalars = _run_one_iter(cfg, str(bench_data / f'gsp_{kind}') + '/', tmp_path)
    assert np.isfinite(scalars['train/loss'].current())
    assert 0.0 <= scalars['val/dice/per_case/mean'].current() <= 1.0
    assert scalars['val/surface/hd95/mean'].current() >= 0.0
