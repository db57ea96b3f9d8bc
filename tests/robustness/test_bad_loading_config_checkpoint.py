"""Bad input met after the conversion: files broken at loading time, an empty split, configs
that cannot work, and checkpoints that must not be loaded.  One-line errors, asserted exactly;
nothing written on failure.  The table of cases is in docs/robustness.md."""
import json
import os
import os.path as osp
import re
import subprocess

import pytest
import torch
from conftest import good_root, write_dl_info
from mmengine.config import Config

from acsdet.apis import register_all_modules

DEMO = 'configs/acs_maskrcnn_deeplesion_demo.py'
SMOKE = 'configs/smoke/maskrcnn_r18_fpn_1xb2_3e_synthetic.py'


@pytest.fixture(scope='module')
def registries():
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    scope = DefaultScope.get_instance('robustness', scope_name='acsdet')
    from acsdet.registry import DATASETS, MODELS, TRANSFORMS
    return scope, DATASETS, MODELS, TRANSFORMS


@pytest.fixture
def converted(tmp_path, convert_cli):
    root = str(tmp_path / 'dl')
    write_dl_info(root, good_root(root))
    assert convert_cli([root, '--workers', '0', '--no-progress']) == 0
    return root


def _dataset(registries, root, split='train'):
    datasets = registries[1]
    return datasets.build(dict(
        type='DeepLesionDataset', data_root=root + '/',
        ann_file=f'annotations/deeplesion_{split}.json', data_prefix=dict(img='Images_png/'),
        pipeline=[dict(type='LoadDeepLesionSlices', num_slices=3)], test_mode=True))


# ------------------------------------------------------------------------- loading time
def test_neighbour_deleted_after_conversion(registries, converted):
    os.remove(osp.join(converted, 'Images_png', '000001_01_01', '009.png'))
    with pytest.raises(FileNotFoundError) as err:
        _dataset(registries, converted)[0]
    assert str(err.value) == (f'missing slice {converted}/Images_png/000001_01_01/009.png '
                              '(key slice 10, slice_range [9, 11])')


def test_truncated_neighbour_png(registries, converted):
    path = osp.join(converted, 'Images_png', '000001_01_01', '011.png')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError) as err:
        _dataset(registries, converted)[0]
    assert str(err.value) == f'cannot decode slice (corrupt PNG?): {path}'


def test_empty_split(registries, tmp_path, convert_cli):
    root = str(tmp_path / 'dl')
    rows = good_root(root)
    write_dl_info(root, [r for r in rows if r['Train_Val_Test'] != 2])  # no validation rows
    assert convert_cli([root, '--workers', '0', '--no-progress']) == 0
    with open(osp.join(root, 'annotations', 'deeplesion_conversion_report.json')) as f:
        assert json.load(f)['splits']['val']['images'] == 0
    with pytest.raises(ValueError) as err:
        _dataset(registries, root, 'val')
    assert str(err.value) == (
        f'{root}/annotations/deeplesion_val.json: no images in this split (empty "images" '
        'list); check the Train_Val_Test column of DL_info.csv and the conversion report')


# ------------------------------------------------------------------------------ configs
@pytest.mark.parametrize('num_slices', [4, 0])
def test_even_or_zero_num_slices(registries, repo_root, num_slices):
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    transforms, models = registries[3], registries[2]
    load = dict(cfg.train_pipeline[0], num_slices=num_slices)
    with pytest.raises(ValueError) as err:
        transforms.build(load)
    assert str(err.value) == ('LoadDeepLesionSlices: num_slices must be odd and positive (the '
                              f'key slice sits in the middle), got {num_slices}')
    if num_slices == 0:
        with pytest.raises(ValueError, match=r'^TruncatedDenseNet3D: num_slices must be >= 1, '
                                             r'got 0$'):
            models.build(dict(cfg.model.backbone, num_slices=0))


@pytest.fixture(scope='module')
def demo_model(registries, repo_root):
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    return cfg, registries[2].build(cfg.model)


def test_input_depth_differs_from_model(demo_model):
    cfg, model = demo_model
    with pytest.raises(ValueError) as err:
        model.extract_feat(torch.zeros(1, 1, 5, 32, 32))
    assert str(err.value) == ('TruncatedDenseNet3D was built for num_slices=3 but the input '
                              'has D=5 (input shape (1, 1, 5, 32, 32))')


