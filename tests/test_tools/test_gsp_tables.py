"""tools/analysis_tools/gsp_tables.py: the GSP-Conv paper's Tables 1-2 on the CPU benchmark."""
import importlib.util
import json
import os
import os.path as osp
import signal
import subprocess
import time

import pytest


@pytest.fixture(scope='module')
def tables(repo_root):
    path = osp.join(repo_root, 'tools', 'analysis_tools', 'gsp_tables.py')
    spec = importlib.util.spec_from_file_location('gsp_tables', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_cover_the_issue(tables):
    runs = tables.RUNS
    assert len(runs) == 12
    grid = {(r['insert_position'], r['spatial_groups']) for r in runs.values()
            if r['shift_ratio'] == 0.5 and r['gs_in_encoder']}
    assert grid == {(p, g) for p in ('CSC', 'CCS', 'CSCS', 'CSCSUpShift')
                    for g in ('sg_v3', 'sg_v2')}
    assert runs['gsp_CSC_sg_v3_cs_all']['shift_ratio'] == 1.0
    assert runs['gsp_CSC_sg_v3_dec']['gs_in_encoder'] is False


def test_derived_configs(tables, tmp_path):
    from mmengine.config import Config
    args = tables.parse_args(['--epochs', '7', '--seed', '3', '--ckpt-interval', '2'])
    cfgs = {}
    for name in tables.SETS:
        for run in tables.RUNS:
            path = tmp_path / f'{name}__{run}.py'
            path.write_text(tables.derived_config(name, run, args, str(tmp_path / 'data')))
            cfgs[name, run] = Config.fromfile(str(path))
    sg_v3 = [(2, 2, 2), (1, 4, 4), (1, 4, 4), (1, 6, 6), (1, 3, 3)]
    sg_v2 = [(1, 2, 2), (1, 4, 4), (2, 4, 4), (1, 6, 6), (1, 3, 3)]
    for (name, run), cfg in cfgs.items():
        net = cfg.model.network
        assert net.type == 'TinyUNet3D' and net.base_channels == 16
        assert net.channel_multipliers == (1, 2, 4, 8, 16)
        assert net.num_classes == (2 if name == 'organ' else 3)
        assert net.kernel_size == (3 if run == 'unet3d' else 1)
        spec = tables.RUNS[run]
        if spec['insert_position'] is None:
            assert net.gs_position is None
        else:
            assert net.gs_position == spec['insert_position'].replace('+Dec', '')
            assert [tuple(g) for g in net.spatial_groups] == \
                (sg_v3 if spec['spatial_groups'] == 'sg_v3' else sg_v2)
            assert net.shift_ratio == spec['shift_ratio']
            assert net.get('gs_in_encoder', True) == spec['gs_in_encoder']
        assert cfg.model.loss.type == 'SoftDiceLoss' and cfg.model.loss.ignore_background
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_dataloader.dataset.data_root == \
            str(tmp_path / 'data' / f'gsp_{name}') + '/'
        assert cfg.val_dataloader.dataset.data_prefix == dict(img_path='test')
        assert cfg.train_cfg.max_epochs == 7 and cfg.train_cfg.val_interval == 7
        assert cfg.param_scheduler[0].end == 7
        assert cfg.default_hooks.checkpoint.interval == 2
        assert cfg.default_hooks.checkpoint.save_best is None  # nothing picked on the test split
        assert [e.type for e in cfg.val_evaluator] == ['DiceMetric', 'SurfaceDistanceMetric']
        assert cfg.randomness.seed == 3


def _result(mdice, conv_params):
    return dict(mdice=mdice, conv_params=conv_params)


def test_checks_follow_the_issue(tables):
    results = {
        'organ': {'unet3d': _result(90, 1000), 'pointwise': _result(70, 37),
                  'gsp_CSC_sg_v3': _result(87, 37), 'gsp_CCS_sg_v3': _result(80, 37)},
        'lesion': {'unet3d': _result(80, 1000), 'pointwise': _result(78, 37)},
    }
    out = {c['check']: (c['holds'], c['value']) for c in tables.checks(results)}
    assert out['organ: pointwise >= 10 mDice points below the 3x3x3 U-Net'] == (True, 20)
    assert out['organ: best GSP run (gsp_CSC_sg_v3) within 4 mDice points of the 3x3x3 '
               'U-Net'] == (True, 3)
    assert out["organ: gsp_CSC_sg_v3 has at most 1/10 of the 3x3x3 U-Net's conv "
               'parameters'] == (True, 0.037)
    assert out['lesion: pointwise gap smaller than on the organ set'] == (True, [20, 2])
    results['lesion']['pointwise'] = _result(50, 37)
    results['organ']['gsp_CSC_sg_v3'] = _result(85, 37)
    out = {c['check']: c['holds'] for c in tables.checks(results)}
    assert not out['lesion: pointwise gap smaller than on the organ set']
    assert not out['organ: best GSP run (gsp_CSC_sg_v3) within 4 mDice points of the 3x3x3 '
                   'U-Net']
    assert tables.checks({'organ': {'unet3d': _result(90, 1000)}}) == []


def test_a_changed_config_is_refused(tables, tmp_path):
    args = tables.parse_args(['--epochs', '3'])
    (tmp_path / 'organ' / 'pointwise').mkdir(parents=True)
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'organ__pointwise.py').write_text('# other epochs\n')
    with pytest.raises(RuntimeError, match=r'organ/pointwise: .*pointwise was trained from '
                       r'another config than .*organ__pointwise.py would now be .*--force'):
        tables.run_one('organ', 'pointwise', args, str(tmp_path / 'data'), str(tmp_path))


