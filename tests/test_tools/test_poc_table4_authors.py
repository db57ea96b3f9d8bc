"""tools/analysis_tools/poc_table4.py --protocol authors: Table IV in the authors' protocol."""
import importlib.util
import json
import os
import os.path as osp
import signal
import subprocess
import time

import pytest


@pytest.fixture(scope='module')
def authors(repo_root):
    path = osp.join(repo_root, 'tools', 'analysis_tools', 'poc_table4_authors.py')
    spec = importlib.util.spec_from_file_location('poc_table4_authors', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sizes_scale_and_explicit_options(authors):
    full = authors.sizes(authors.parse_args([]))
    assert full == dict(n2d=(10000, 2000), n3d=(100, 200), epochs_2d=50, epochs_3d=50,
                        widths=(64, 128), decoder_widths=(64, 32), batch_2d=64, batch_3d=4)
    half = authors.sizes(authors.parse_args(['--scale', '0.5', '--epochs-3d', '7']))
    assert half['n3d'] == (50, 100) and half['epochs_2d'] == 25 and half['epochs_3d'] == 7
    assert half['widths'] == (32, 64) and half['decoder_widths'] == (32, 16)
    small = authors.sizes(authors.parse_args(['--width-scale', '0.25', '--n3d', '3', '2']))
    assert small['widths'] == (16, 32) and small['n3d'] == (3, 2) and small['n2d'] == (10000,
                                                                                        2000)
    for bad in (['--scale', '0'], ['--scale', 'nan'], ['--epochs-3d', '0'], ['--n2d', '1']):
        with pytest.raises(SystemExit):
            authors.parse_args(bad)


def test_derived_configs_are_the_authors_rows(authors, tmp_path):
    from mmengine.config import Config
    args = authors.parse_args(['--width-scale', '0.25', '--epochs-2d', '6', '--seed', '3'])
    size = authors.sizes(args)
    cfgs = {}
    for row in authors.ROWS:
        path = tmp_path / f'{authors.row_dir_name(row)}.py'
        path.write_text(authors.derived_config(row, size, str(tmp_path / 'data'),
                                               str(tmp_path / 'w'), args))
        cfgs[row] = Config.fromfile(str(path))
    c2d = cfgs['unet2d']
    assert c2d.model.network.type == 'PocUNet2D' and c2d.model.network.num_classes == 3
    assert c2d.model.network.widths == (16, 32) and c2d.model.network.decoder_widths == (16, 8)
    assert c2d.optim_wrapper.optimizer == dict(type='SGD', lr=0.01, momentum=0.9,
                                               weight_decay=1e-4)
    assert c2d.param_scheduler[0].milestones == [3] and c2d.train_cfg.max_epochs == 6
    assert c2d.train_dataloader.batch_size == 64
    assert c2d.train_dataloader.dataset.data_root == str(tmp_path / 'data' / 'poc_2d') + '/'
    assert c2d.val_evaluator.authors_classes == (0, 1) and c2d.randomness.seed == 3
    conv = {row: c.model.network.conv_type for row, c in cfgs.items() if row != 'unet2d'}
    assert conv == {'ACS p.': 'acs', 'ACS r.': 'acs', '3D r.': '3d', '2.5D r.': '2.5d',
                    '2.5D p.': '2.5d'}
    for row, cfg in cfgs.items():
        if row == 'unet2d':
            continue
        net = cfg.model.network
        assert net.unet.type == 'PocUNet2D' and net.unet.num_classes == 6
        assert net.unet.widths == (16, 32) and net.i3d_inflate is False
        assert cfg.model.loss == dict(type='SoftDiceLoss', smooth=1e-2, ignore_background=False,
                                      skip_absent=True, batch_dice=True, loss_name='loss_dice')
        assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-3)
        assert cfg.param_scheduler == [] and cfg.train_cfg.max_epochs == 50
        assert cfg.train_cfg.val_interval == 1  # the test split every epoch (their protocol)
        assert cfg.train_dataloader.batch_size == 4 and cfg.val_dataloader.batch_size == 20
        assert cfg.val_evaluator.type == 'PocTableDiceMetric'
        assert cfg.default_hooks.checkpoint.interval == 1  # resumable within the row
        init = net.get('init_cfg')
        if row.endswith('p.'):
            assert init == dict(type='Pretrained', skip=('classifier', ),
                                checkpoint=str(tmp_path / 'w' / 'unet2d_best.pth'))
        elif row == '3D r.':
            assert init == dict(type='Kaiming', layer='Conv3d', a=0, mode='fan_in',
                                nonlinearity='leaky_relu', distribution='uniform')
        else:
            assert init is None


