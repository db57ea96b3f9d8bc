"""tools/analysis_tools/poc_table4.py: the 2D pretraining + the five Table IV runs."""
import importlib.util
import json
import os.path as osp
import subprocess

import pytest


@pytest.fixture(scope='module')
def table4(repo_root):
    spec = importlib.util.spec_from_file_location(
        'poc_table4', osp.join(repo_root, 'tools', 'analysis_tools', 'poc_table4.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(row, dice):
    return dict(row=row, dice=dice, miou=dice - 5, dice_global=dice - 1, size_mb=1.0,
                seconds=10.0)


def test_paper_figures_and_ordering_checks(table4):
    assert table4.PAPER_TABLE4['ACS p.'][:2] == (95.4, 92.0)
    assert table4.PAPER_TABLE4['2.5D p.'][:2] == (82.7, 73.3)
    assert [table4.row_dir_name(r) for r in table4.TABLE_ROWS] == [
        'acs_p', 'acs_r', '3d_r', '25d_r', '25d_p']
    paper = {row: _result(row, v[0]) for row, v in table4.PAPER_TABLE4.items()}
    checks = table4.ordering_checks(paper, tol=2.0)
    assert [c['check'] for c in checks] == [
        'ACS p. >= ACS r.', '|ACS r. - 3D r.| <= 2', 'ACS r. > 2.5D r.', '3D r. > 2.5D r.',
        'ACS p. > 2.5D p.']
    assert all(c['holds'] for c in checks)  # the paper's own figures pass its ordering
    paper['3D r.'] = _result('3D r.', 80.0)  # 3D below 2.5D: two checks fail
    failed = [c['check'] for c in table4.ordering_checks(paper, tol=2.0) if not c['holds']]
    assert failed == ['|ACS r. - 3D r.| <= 2', '3D r. > 2.5D r.']
    md = table4.table_markdown(paper, table4.ordering_checks(paper, tol=2.0))
    assert '| 3D UNet r. | 80.0 | 75.0 | 79.0 | 1.00 | 10 | 94.6 | 90.8 | 4.7 Mb |' in md
    assert md.endswith('* paper ordering reproduced: no\n')
    # two rows: one check, and the verdict says the others could not be made
    two = {row: paper[row] for row in ('ACS r.', '2.5D r.')}
    md = table4.table_markdown(two, table4.ordering_checks(two, tol=2.0))
    assert md.endswith('* paper ordering reproduced: yes on the 1 of 5 checks the rows allow\n')
    # only rows present are checked
    assert table4.ordering_checks({'ACS r.': _result('ACS r.', 90)}, 2.0) == []


def test_derived_config_sizes_the_poc_configs(table4, tmp_path):
    from mmengine.config import Config
    args = table4.parse_args(['--epochs-3d', '8', '--widths', '4', '8', '16', '--crop', '32',
                              '--batch-3d', '2'])
    path = tmp_path / 'acs_p.py'
    path.write_text(table4.derived_config('ACS p.', args, str(tmp_path / 'data'), '/x/e.pth'))
    cfg = Config.fromfile(str(path))
    assert cfg.model.network.conv_type == 'acs'
    assert cfg.model.network.unet.widths == (4, 8, 16)
    assert cfg.model.network.init_cfg == dict(type='Pretrained', checkpoint='/x/e.pth',
                                              skip=('classifier', ))
    assert cfg.train_dataloader.dataset.pipeline[1] == dict(type='RandomCropVolume',
                                                            crop_size=32)
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path / 'data' / 'poc_3d') + '/'
    assert cfg.val_dataloader.dataset.data_prefix == dict(img_path='test')
    assert cfg.param_scheduler[0].milestones == [4, 6] and cfg.train_cfg.max_epochs == 8
    assert [loss['loss_name'] for loss in cfg.model.loss] == ['loss_dice', 'loss_ce']
    # 2D run: paper-sized defaults, whole images
    args = table4.parse_args([])
    path.write_text(table4.derived_config('unet2d', args, str(tmp_path / 'data'), None))
    cfg = Config.fromfile(str(path))
    assert cfg.model.network.type == 'UNet2D' and cfg.model.network.num_classes == 3
    assert cfg.train_cfg.max_epochs == 100 and cfg.param_scheduler[0].milestones == [50, 75]
    assert cfg.train_dataloader.batch_size == 16
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline] == [
        'LoadVolumeFromFile', 'PackVolumeInputs']


