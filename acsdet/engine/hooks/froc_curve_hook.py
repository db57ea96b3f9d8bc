"""Plot the FROC curve of every evaluation of a run."""
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from acsdet.evaluation.functional import FROCCurve, plot_froc_curves, resample_curve
from acsdet.evaluation.metrics import FROCMetric
from acsdet.registry import HOOKS

__all__ = ['FROCCurveHook']


@HOOKS.register_module()
class FROCCurveHook(Hook):
    """Write and log the FROC curves computed by :class:`acsdet.evaluation.FROCMetric`.

    After each validation (and test) the hook takes the curve of every ``FROCMetric`` in
    the loop's evaluator, writes ``<work_dir>/froc/froc_epoch_<e>.png`` (``froc_iter_<i>``
    with ``by_epoch=False``, ``froc_test.png`` for the test loop; a metric with another
    prefix than 'froc' uses that prefix in the name) and pushes the image to the runner's
    visualizer backends (``vis_data/`` locally, TensorBoard, W&B... whatever the config
    lists) under ``<prefix>_curve``. With ``overlay=True`` it also keeps a resampled copy
    of every validation curve of the run and rewrites ``<work_dir>/froc/froc_all.png`` with
    all of them overlaid (oldest to newest). The history lives in memory: after a resume the
    overlay starts again from the resumed evaluation.

    Why a hook: the metric does not know the work dir or the training step; the hook has
    the runner.

    Args:
        by_epoch (bool): Name validation plots by epoch (else by iteration). Default True.
        out_dir (str, optional): Folder of the PNGs. Default ``<work_dir>/froc``.
        overlay (bool): Also write the overlay of all validation curves. Default True.
        push_to_visualizer (bool): Send the images to ``runner.visualizer``. Default True.
    """
    priority = 'LOW'

    def __init__(self, by_epoch: bool = True, out_dir: Optional[str] = None,
                 overlay: bool = True, push_to_visualizer: bool = True) -> None:
        self.by_epoch = by_epoch
        self.out_dir = out_dir
        self.overlay = overlay
        self.push_to_visualizer = push_to_visualizer
        self.history: Dict[str, List[Tuple[str, FROCCurve]]] = {}
        self._seen: Dict[int, int] = {}

    def _new_results(self, evaluator):
        for metric in getattr(evaluator, 'metrics', []):
            if not isinstance(metric, FROCMetric) or metric.last_result is None:
                continue
            if self._seen.get(id(metric)) == metric.num_evaluations:
                continue  # already plotted
            self._seen[id(metric)] = metric.num_evaluations
            yield metric

    def _plot(self, runner, evaluator, tag: str, label: str, step: int,
              keep_history: bool) -> None:
        if not is_main_process():
            return
        out_dir = self.out_dir or osp.join(runner.work_dir, 'froc')
        for metric in self._new_results(evaluator):
            name = metric.prefix or 'froc'
            curve = metric.last_result.overall
            out_file = osp.join(out_dir, f'{name}_{tag}.png')
            image = plot_froc_curves([(label, curve)], out_file=out_file,
                                     title=f'{name}: {label} ({metric.last_result.num_images} '
                                     f'images, {curve.num_lesions} lesions)')
            if self.push_to_visualizer:
                runner.visualizer.add_image(f'{name}_curve', image, step=step)
            print_log(f'FROC curve written to {out_file}', logger='current')
            if keep_history and self.overlay:
                hist = self.history.setdefault(name, [])
                hist.append((label, resample_curve(curve)))
                plot_froc_curves(hist, out_file=osp.join(out_dir, f'{name}_all.png'),
                                 title=f'{name}: all evaluations of the run')

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        """Plot the validation curves (args as :meth:`mmengine.hooks.Hook.after_val_epoch`)."""
        if self.by_epoch:
            tag, label = f'epoch_{runner.epoch}', f'epoch {runner.epoch}'
        else:
            tag, label = f'iter_{runner.iter}', f'iter {runner.iter}'
        self._plot(runner, runner.val_loop.evaluator, tag, label, runner.iter,
                   keep_history=True)

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        """Plot the test curves (args as :meth:`mmengine.hooks.Hook.after_test_epoch`)."""
        self._plot(runner, runner.test_loop.evaluator, 'test', 'test', runner.iter,
                   keep_history=False)