def _row(name, dice, mauc):
    return dict(name=name, dice_authors=dice, mauc=mauc)


def test_checks_follow_the_issue(authors):
    paper = {row: _row(row, v[1], v[0]) for row, v in authors.PAPER.items()}
    assert all(c['holds'] for c in authors.checks(paper))
    names = [c['check'] for c in authors.checks(paper)]
    assert names[5:] == ['|ACS r. - 3D r.| <= 2', 'mAUC ACS p. > 2.5D p.',
                         'mAUC 2.5D p. > 3D r.', 'mAUC 2.5D p. > 2.5D r.',
                         'mAUC 2.5D p. > ACS r.']
    paper['3D r.'] = _row('3D r.', 90.0, 90.0)
    failed = {c['check']: c['value'] for c in authors.checks(paper) if not c['holds']}
    assert failed == {"3D r. Dice within 2 of the paper's 94.6": -4.6,
                      '|ACS r. - 3D r.| <= 2': 4.7, 'mAUC 2.5D p. > 3D r.': -4.9}


def test_row_needs_the_2d_run_and_a_changed_config_is_refused(authors, tmp_path):
    args = authors.parse_args(['--work-dir', str(tmp_path)])
    size = authors.sizes(args)
    with pytest.raises(FileNotFoundError, match=r'ACS p. needs the 2D pretraining: .*'
                       r'unet2d_best.pth missing \(run with --rows unet2d first\)'):
        authors.run_row('ACS p.', size, args, str(tmp_path / 'data'), str(tmp_path))
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'acs_r').mkdir()
    (tmp_path / 'configs' / 'acs_r.py').write_text('# another size\n')
    with pytest.raises(RuntimeError, match=r'ACS r.: .*acs_r was trained from another config '
                       r'than .*acs_r.py would now be .*--force starts the row again'):
        authors.run_row('ACS r.', size, args, str(tmp_path / 'data'), str(tmp_path))


def test_run_rows_runs_jobs_at_a_time_and_p_rows_after_unet2d(authors):
    import threading
    lock = threading.Lock()
    state = dict(now=0, peak=0)
    events = []

    def run_one(row):
        with lock:
            state['now'] += 1
            state['peak'] = max(state['peak'], state['now'])
            events.append(('start', row))
        time.sleep(0.15 if row == 'unet2d' else 0.05)
        with lock:
            state['now'] -= 1
            events.append(('end', row))
        return dict(name=row)

    todo = list(authors.ROWS)
    results = authors.run_rows(todo, 2, run_one)
    assert results == {row: dict(name=row) for row in todo}
    assert state['peak'] == 2  # two at a time, never more
    starts = [row for kind, row in events if kind == 'start']
    end_2d = events.index(('end', 'unet2d'))
    for row in authors.PRETRAINED_ROWS:  # the p. rows wait for the 2D pretraining
        assert events.index(('start', row)) > end_2d
    assert starts[:2] == ['unet2d', 'ACS r.']  # ACS p. waits, the next row takes the slot
    # one at a time: the table's order exactly
    events.clear()
    authors.run_rows(todo, 1, run_one)
    assert [row for kind, row in events if kind == 'start'] == todo
    # without unet2d to do (already done), the p. rows start at once
    events.clear()
    authors.run_rows(['ACS p.', 'ACS r.'], 2, run_one)
    assert [kind for kind, _ in events[:2]] == ['start', 'start']


def test_resume_order_puts_half_trained_rows_first(authors, tmp_path):
    todo = ['ACS p.', 'ACS r.', '3D r.', '2.5D r.', '2.5D p.']
    assert authors.resume_order(todo, str(tmp_path), False) == todo
    for row in ('3D r.', '2.5D p.'):
        (tmp_path / authors.row_dir_name(row)).mkdir()
        (tmp_path / authors.row_dir_name(row) / 'last_checkpoint').write_text('x')
    (tmp_path / 'acs_r').mkdir()  # a folder without a checkpoint is not started
    assert authors.resume_order(todo, str(tmp_path), False) == [
        '3D r.', '2.5D p.', 'ACS p.', 'ACS r.', '2.5D r.']
    assert authors.resume_order(todo, str(tmp_path), True) == todo


def test_run_rows_stops_starting_after_a_failure(authors):
    started = []

    def run_one(row):
        started.append(row)
        if row == 'ACS r.':
            raise RuntimeError('poc_table4: ACS r. training failed')
        time.sleep(0.05)
        return dict(name=row)

    with pytest.raises(RuntimeError, match='ACS r. training failed'):
        authors.run_rows(['ACS r.', '3D r.', '2.5D r.', '2.5D p.'], 1, run_one)
    assert started == ['ACS r.']


