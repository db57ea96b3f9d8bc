"""ROCCurveHook: one PNG per evaluation (and for the test loop) of every BinaryClsMetric,
pushed to the visualizer; nothing drawn twice for one evaluation."""
from types import SimpleNamespace

import numpy as np
import torch

from acsdet.engine.hooks import ROCCurveHook
from acsdet.evaluation.metrics import BinaryClsMetric


class _Visualizer:
    def __init__(self):
        self.images = []

    def add_image(self, name, image, step=0):
        self.images.append((name, image.shape, step))


def _evaluate(metric):
    metric.process(None, [dict(pred_score=torch.tensor([1 - s, s]), gt_label=y)
                          for s, y in ((0.2, 0), (0.7, 1), (0.6, 0), (0.9, 1))])
    metric.evaluate(4)
    return metric


def _evaluated_metric(prefix=None):
    return _evaluate(BinaryClsMetric(prefix=prefix))


def _runner(tmp_path, metrics):
    evaluator = SimpleNamespace(metrics=metrics)
    return SimpleNamespace(work_dir=str(tmp_path), epoch=3, iter=30, visualizer=_Visualizer(),
                           val_loop=SimpleNamespace(evaluator=evaluator),
                           test_loop=SimpleNamespace(evaluator=evaluator))


def test_curves_are_written_and_pushed_once(tmp_path):
    runner = _runner(tmp_path, [_evaluated_metric(), _evaluated_metric('malignancy')])
    hook = ROCCurveHook()
    hook.after_val_epoch(runner)
    assert (tmp_path / 'roc' / 'cls_epoch_3.png').is_file()
    assert (tmp_path / 'roc' / 'malignancy_epoch_3.png').is_file()
    assert [n for n, _, _ in runner.visualizer.images] == ['cls_roc_curve',
                                                          'malignancy_roc_curve']
    assert all(shape[2] == 3 and step == 30 for _, shape, step in runner.visualizer.images)
    hook.after_val_epoch(runner)  # the same evaluation: not drawn again
    assert len(runner.visualizer.images) == 2
    _evaluate(runner.val_loop.evaluator.metrics[0])  # a new evaluation
    hook.after_test_epoch(runner)
    assert (tmp_path / 'roc' / 'cls_test.png').is_file()
    assert len(runner.visualizer.images) == 3


def test_metrics_of_other_kinds_and_unevaluated_ones_are_ignored(tmp_path):
    runner = _runner(tmp_path, [SimpleNamespace(prefix='dice'), BinaryClsMetric()])
    ROCCurveHook(by_epoch=False, push_to_visualizer=False).after_val_epoch(runner)
    assert not (tmp_path / 'roc').exists() and runner.visualizer.images == []
    assert np.isfinite(_evaluated_metric().last_result.auc)