def test_bad_options(tables):
    for bad in (['--epochs', '0'], ['--num-train', '-2'], ['--runs', 'gsp_XYZ'],
                ['--sets', 'brain']):
        with pytest.raises(SystemExit):
            tables.parse_args(bad)


@pytest.mark.slow
def test_tiny_table_with_a_run_killed_and_resumed(tmp_path, repo_root, python_exe):
    work = tmp_path / 'work'
    out = tmp_path / 'out' / 'gsp.json'
    cmd = [python_exe, 'tools/analysis_tools/gsp_tables.py', '--work-dir', str(work),
           '--epochs', '3', '--ckpt-interval', '1', '--num-train', '4', '--num-test', '2',
           '--threads', '1', '--out', str(out)]
    # a GSP run on the organ set, killed once its first epoch's checkpoint is there
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(cmd + ['--sets', 'organ', '--runs', 'gsp_CSC_sg_v3'],
                            cwd=repo_root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    run_dir = work / 'organ' / 'gsp_CSC_sg_v3'
    deadline = time.time() + 300
    while not (run_dir / 'epoch_1.pth').exists():
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / 'result.json').exists()
    runs = ['unet3d', 'pointwise', 'gsp_CSC_sg_v3']
    done = subprocess.run(cmd + ['--runs'] + runs, cwd=repo_root, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    stamps = sorted(d for d in os.listdir(run_dir) if (run_dir / d).is_dir() and d[0].isdigit())
    assert len(stamps) == 2  # the killed run and the resumed one
    resumed_log = (run_dir / stamps[1] / f'{stamps[1]}.log').read_text()
    assert 'resumed epoch: 1' in resumed_log or 'resumed epoch: 2' in resumed_log
    table = json.loads(out.read_text())
    assert [(r['dataset'], r['network']) for r in table['runs']] == \
        [(s, r) for s in ('organ', 'lesion') for r in runs]
    for r in table['runs']:
        for key in ('network', 'dataset', 'insert_position', 'spatial_groups', 'shift_ratio',
                    'mdice', 'hd95_mm', 'params', 'flops', 'steps'):
            assert key in r, key
        assert 0 <= r['mdice'] <= 100 and r['hd95_mm'] >= 0 and r['steps'] == 3
    by = {(r['dataset'], r['network']): r for r in table['runs']}
    # GS costs nothing: the pointwise nets with and without it have the same counts
    assert by['organ', 'pointwise']['params'] == by['organ', 'gsp_CSC_sg_v3']['params']
    assert by['organ', 'pointwise']['flops'] == by['organ', 'gsp_CSC_sg_v3']['flops']
    assert by['organ', 'unet3d']['conv_params'] > 20 * by['organ', 'pointwise']['conv_params']
    assert by['organ', 'gsp_CSC_sg_v3']['spatial_groups'][0] == [2, 2, 2]
    assert table['command'].startswith('python tools/analysis_tools/gsp_tables.py --work-dir')
    md = out.with_suffix('.md').read_text()
    assert '### organ set' in md and '| unet3d | - | - | - |' in md and '| 87.3 |' in md
    # a second call trains nothing and rewrites the same runs
    again = subprocess.run(cmd + ['--runs'] + runs, cwd=repo_root, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and 'training (log' not in again.stdout
    assert json.loads(out.read_text())['runs'] == table['runs']
    # a finished run whose result.json is missing is recorded from its logs, not trained
    (work / 'lesion' / 'pointwise' / 'result.json').unlink()
    again = subprocess.run(cmd + ['--runs'] + runs, cwd=repo_root, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and 'training (log' not in again.stdout
    assert json.loads(out.read_text())['runs'] == table['runs']