@pytest.mark.slow
def test_whole_table_tiny_with_a_row_killed_and_resumed(tmp_path, repo_root, python_exe):
    work = tmp_path / 'work'
    cmd = [python_exe, 'tools/analysis_tools/poc_table4.py', '--protocol', 'authors',
           '--work-dir', str(work), '--n2d', '64', '64', '--n3d', '4', '20', '--epochs-2d', '3',
           '--epochs-3d', '1', '--width-scale', '0.0625', '--threads', '1',
           '--out', str(tmp_path / 'out' / 't4.json')]
    # the 2D row, killed once its first epoch's checkpoint is there
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(cmd + ['--rows', 'unet2d'], cwd=repo_root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 300
    while not (work / 'unet2d' / 'epoch_1.pth').exists():
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (work / 'unet2d' / 'result.json').exists()
    # the rest two rows at a time (the p. rows after the resumed 2D row)
    done = subprocess.run(cmd + ['--jobs', '2'], cwd=repo_root, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert done.stdout.index('unet2d: Dice') < done.stdout.index('ACS p.: feature mAUC')
    stamps = sorted(d for d in os.listdir(work / 'unet2d') if (work / 'unet2d' / d).is_dir()
                    and d[0].isdigit())
    assert len(stamps) == 2  # the killed run and the resumed one
    resumed_log = (work / 'unet2d' / stamps[1] / f'{stamps[1]}.log').read_text()
    assert 'resumed epoch: 1' in resumed_log or 'resumed epoch: 2' in resumed_log
    result = json.loads((work / 'unet2d' / 'result.json').read_text())
    assert len(result['per_epoch_dice_authors']) == 3 and result['steps'] == 3
    assert osp.islink(work / 'unet2d_best.pth')
    table = json.loads((tmp_path / 'out' / 't4.json').read_text())
    names = [r['name'] for r in table['rows']]
    assert names == ['unet2d', 'ACS p.', 'ACS r.', '3D r.', '2.5D r.', '2.5D p.']
    for r in table['rows']:
        for key in ('dice_authors', 'dice_fg_global', 'dice_per_case', 'miou_authors',
                    'size_mb', 'steps', 'device'):
            assert r[key] is not None, (r['name'], key)
        if r['name'] != 'unet2d':
            assert 0 <= r['mauc_raw'] <= 100 and 50 <= r['mauc'] <= 100
    assert table['command'].startswith('tools/analysis_tools/poc_table4.py --protocol authors')
    md = (tmp_path / 'out' / 't4.md').read_text()
    assert '| ACS UNet p. |' in md and '| 88.1 | 95.4 | 92.0 | 1.6 Mb |' in md
    # a second call trains nothing and rewrites the same rows
    again = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and 'training (log' not in again.stdout
    assert json.loads((tmp_path / 'out' / 't4.json').read_text())['rows'] == table['rows']
    # a finished row whose result.json is missing is recorded from its logs, not trained
    (work / 'acs_r' / 'result.json').unlink()
    again = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert 'ACS r.: recording the finished training' in again.stdout
    assert 'training (log' not in again.stdout
    assert json.loads((tmp_path / 'out' / 't4.json').read_text())['rows'] == table['rows']


def test_train_seconds_reads_both_log_stamp_formats(authors, tmp_path):
    run = tmp_path / 'row'
    for stamp, lines in (('20261201_120000', ['2026/12/01 12:00:00 - mmengine - INFO - a',
                                              'not a log line',
                                              '2026/12/01 12:10:30 - mmengine - INFO - b']),
                         ('20261201_130000', ['12/01 13:00:00 - mmengine - INFO - c',
                                              '12/01 13:00:20 - mmengine - INFO - d'])):
        (run / stamp).mkdir(parents=True)
        (run / stamp / f'{stamp}.log').write_text('\n'.join(lines) + '\n')
    assert authors.train_seconds(str(run)) == 630 + 20  # the gap between runs not counted
    # a run paused for 2 h (SIGSTOP) between two lines: the pause is not training
    stamp = '20261201_150000'
    (run / stamp).mkdir()
    (run / stamp / f'{stamp}.log').write_text(
        '2026/12/01 15:00:00 - mmengine - INFO - e\n2026/12/01 15:01:30 - mmengine - INFO - f\n'
        '2026/12/01 17:01:30 - mmengine - INFO - g\n2026/12/01 17:02:00 - mmengine - INFO - h\n')
    assert authors.train_seconds(str(run)) == 630 + 20 + 90 + 30
    assert authors.log_stamp('x 12/01 13:00:00 - mmengine - ') is None
