"""Plot the ROC curve of every evaluation of a run."""
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from acsdet.evaluation.functional import plot_roc_curve
from acsdet.evaluation.metrics import BinaryClsMetric
from acsdet.registry import HOOKS

__all__ = ['ROCCurveHook']


@HOOKS.register_module()
class ROCCurveHook(Hook):
    """Write and log the ROC curve computed by :class:`acsdet.evaluation.BinaryClsMetric`.

    After each validation (and test) the hook draws the curve of every ``BinaryClsMetric``
    of the loop's evaluator to ``<work_dir>/roc/<prefix>_epoch_<e>.png``
    (``<prefix>_iter_<i>`` with ``by_epoch=False``, ``<prefix>_test.png`` for the test loop)
    and pushes the image to the runner's visualizer backends under ``<prefix>_roc_curve``.
    The counterpart of :class:`FROCCurveHook` (the metric knows neither the work dir nor the
    step; the hook has the runner).

    Args:
        by_epoch (bool): Name validation plots by epoch (else by iteration). Defaults to True.
        out_dir (str, optional): Folder of the PNGs. Defaults to ``<work_dir>/roc``.
        push_to_visualizer (bool): Send the images to ``runner.visualizer``. Defaults to True.
    """
    priority = 'LOW'

    def __init__(self, by_epoch: bool = True, out_dir: Optional[str] = None,
                 push_to_visualizer: bool = True) -> None:
        self.by_epoch = by_epoch
        self.out_dir = out_dir
        self.push_to_visualizer = push_to_visualizer
        self._seen: Dict[int, int] = {}

    def _plot(self, runner, evaluator, tag: str, label: str, step: int) -> None:
        if not is_main_process():
            return
        out_dir = self.out_dir or osp.join(runner.work_dir, 'roc')
        for metric in getattr(evaluator, 'metrics', []):
            if not isinstance(metric, BinaryClsMetric) or metric.last_result is None or \
                    self._seen.get(id(metric)) == metric.num_evaluations:
                continue
            self._seen[id(metric)] = metric.num_evaluations
            name = metric.prefix or 'cls'
            out_file = osp.join(out_dir, f'{name}_{tag}.png')
            image = plot_roc_curve(metric.last_result, out_file=out_file,
                                   title=f'{name}: {label}')
            if self.push_to_visualizer:
                runner.visualizer.add_image(f'{name}_roc_curve', image, step=step)
            print_log(f'ROC curve written to {out_file}', logger='current')

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        """Plot the validation curves (args as :meth:`mmengine.hooks.Hook.after_val_epoch`)."""
        if self.by_epoch:
            tag, label = f'epoch_{runner.epoch}', f'epoch {runner.epoch}'
        else:
            tag, label = f'iter_{runner.iter}', f'iter {runner.iter}'
        self._plot(runner, runner.val_loop.evaluator, tag, label, runner.iter)

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        """Plot the test curves (args as :meth:`mmengine.hooks.Hook.after_test_epoch`)."""
        self._plot(runner, runner.test_loop.evaluator, 'test', 'test', runner.iter)
