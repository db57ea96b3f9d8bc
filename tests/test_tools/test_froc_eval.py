"""tools/froc_eval.py: CLI behaviour, and the same numbers as FROCMetric inside a Runner."""
import importlib.util
import json
import os.path as osp
import subprocess

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'froc_eval_tool', osp.join(REPO, 'tools', 'froc_eval.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _case(n_img=15, seed=1):
    """DeepLesion-style gt (two splits) and per-image predictions (numpy)."""
    rng = np.random.default_rng(seed)
    images, anns, preds = [], [], {}
    for i in range(n_img):
        images.append({'id': i + 1, 'file_name': f'{i}.png', 'split': 'test' if i < 12 else 'val',
                       'slice_interval': [1.0, 5.0, 2.5][i % 3]})
        gts = []
        for k in range(1 + i % 2):
            x, y, w, h = *rng.uniform(10, 80, 2), *rng.uniform(6, 30, 2)
            gts.append([x, y, x + w, y + h])
            anns.append({'id': len(anns) + 1, 'image_id': i + 1, 'bbox': [x, y, w, h],
                         'iscrowd': int(i % 5 == 4), 'noisy': int(i % 5 == 4),
                         'lesion_type': [4, 5, -1][(i + k) % 3],
                         'long_diameter_mm': float(rng.uniform(4, 45))})
        boxes = [np.array(g) + rng.normal(0, 1.5, 4) for g in gts]
        boxes += [np.concatenate([c, c + rng.uniform(6, 30, 2)])
                  for c in rng.uniform(0, 90, (6, 2))]
        boxes = np.array(boxes)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        preds[i + 1] = (boxes.astype(np.float32), rng.random(len(boxes)).astype(np.float32))
    coco = {'images': images, 'annotations': anns, 'categories': [{'id': 1, 'name': 'lesion'}]}
    return coco, preds


def _coco_results(preds):
    return [{'image_id': img_id, 'category_id': 1, 'score': float(s),
             'bbox': [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
            for img_id, (boxes, scores) in preds.items()
            for b, s in zip(boxes.astype(np.float64), scores)]


@pytest.fixture
def files(tmp_path):
    coco, preds = _case()
    gt = tmp_path / 'gt.json'
    gt.write_text(json.dumps(coco))
    res = tmp_path / 'res.json'
    res.write_text(json.dumps(_coco_results(preds)))
    return str(gt), str(res), preds


def test_help_lists_the_options(python_exe):
    proc = subprocess.run([python_exe, 'tools/froc_eval.py', '--help'], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for opt in ('GT_JSON', 'RESULTS', '--out-dir', '--iou-thr', '--hit-rule', '--noisy',
                '--split'):
        assert opt in proc.stdout


def test_cli_prints_table_writes_plot_and_metrics(files, tmp_path, capsys):
    gt, res, _ = files
    assert _tool().main([gt, res, '--out-dir', str(tmp_path / 'out')]) == 0
    out = capsys.readouterr().out
    assert out.startswith('FROC: 15 images, 18 lesions, 112 detections')
    assert 'type/liver' in out and 'interval/>=5mm' in out and 'size/<10mm' in out
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['froc.png',
                                                                    'froc_metrics.json']
    metrics = json.loads((tmp_path / 'out' / 'froc_metrics.json').read_text())
    assert list(metrics)[:7] == ['froc/sens@0.5', 'froc/sens@1', 'froc/sens@2', 'froc/sens@4',
                                 'froc/sens@8', 'froc/sens@16', 'froc/mean']
    assert metrics['froc/type/liver/count'] >= 1


def test_cli_options(files, tmp_path, capsys):
    gt, res, _ = files
    tool = _tool()

    def run(*extra):
        out = tmp_path / '_'.join(extra).replace('-', '')
        assert tool.main([gt, res, '--out-dir', str(out), '--no-plot', *extra]) == 0
        return json.loads((out / 'froc_metrics.json').read_text())

    base = run()
    assert run('--iou-thr', '0.2') != base
    assert run('--hit-rule', 'center') != base
    ignore = run('--noisy', 'ignore')
    assert ignore['froc/mean'] != base['froc/mean']
    capsys.readouterr()
    assert run('--split', 'test') != base
    assert capsys.readouterr().out.startswith('FROC: 12 images')
    custom = run('--fp-rates', '1', '3', '--mean-fp-rates', '1')
    assert [k for k in custom if k.count('/') == 1] == ['froc/sens@1', 'froc/sens@3',
                                                        'froc/mean']


def test_cli_bad_input_one_line_errors(files, tmp_path, capsys):
    gt, res, _ = files
    tool = _tool()
    assert tool.main([gt, str(tmp_path / 'missing.json')]) == 1
    err = capsys.readouterr().err
    assert err == f'froc_eval.py: error: results file not found: {tmp_path / "missing.json"}\n'
    bad = tmp_path / 'bad.json'
    bad.write_text('[{"image_id": 1,')
    assert tool.main([gt, str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'froc_eval.py: error: {bad}: not valid json') and err.count('\n') == 1
    stray = tmp_path / 'stray.json'
    stray.write_text(json.dumps([{'image_id': 77, 'bbox': [0, 0, 1, 1], 'score': 0.5}]))
    assert tool.main([gt, str(stray)]) == 1
    assert capsys.readouterr().err == (f'froc_eval.py: error: {stray}: 1 image ids are not in '
                                       'the ground truth, e.g. [77]\n')
    assert tool.main([str(tmp_path / 'nogt.json'), res]) == 1
    assert 'ground-truth file not found' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        tool.main([gt, res, '--hit-rule', 'dice'])
    assert exc.value.code == 2


class _ReplayDetector:
    """Builds a model that returns fixed predictions per img_id (mmdet DetDataSamples)."""

    @staticmethod
    def build(preds):
        from mmdet.structures import DetDataSample
        from mmengine.model import BaseModel
        from mmengine.structures import InstanceData

        class Replay(BaseModel):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))

            def forward(self, inputs, data_samples=None, mode='tensor'):
                out = []
                for img_id in data_samples['img_id']:
                    boxes, scores = preds[int(img_id)]
                    ds = DetDataSample(metainfo=dict(img_id=int(img_id), ori_shape=(128, 128)))
                    ds.pred_instances = InstanceData(
                        bboxes=torch.from_numpy(boxes), scores=torch.from_numpy(scores),
                        labels=torch.zeros(len(scores), dtype=torch.long))
                    out.append(ds)
                return out
        return Replay()


def test_runner_metric_equals_cli_on_json_and_pkl(files, tmp_path, capsys):
    """Runner.test() with FROCMetric + mmdet's DumpDetResults (what tools/test.py --out
    appends), then the CLI on the dumped .pkl and on the COCO results json."""
    from mmdet.evaluation import DumpDetResults
    from mmengine.runner import Runner
    gt, res, preds = files
    pkl = tmp_path / 'dump.pkl'
    runner = Runner(
        model=_ReplayDetector.build(preds), work_dir=str(tmp_path / 'work'),
        default_scope='acsdet',
        test_dataloader=dict(
            dataset=[{'inputs': torch.zeros(1), 'data_samples': {'img_id': i}} for i in preds],
            sampler=dict(type='DefaultSampler', shuffle=False), batch_size=4,
            collate_fn=dict(type='pseudo_collate')),
        test_cfg=dict(),
        test_evaluator=[dict(type='FROCMetric', ann_file=gt, breakdown_metrics='all'),
                        DumpDetResults(out_file_path=str(pkl))],
        custom_hooks=[dict(type='FROCCurveHook')])
    in_runner = runner.test()
    assert (tmp_path / 'work' / 'froc' / 'froc_test.png').is_file()
    tool = _tool()
    for results, out in ((res, 'cli_json'), (str(pkl), 'cli_pkl')):
        assert tool.main([gt, results, '--out-dir', str(tmp_path / out), '--no-plot']) == 0
        cli = json.loads((tmp_path / out / 'froc_metrics.json').read_text())
        assert set(cli) == set(in_runner)
        for k, v in in_runner.items():
            assert cli[k] == pytest.approx(v, abs=1e-9), k
