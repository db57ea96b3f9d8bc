"""tools/analysis_tools/deeplesion_table7_mini.py: the Table VII rows in miniature, through
the real 2D-pretraining -> export -> init_cfg path."""
import importlib.util
import json
import os
import os.path as osp
import subprocess

import pytest
from mmengine.config import Config


@pytest.fixture(scope='module')
def table(repo_root):
    path = osp.join(repo_root, 'tools', 'analysis_tools', 'deeplesion_table7_mini.py')
    spec = importlib.util.spec_from_file_location('deeplesion_table7_mini', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_and_their_configs_differ_in_two_lines(table, repo_root):
    assert table.ROWS == ('2.5d_r', '2.5d_p', '3d_r', '3d_p', 'acs_r', 'acs_p')
    for row in table.ROWS:
        conv, init = row.split('_')
        cfg = Config.fromfile(osp.join(table.CONFIG_DIR, f'{conv}_maskrcnn_mini_{init}.py'))
        demo = Config.fromfile(osp.join(repo_root, 'configs', 'acs_maskrcnn_deeplesion_demo.py'))
        assert cfg.model.backbone.conv_type == conv
        if init == 'p':
            assert cfg.model.backbone.init_cfg == dict(
                type='Pretrained', checkpoint='work_dirs/deeplesion_table7_mini/pretrain_2d/'
                'densenet121_2d.pth')
        else:
            assert cfg.model.backbone.init_cfg is None
        cfg.model.backbone.conv_type = demo.model.backbone.conv_type
        cfg.model.backbone.init_cfg = demo.model.backbone.init_cfg
        assert cfg.model == demo.model and cfg.train_dataloader == demo.train_dataloader
        assert cfg.param_scheduler == demo.param_scheduler
    pre = Config.fromfile(osp.join(table.CONFIG_DIR, 'densenet2d_maskrcnn_keyslices.py'))
    assert pre.model.backbone.conv_type == '2.5d' and pre.model.backbone.num_slices == 1
    assert pre.train_dataloader.dataset.demo_cfg.distractors is False


def test_derived_config_scales_the_milestones(table, tmp_path):
    args = table.parse_args(['--seed', '3'])
    base = osp.join(table.CONFIG_DIR, 'acs_maskrcnn_mini_p.py')
    text = table.derived_config(base, 'acs_p', str(tmp_path / 'd'), dict(num_series=10), 4,
                                args, pretrained='/x/densenet121_2d.pth')
    path = tmp_path / 'acs_p.py'
    path.write_text(text)
    cfg = Config.fromfile(str(path))
    demo = Config.fromfile(base)
    step = [t for t in cfg.param_scheduler if t.type == 'MultiStepLR'][0]
    base_step = [t for t in demo.param_scheduler if t.type == 'MultiStepLR'][0]
    assert step.end == 4 and step.milestones == [
        max(1, round(m * 4 / demo.train_cfg.max_epochs)) for m in base_step.milestones]
    assert cfg.model.backbone.init_cfg.checkpoint == '/x/densenet121_2d.pth'
    assert cfg.test_evaluator.distractor_file == str(tmp_path / 'd') + '/distractors.json'
    assert cfg.randomness.seed == 3 and cfg.train_cfg.max_epochs == 4


@pytest.mark.slow
def test_tiny_table_end_to_end(repo_root, python_exe, tmp_path):
    tool = osp.join(repo_root, 'tools', 'analysis_tools', 'deeplesion_table7_mini.py')
    out = tmp_path / 'table.json'
    cmd = [python_exe, tool, '--work-dir', str(tmp_path / 'w'), '--out', str(out),
           '--rows', '2.5d_r', '3d_p', '--epochs', '1', '--pretrain-epochs', '1',
           '--num-series', '10', '--pretrain-series', '10', '--image-size', '64']
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert [r['row'] for r in data['rows']] == ['2.5d_r', '3d_p']
    for r in data['rows']:
        assert set(r['sens']) == {'0.5', '1', '2', '4', '8', '16'}
        assert 0 <= r['froc_mean'] <= 100 and r['num_slices'] == 3
        assert r['distractor_fp_per_image'] >= 0 and r['steps'] == 3  # 6 train images / 2
        assert r['wall_s'] > 0 and r['device']
    exported = tmp_path / 'w' / 'pretrain_2d' / 'densenet121_2d.pth'
    assert data['rows'][1]['pretrained'] == str(exported) and exported.is_file()
    # the 3D p. row loaded the exported file through init_cfg (I3D), as its log says
    log = (tmp_path / 'w' / '3d_p' / 'train.log').read_text()
    assert str(exported) in log
    md = out.with_suffix('.md').read_text()
    assert '| 3d p. |' in md and '63.6 / 74.6' not in md and '72.0 / 80.1' in md
    # done rows are not redone; a changed setting is refused
    stamp = os.stat(tmp_path / 'w' / '2.5d_r' / 'result.json').st_mtime_ns
    again = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0
    assert os.stat(tmp_path / 'w' / '2.5d_r' / 'result.json').st_mtime_ns == stamp
    changed = [c if c != '1' else '2' for c in cmd]  # --epochs 2 --pretrain-epochs 2
    refused = subprocess.run(changed, cwd=repo_root, capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode != 0
    assert 'was trained from another config' in refused.stderr
