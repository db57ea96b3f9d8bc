"""Config keys and output paths refused before the Runner starts (issue 18, class 3, and the
``tools/test.py --out`` part of class 6): a mistyped ``--cfg-options`` key, a conv type in the
wrong case, a backbone / neck / pipeline depth mismatch, a batch size of 0, a model that
cannot be built, an ``--out`` or ``--work-dir`` that cannot be written.  Each gives one line
``tools/<tool>.py: error: ...`` (exit status 2, no traceback) and leaves no log folder, work
dir or data behind.  The rules: ``acsdet.engine.runner_setup.check_cfg_option_key`` and
``check_config``."""
import importlib.util
import os
import os.path as osp
import re
import subprocess
import tempfile

import pytest
from conftest import leftovers
from mmengine.config import Config

from acsdet.apis import register_all_modules
from acsdet.engine.runner_setup import (ConfigError, build_runner, check_cfg_option_key,
                                        check_config, check_out_file, load_config)

DEMO = 'configs/acs_maskrcnn_deeplesion_demo.py'
SMOKE = 'configs/smoke/maskrcnn_r18_fpn_1xb2_3e_synthetic.py'
CHOICES = "['acs', '2.5d', '3d', 'mean_acs', 'soft_acs']"


@pytest.fixture(scope='module', autouse=True)
def registries():
    register_all_modules(init_default_scope=False)


def _read_only(folder):
    """``folder`` made read-only, or (as root, who ignores the mode) /sys; None where
    neither refuses new files."""
    folder.mkdir()
    folder.chmod(0o555)
    for path in (str(folder), '/sys'):
        try:
            fd, probe = tempfile.mkstemp(dir=path)
        except OSError:
            return path
        os.close(fd)
        os.remove(probe)
    return None


@pytest.fixture
def read_only_dir(tmp_path):
    path = _read_only(tmp_path / 'ro')
    if path is None:
        pytest.skip('no read-only folder on this machine')
    yield path
    (tmp_path / 'ro').chmod(0o755)


# -------------------------------------------------- tools/train.py and tools/test.py, end to end
# Each case: (tool, extra arguments given the case folder, the exact message).  The folder
# holds `work` (--work-dir, absent), `d` (the demo data root, absent) and `model.pth`.
def _train(*options):
    return lambda base: ['--cfg-options', *options,
                         f'train_dataloader.dataset.data_root={base}/d/']


def _out_is_a_folder(base):
    (base / 'preds.pkl').mkdir()
    return ['--out', str(base / 'preds.pkl')]


def _out_read_only(base):
    folder = _read_only(base / 'ro')
    return None if folder is None else ['--out', osp.join(folder, 'preds.pkl')]


def _earlier_run(base):
    (base / 'work' / '20200101_000000').mkdir(parents=True)  # an earlier run's log folder
    (base / 'work' / '20200101_000000' / 'old.log').write_text('old')
    (base / 'work' / 'epoch_1.pth').write_bytes(b'x')
    return _train('model.neck.squeeze=max2')(base)


TOOL_CASES = {
    'train: top-level typo': (
        'train', _train('trian_cfg.max_epochs=1'),
        "--cfg-options: unknown key 'trian_cfg' (not in the config; did you mean "
        "'train_cfg'?)"),
    'train: nested typo': (
        'train', _train('model.backbone.conv_tpye=3d'),
        "--cfg-options: unknown key 'model.backbone.conv_tpye' (TruncatedDenseNet3D takes no "
        "argument 'conv_tpye'; did you mean 'conv_type'?)"),
    'train: dataloader typo': (
        'train', _train('train_dataloader.batch_sizee=1'),
        "--cfg-options: unknown key 'train_dataloader.batch_sizee' (DataLoader takes no "
        "argument 'batch_sizee'; did you mean 'batch_size'?)"),
    'train: conv type case': (
        'train', _train('model.backbone.conv_type=ACS'),
        f"model.backbone.conv_type must be one of {CHOICES}, got 'ACS' (did you mean 'acs'?)"),
    'train: unknown conv type': (
        'train', _train('model.backbone.conv_type=acs3'),
        f"model.backbone.conv_type must be one of {CHOICES}, got 'acs3' (did you mean "
        "'acs'?)"),
    'train: depth mismatch': (
        'train', _train('model.backbone.num_slices=5'),
        'num_slices must agree: model.backbone.num_slices=5, model.neck.num_slices=3, '
        'LoadDeepLesionSlices.num_slices=3 (train_dataloader, val_dataloader, test_dataloader); '
        'set the same num_slices in the backbone, the neck and the data pipeline'),
    'train: batch size 0': (
        'train', _train('train_dataloader.batch_size=0'),
        'train_dataloader.batch_size must be an integer >= 1, got 0'),
    # a value only the model refuses: the Runner has created work/<timestamp>/ by then; it
    # is removed again, what was there before is kept
    'train: model build error': (
        'train', _earlier_run,
        "DepthSqueezeNeck: squeeze must be one of ('conv', 'mean', 'max', 'center'), got "
        "'max2'"),
    'test: --out is a folder': (
        'test', _out_is_a_folder, '--out {base}/preds.pkl is a folder; name a .pkl file'),
    'test: --out in a read-only folder': (
        'test', _out_read_only, '--out {out}: cannot write in {ro} (Permission denied)'),
}