def test_p_rows_need_the_2d_run(table4, tmp_path):
    args = table4.parse_args(['--work-dir', str(tmp_path)])
    with pytest.raises(FileNotFoundError, match=r'ACS p. needs the 2D pretraining: .*'
                       r'unet2d/result.json missing'):
        table4.run_row('ACS p.', args, str(tmp_path / 'data'), str(tmp_path))


@pytest.mark.slow
def test_table4_end_to_end_tiny(tmp_path, repo_root, python_exe):
    work = tmp_path / 'work'
    cmd = [python_exe, 'tools/analysis_tools/poc_table4.py', '--work-dir', str(work),
           '--n2d', '4', '2', '--n3d', '2', '1', '--epochs-2d', '1', '--epochs-3d', '1',
           '--batch-2d', '4', '--batch-3d', '2', '--widths', '4', '8', '--crop', '16',
           '--threads', '1']
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    table = (work / 'table4.md').read_text()
    assert table == proc.stdout[proc.stdout.index('| Model |'):]
    for row, paper in [('ACS UNet p.', '95.4 | 92.0 | 1.6 Mb'), ('ACS UNet r.', '94.7'),
                       ('3D UNet r.', '94.6 | 90.8 | 4.7 Mb'), ('2.5D UNet r.', '82.2'),
                       ('2.5D UNet p.', '82.7 | 73.3')]:
        assert f'| {row} |' in table and paper in table, row
    assert 'paper ordering reproduced:' in table
    content = json.loads((work / 'table4.json').read_text())
    results = content['results']
    assert sorted(results) == sorted(['unet2d', 'ACS p.', 'ACS r.', '3D r.', '2.5D r.',
                                      '2.5D p.'])
    # fp32 sizes: ACS = 2.5D (2D kernels reused), 3D larger (3x3x3 kernels)
    assert results['ACS r.']['size_mb'] == results['2.5D r.']['size_mb']
    assert results['3D r.']['size_mb'] > 2 * results['ACS r.']['size_mb']
    assert all(0 <= r['dice'] <= 100 and r['seconds'] > 0 for r in results.values())
    assert results['ACS p.']['checkpoint'].endswith('acs_p/epoch_1.pth')
    # the p. runs loaded the 2D checkpoint (classifier skipped)
    acs_p = (work / 'configs' / 'acs_p.py').read_text()
    assert results['unet2d']['checkpoint'] in acs_p and "('classifier',)" in acs_p

    # re-running does not train again (all rows done) and rewrites the same table
    before = (work / 'acs_r' / 'result.json').read_text()
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and 'training (log' not in proc.stdout
    assert (work / 'acs_r' / 'result.json').read_text() == before
    assert (work / 'table4.md').read_text() == table

    # a finished training whose result.json is missing (the script was stopped after the
    # training) is recorded from its log and checkpoint, not trained again
    (work / 'acs_r' / 'result.json').unlink()
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert 'training (log' not in proc.stdout and 'ACS r.: recorded the finished' in proc.stdout
    recovered = json.loads((work / 'acs_r' / 'result.json').read_text())
    first = json.loads(before)
    for key in ('dice', 'miou', 'dice_global', 'size_mb', 'checkpoint', 'config'):
        assert recovered[key] == first[key], key
    # from the log's timestamps, whole seconds: a tiny run on a quiet machine can read 0
    assert 0 <= recovered['seconds'] <= first['seconds'] + 2
    # ... but not when the settings changed: then it trains
    (work / 'acs_r' / 'result.json').unlink()
    proc = subprocess.run(cmd + ['--lr', '0.002', '--rows', 'ACS r.'],
                          cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and 'ACS r.: training (log' in proc.stdout
