"""The Dice of the ACS paper's Table IV as the authors computed it, next to the text's
definition and Dice per case, from the same predictions.

The authors' ``train_3d.py`` (M3DV/ACSConv ``experiments/poc/``, with ``mylib/metrics.py``)
scores the test set in batches of 20 volumes: per batch and class,
``2 |P & G| / (|P| + |G| + 1e-8)`` with the voxels of the whole batch pooled (a class neither
present nor predicted in a batch scores 0), averaged over the batches weighted by their
size, then averaged over the classes ``1:`` of their channel order (cone, pyramid, cube,
cylinder, ball, background): pyramid, cube, cylinder, ball **and background**, cone left out.
IoU likewise.  The paper's text calls the figure "averaged on the 5 foreground classes".

With this project's labels (0 background, 1 sphere (their ball), 2 cube, 3 cylinder, 4 cone,
5 pyramid) the authors' classes are ``(0, 1, 2, 3, 5)``.

Keys (prefix ``dice``), all in [0, 1]:

* ``dice/authors/mean`` and ``dice/authors/class_{c}``, ``dice/authors_iou/...``: the
  authors' figure;
* everything :class:`DiceMetric` reports with ``with_iou=True``, over the foreground classes
  1-5: ``dice/global/mean`` (the text's definition, Dice global), ``dice/per_case/mean``,
  ``dice/global_iou/mean``, ``dice/per_case_iou/mean``.

Written here because the authors' pooling per test batch is their own rule: no library has it.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from acsdet.registry import METRICS
from acsdet.utils.segmentation_labels import IGNORE_INDEX

from .dice_metric import DiceMetric

__all__ = ['PocTableDiceMetric', 'authors_batch_dice']

#: The authors' Table IV classes in this project's POC labels: all but cone (4).
AUTHORS_POC_CLASSES = (0, 1, 2, 3, 5)
_EPS = 1e-8


def authors_batch_dice(inter: np.ndarray, pred: np.ndarray, gt: np.ndarray,
                       batch: int) -> Dict[str, np.ndarray]:
    """Per-class Dice and IoU pooled per batch of ``batch`` consecutive samples.

    Args:
        inter, pred, gt (ndarray): (N, K) voxel counts per sample and class: intersection,
            prediction, ground truth.
        batch (int): Samples per batch (the last batch may be smaller).

    Returns:
        dict: ``dice`` and ``iou``, (K,) each: per batch ``2 I / (P + G + 1e-8)`` and
        ``I / (P + G - I + 1e-8)`` of the pooled counts, averaged over the batches weighted
        by their number of samples.
    """
    n = inter.shape[0]
    if n == 0:
        k = inter.shape[1] if inter.ndim == 2 else 0
        return dict(dice=np.full(k, np.nan), iou=np.full(k, np.nan))
    dice, iou, weights = [], [], []
    for lo in range(0, n, batch):
        i, p, g = (a[lo:lo + batch].sum(0) for a in (inter, pred, gt))
        dice.append(2 * i / (p + g + _EPS))
        iou.append(i / (p + g - i + _EPS))
        weights.append(min(batch, n - lo))
    w = np.asarray(weights, np.float64)[:, None]
    return dict(dice=(np.stack(dice) * w).sum(0) / w.sum(),
                iou=(np.stack(iou) * w).sum(0) / w.sum())


@METRICS.register_module()
class PocTableDiceMetric(DiceMetric):
    """Table IV's Dice three ways: the authors' figure, Dice global, Dice per case (+ IoU).

    Args:
        num_classes (int): Labels K, background (0) included. Defaults to 6 (the 3D POC).
        authors_classes (Sequence[int]): Labels averaged in the authors' figure. Defaults to
            ``(0, 1, 2, 3, 5)`` (module docstring).
        authors_batch (int): Samples pooled per batch in the authors' figure, in the order
            the samples are processed (an unshuffled test loader). Defaults to 20.
        ignore_index (int | None): As :class:`DiceMetric`. Defaults to 255.
        empty_score (float | None): As :class:`DiceMetric` (Dice per case only).
            Defaults to 1.0.
        collect_device, prefix, collect_dir: See :class:`mmengine.evaluator.BaseMetric`.

    Data samples: as :class:`DiceMetric`; every sample is one case.
    """

    def __init__(self,
                 num_classes: int = 6,
                 authors_classes: Sequence[int] = AUTHORS_POC_CLASSES,
                 authors_batch: int = 20,
                 ignore_index: Optional[int] = IGNORE_INDEX,
                 empty_score: Optional[float] = 1.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(num_classes, ignore_background=True, ignore_index=ignore_index,
                         empty_score=empty_score, with_iou=True, case_key=None,
                         collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        classes = [int(c) for c in authors_classes]
        bad = [c for c in classes if not 0 <= c < self.num_classes]
        if not classes or bad:
            raise ValueError(f'PocTableDiceMetric: authors_classes must be labels in '
                             f'[0, {self.num_classes}), got {list(authors_classes)}')
        if int(authors_batch) < 1:
            raise ValueError(f'PocTableDiceMetric: authors_batch must be >= 1, got '
                             f'{authors_batch}')
        self.authors_classes = tuple(classes)
        self.authors_batch = int(authors_batch)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """The authors' figure (pooled per batch, in sample order), then DiceMetric's keys."""
        K = self.num_classes
        counts = {key: (np.stack([r[key] for r in results]).astype(np.float64) if results
                        else np.zeros((0, K))) for key in ('inter', 'pred', 'gt')}
        scores = authors_batch_dice(counts['inter'], counts['pred'], counts['gt'],
                                    self.authors_batch)
        metrics = OrderedDict()
        for name, key in (('authors', 'dice'), ('authors_iou', 'iou')):
            for c in self.authors_classes:
                metrics[f'{name}/class_{c}'] = float(scores[key][c])
            metrics[f'{name}/mean'] = float(np.mean([scores[key][c]
                                                     for c in self.authors_classes]))
        print_log(f'PocTableDiceMetric over {len(results)} samples, batches of '
                  f'{self.authors_batch}: authors Dice {metrics["authors/mean"]:.4f}, '
                  f'mIoU {metrics["authors_iou/mean"]:.4f}', logger='current')
        metrics.update(super().compute_metrics(results))
        return dict(metrics)