def test_neck_depth_differs_from_backbone(registries, repo_root):
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    model = registries[2].build(dict(cfg.model, backbone=dict(cfg.model.backbone, num_slices=5)))
    with pytest.raises(ValueError) as err:
        model.extract_feat(torch.zeros(1, 1, 5, 32, 32))
    assert str(err.value) == (
        'DepthSqueezeNeck was built for num_slices=3 but level 0 has shape (1, 128, 5, 8, 8) '
        '(expected (B, C, 3, H, W)); set the same num_slices in the backbone, the neck and the '
        'data pipeline')


def test_unknown_conv_type_through_train_tool(tmp_path, python_exe, repo_root):
    work = tmp_path / 'work'
    proc = subprocess.run(
        [python_exe, 'tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options',
         'model.backbone.conv_type=acs3', f'train_dataloader.dataset.data_root={tmp_path}/d/'],
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    # checked with the config, before the runner (and its log folder) or any data exist
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "tools/train.py: error: model.backbone.conv_type must be one of ['acs', '2.5d', '3d', "
        "'mean_acs', 'soft_acs'], got 'acs3' (did you mean 'acs'?)"]
    assert not (tmp_path / 'd').exists()  # failed before writing any data
    assert not work.exists()


# --------------------------------------------------------------------------- checkpoints
def test_checkpoint_of_another_architecture(demo_model, tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint

    from acsdet.engine.hooks import CheckpointMismatchError
    from acsdet.engine.hooks.checkpoint_match_hook import check_checkpoint_fits
    from acsdet.utils.safe_checkpoint import install_safe_checkpoint_loading
    _, model = demo_model
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    path = str(tmp_path / 'other.pth')
    torch.save({'state_dict': other.state_dict(), 'meta': {}}, path)
    install_safe_checkpoint_loading()
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint_fits(model, _load_checkpoint(path), filename=path)
    n = len(model.state_dict())
    assert str(err.value) == (
        f'checkpoint {path} does not fit MaskRCNN: only 0 of its {n} tensors match by name and '
        f"shape ({n} missing, 0 with another shape, e.g. 'backbone.conv0.weight'); was it saved "
        'from another architecture or config?')
    # the model's own weights, and a head with another class count, still load
    own = model.state_dict()
    check_checkpoint_fits(model, {'state_dict': own})
    check_checkpoint_fits(model, {'state_dict': {k: v for k, v in own.items()
                                                 if not k.startswith('roi_head')}})


@pytest.mark.slow
def test_other_architecture_refused_by_test_tool(tmp_path, python_exe, repo_root):
    """End to end: tools/test.py stops before testing (mmengine alone would warn and test
    random weights)."""
    from acsdet.testing import make_synthetic_coco
    data = tmp_path / 'data'
    make_synthetic_coco(str(data), num_train=1, num_val=1, size=64)
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': torch.nn.Conv2d(3, 8, 3).state_dict(), 'meta': {}}, path)
    out = tmp_path / 'preds.pkl'
    proc = subprocess.run(
        [python_exe, 'tools/test.py', SMOKE, str(path), '--work-dir', str(tmp_path / 'w'),
         '--out', str(out), '--cfg-options', f'test_dataloader.dataset.data_root={data}/',
         f'test_evaluator.ann_file={data}/annotations/val.json'],
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r'acsdet\.engine\.hooks\.checkpoint_match_hook\.CheckpointMismatchError: '
                        rf'checkpoint {re.escape(str(path))} does not fit MaskRCNN: only 0 of its '
                        r'\d+ tensors match by name and shape .*', last), last
    assert not out.exists()


def test_checkpoint_carrying_pickled_code(demo_model, tmp_path):
    from mmengine.runner import load_checkpoint

    from acsdet.utils.safe_checkpoint import UnsafeCheckpointError, install_safe_checkpoint_loading
    _, model = demo_model
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'hook': os.system}}, path)
    install_safe_checkpoint_loading()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(model, path, map_location='cpu')  # what the Runner calls
    assert str(err.value) == (
        f"refusing to load checkpoint {path}: it holds globals that are not on acsdet's "
        'allow-list (posix.system); it may carry pickled code. Only load checkpoints you '
        'trust; to accept a known-safe type, pass it to torch.serialization.add_safe_globals '
        'before loading.')
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