#: also run through a real interpreter (``python tools/<tool>.py``, 4-10 s each); the others
#: call the tool's ``main(argv)`` in this process, the same code without the start-up
SUBPROCESS = ('train: top-level typo', 'train: model build error',
              'test: --out in a read-only folder')


def _main(repo_root, tool):
    spec = importlib.util.spec_from_file_location(
        f'acsdet_tool_{tool}', osp.join(repo_root, 'tools', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize('case', list(TOOL_CASES))
def test_tool_case(case, tmp_path, python_exe, repo_root, capsys, monkeypatch):
    tool, extra, message = TOOL_CASES[case]
    base = tmp_path
    (base / 'model.pth').write_bytes(b'')
    try:
        args = extra(base)
        if args is None:
            pytest.skip('no read-only folder on this machine')
        argv = [DEMO] + ([str(base / 'model.pth')] if tool == 'test' else []) + [
            '--work-dir', str(base / 'work')] + args
        out = argv[argv.index('--out') + 1] if '--out' in argv else ''
        line = f'tools/{tool}.py: error: ' + message.format(base=base, out=out,
                                                            ro=osp.dirname(out))
        monkeypatch.chdir(repo_root)
        if case in SUBPROCESS:
            proc = subprocess.run([python_exe, f'tools/{tool}.py'] + argv, cwd=repo_root,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 2, proc.stderr[-3000:]
            assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
            assert proc.stderr.strip().splitlines()[-1] == line
        else:
            with pytest.raises(SystemExit) as exit_:
                _main(repo_root, tool)(argv)
            assert exit_.value.code == 2
            assert capsys.readouterr().err.strip().splitlines()[-1] == line
        assert not (base / 'd').exists()  # refused before the demo dataset writes its data
        if case == 'train: model build error':
            assert leftovers(str(base / 'work')) == ['20200101_000000/old.log', 'epoch_1.pth']
        else:  # no work dir, no <timestamp> log folder
            assert not (base / 'work').exists()
        if out:
            assert leftovers(out) == [] and not osp.isfile(out)
    finally:
        if (base / 'ro').exists():
            (base / 'ro').chmod(0o755)


# ------------------------------------------------------------------------ --work-dir
@pytest.mark.parametrize('tool', ['train', 'test'])
def test_work_dir_not_writable(tool, tmp_path, read_only_dir, repo_root, capsys,
                               monkeypatch):
    monkeypatch.chdir(repo_root)
    work = osp.join(read_only_dir, 'work')
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    argv = [DEMO] + ([str(ckpt)] if tool == 'test' else []) + ['--work-dir', work]
    with pytest.raises(SystemExit) as exit_:
        _main(repo_root, tool)(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f'tools/{tool}.py: error: --work-dir {work} is not writable: cannot create files in '
        f'{read_only_dir} (Permission denied)')
    assert not osp.exists(work)


def test_test_tool_refuses_unknown_key(tmp_path, repo_root, capsys, monkeypatch):
    monkeypatch.chdir(repo_root)
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    with pytest.raises(SystemExit) as exit_:
        _main(repo_root, 'test')([DEMO, str(ckpt), '--work-dir', str(tmp_path / 'w'),
                                  '--cfg-options', 'test_dataloader.dataset.data_roott=x'])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "tools/test.py: error: --cfg-options: unknown key 'test_dataloader.dataset.data_roott' "
        "(DeepLesionDemoDataset takes no argument 'data_roott'; did you mean 'data_root'?)")
    assert not (tmp_path / 'w').exists()


# --------------------------------------------------------- the validator on Config objects
# overrides used across the repo (tests, docs, config comments) and kin: all accepted
GOOD = [
    (DEMO, {'model.backbone.conv_type': '3d'}),
    (DEMO, {'randomness.seed': 1, 'randomness.deterministic': True}),
    (DEMO, {'train_dataloader.dataset.data_root': '/x/', 'val_evaluator.ann_file': 'v.json'}),
    (DEMO, {'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1}),
    (DEMO, {'param_scheduler': [], 'train_cfg.max_epochs': 2, 'log_level': 'DEBUG'}),
    (DEMO, {'param_scheduler.1.milestones': [2]}),
    (DEMO, {'model.backbone.init_cfg': None, 'model.backbone.with_cp': True}),
    (DEMO, {'model.test_cfg.rcnn.score_thr': 0.1, 'model.test_cfg.rcnn.new_option': 1}),
    (DEMO, {'train_dataloader.batch_size': 1, 'train_dataloader.pin_memory': True}),
    (DEMO, {'train_dataloader.dataset.pipeline.0.num_slices': 3, 'num_slices': 3}),
    (DEMO, {'env_cfg.dist_cfg.timeout': 60, 'experiment_name': 'x', 'resume': True}),
    (DEMO, {'optim_wrapper.optimizer.lr': 0.1, 'optim_wrapper.accumulative_counts': 2}),
    (DEMO, {'default_hooks.visualization.draw': True, 'test_dataloader.batch_size': 2}),
    (SMOKE, {'model_wrapper_cfg': dict(type='SyncBNDistributedDataParallel'),
             'find_unused_parameters': True}),
    ('configs/lidc/fcn_r18_acs_lidc.py', {'model.network.init_cfg.checkpoint': 'r18.pth',
                                          'model.network.conv_type': '2d'}),
    ('configs/poc/acs_unet_poc3d.py', {'model.network.init_cfg.checkpoint': 'e.pth',
                                       'model.network.init_cfg.skip': ['classifier']}),
    ('configs/poc/acs_unet_poc3d.py', {'data_root': 'D/', 'model.test_cfg.mode': 'slide',
                                       'model.test_cfg.window': (64, 224, 224)}),
    ('configs/gsp/gsp_unet_brats18.py', {'model.network.gs_position': 'CCS'}),
    ('configs/poc/unet2d_poc2d.py', {'default_hooks.visualization.num_slices': 5}),
]


@pytest.mark.parametrize('config,options', GOOD, ids=[' '.join(o) for _, o in GOOD])
def test_legitimate_overrides_are_accepted(config, options, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    cfg = load_config(config, options)
    for key, value in options.items():
        node = cfg
        for part in key.split('.'):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node == value


BAD = {
    'default_hooks.chekpoint.interval': "--cfg-options: unknown key "
    "'default_hooks.chekpoint.interval' ('default_hooks' has no key 'chekpoint'; did you mean "
    "'checkpoint'?)",
    'default_hooks.checkpoint.intervall': "--cfg-options: unknown key "
    "'default_hooks.checkpoint.intervall' (CheckpointHook takes no argument 'intervall'; did "
    "you mean 'interval'?)",
    'train_cfg.max_epoch': "--cfg-options: unknown key 'train_cfg.max_epoch' "
    "(EpochBasedTrainLoop takes no argument 'max_epoch'; did you mean 'max_epochs'?)",
    'randomness.seeed': "--cfg-options: unknown key 'randomness.seeed' (Runner.set_randomness "
    "takes no argument 'seeed'; did you mean 'seed'?)",
    'optim_wrapper.optimizer.lrr': "--cfg-options: unknown key 'optim_wrapper.optimizer.lrr' "
    "(SGD takes no argument 'lrr'; did you mean 'lr'?)",
    'model.backbone.init_cfg.checkpoint': "--cfg-options: cannot set "
    "'model.backbone.init_cfg.checkpoint': 'model.backbone.init_cfg' is None, not a dict; set "
    "the whole value instead",
    'param_scheduler.5.end': "--cfg-options: cannot set 'param_scheduler.5.end': "
    "'param_scheduler' has 2 items (index 5)",
    'param_scheduler.end': "--cfg-options: cannot set 'param_scheduler.end': 'param_scheduler' "
    "is a list; index it with a number (param_scheduler.0.…)",
    'compile.mode': "--cfg-options: cannot set 'compile.mode': 'compile' is not in the config; "
    "set the whole value instead",
}


@pytest.fixture(scope='module')
def demo_cfg(repo_root):
    return Config.fromfile(osp.join(repo_root, DEMO))


@pytest.mark.parametrize('key', list(BAD))
def test_unknown_keys_are_refused(key, demo_cfg):
    with pytest.raises(ConfigError) as err:
        check_cfg_option_key(demo_cfg, key)
    assert str(err.value) == BAD[key]


def test_keys_see_the_options_before_them(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    cfg = load_config(SMOKE, {'model_wrapper_cfg': dict(type='MMDistributedDataParallel'),
                              'model_wrapper_cfg.broadcast_buffers': False})
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel',
                                         broadcast_buffers=False)


@pytest.mark.parametrize('key,value,message', [
    ('val_dataloader.num_workers', -1, 'val_dataloader.num_workers must be an integer >= 0, '
     'got -1'),
    ('train_dataloader.batch_size', 1.5, 'train_dataloader.batch_size must be an integer >= 1, '
     'got 1.5'),
    ('test_dataloader.batch_size', True, 'test_dataloader.batch_size must be an integer >= 1, '
     'got True'),
], ids=['num_workers -1', 'batch_size 1.5', 'batch_size True'])
def test_dataloader_values(key, value, message, demo_cfg):
    cfg = demo_cfg.copy()
    cfg.merge_from_dict({key: value})
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value) == message


def test_conv_type_of_a_segmentation_network(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, 'configs/lidc/fcn_r18_acs_lidc.py'))
    cfg.merge_from_dict({'model.network.conv_type': '2d'})
    check_config(cfg)  # the 2D network, not converted
    cfg.merge_from_dict({'model.network.conv_type': '2D'})
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value) == (f"model.network.conv_type must be one of ['2d', "
                              f"{CHOICES[1:]}, got '2D' (did you mean '2d'?)")


def test_pipeline_depths_are_named_per_dataloader(demo_cfg):
    cfg = demo_cfg.copy()
    cfg.merge_from_dict({'test_dataloader.dataset.pipeline.0.num_slices': 5})
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value) == (
        'num_slices must agree: model.backbone.num_slices=3, model.neck.num_slices=3, '
        'LoadDeepLesionSlices.num_slices=3 (train_dataloader, val_dataloader), 5 '
        '(test_dataloader); set the same num_slices in the backbone, the neck and the data '
        'pipeline')


def test_out_checks(tmp_path):
    check_out_file(str(tmp_path / 'new' / 'preds.pkl'))  # folder made at the end: fine
    assert not (tmp_path / 'new').exists()
    (tmp_path / 'file').write_text('')
    with pytest.raises(ConfigError, match=re.escape(
            f'--out {tmp_path}/file/preds.pkl: {tmp_path}/file is a file, not a folder')):
        check_out_file(str(tmp_path / 'file' / 'preds.pkl'))
    with pytest.raises(ConfigError, match=r'^--out must name a \.pkl file, got p\.json$'):
        check_out_file('p.json')


def test_build_failure_removes_only_what_it_created(tmp_path, repo_root):
    """build_runner on its own: a new nested work dir goes entirely; an existing one keeps
    its earlier content (tested through the tool above)."""
    cfg = Config.fromfile(osp.join(repo_root, SMOKE))
    cfg.merge_from_dict({'model.roi_head.type': 'NoSuchRoIHead'})
    cfg.work_dir = str(tmp_path / 'a' / 'b' / 'work')
    cfg.launcher = 'none'
    with pytest.raises(KeyError, match='NoSuchRoIHead is not in the'):
        build_runner(cfg)
    assert os.listdir(tmp_path) == []
