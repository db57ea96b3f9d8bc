"""Dice metric for semantic segmentation of volumes (or images): Dice global and Dice per case.

* Dice global of class c: ``2 sum_i |P_i^c & G_i^c| / (sum_i |P_i^c| + sum_i |G_i^c|)``, the
  voxel counts summed over all cases first (the LiTS "Dice global", the ACS paper's LIDC and
  LiTS tables).
* Dice per case of class c: the mean over cases of ``2 |P^c & G^c| / (|P^c| + |G^c|)`` (LiTS
  "Dice per case").  A case with neither prediction nor ground truth of class c scores
  ``empty_score`` (1.0 by default, the LiTS convention; ``None`` leaves it out of the mean).

Written here because mmdet has no semantic-segmentation metric and mmseg's ``IoUMetric``
(not an acsdet dependency) has neither Dice per case nor the case grouping.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from acsdet.registry import METRICS
from acsdet.utils.segmentation_labels import IGNORE_INDEX

__all__ = ['DiceMetric']

_PRED_KEYS = ('pred_sem_seg', 'pred_seg')
_GT_KEYS = ('gt_sem_seg', 'gt_seg')


def _label_map(sample: dict, keys: Sequence[str], index: int) -> np.ndarray:
    for key in keys:
        if key in sample:
            value = sample[key]
            break
    else:
        raise KeyError(f'DiceMetric: data sample {index} has none of the keys {list(keys)}')
    if isinstance(value, dict):  # PixelData.to_dict()
        value = value['data']
    elif hasattr(value, 'data') and not isinstance(value, np.ndarray):  # PixelData
        value = value.data
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


@METRICS.register_module()
class DiceMetric(BaseMetric):
    """Registered Dice metric: Dice global and Dice per case, per class (+ optional IoU).

    Keys (with the default prefix ``dice``): ``dice/global/class_{c}``, ``dice/global/mean``,
    ``dice/per_case/class_{c}``, ``dice/per_case/mean`` for every reported class c, and with
    ``with_iou=True`` the same under ``dice/global_iou/...`` and ``dice/per_case_iou/...``.
    Means are over the reported classes; values are in [0, 1].

    Args:
        num_classes (int): Number of labels K, background (0) included.
        ignore_background (bool): Leave class 0 out of the report. Defaults to True.
        ignore_index (int | None): Ground-truth label left out (None: none).
            Defaults to :data:`~acsdet.utils.IGNORE_INDEX` (255).
        empty_score (float | None): Per-case score of a class absent from both prediction and
            ground truth; None leaves the case out of that class's mean. Defaults to 1.0.
        with_iou (bool): Also report IoU (Jaccard) global and per case. Defaults to False.
        case_key (str | None): Data-sample key naming the case (e.g. ``'case_id'`` or
            ``'img_path'``); samples with the same value (e.g. crops / slices of one volume)
            are summed into one case before Dice per case. None: every sample is a case.
            Defaults to ``'case_id'`` when present in the samples, else each sample is a case.
        collect_device (str): Defaults to 'cpu'.
        prefix (str | None): Defaults to 'dice'.
        collect_dir (str | None): See :class:`mmengine.evaluator.BaseMetric`.

    Data samples (``process``): dicts (or ``to_dict()`` of data elements) with a predicted
    label map under ``pred_sem_seg`` (or ``pred_seg``) and the ground truth under
    ``gt_sem_seg`` (or ``gt_seg``), each an array / tensor / ``PixelData`` / ``{'data': ...}``
    of the same shape, e.g. (D, H, W) or (1, D, H, W).
    """

    default_prefix: Optional[str] = 'dice'

    def __init__(self,
                 num_classes: int,
                 ignore_background: bool = True,
                 ignore_index: Optional[int] = IGNORE_INDEX,
                 empty_score: Optional[float] = 1.0,
                 with_iou: bool = False,
                 case_key: Optional[str] = 'case_id',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        if int(num_classes) < (2 if ignore_background else 1):
            raise ValueError(f'DiceMetric: num_classes must be >= 2 with ignore_background, '
                             f'got {num_classes}')
        self.num_classes = int(num_classes)
        self.ignore_background = ignore_background
        self.ignore_index = ignore_index
        self.empty_score = empty_score
        self.with_iou = with_iou
        self.case_key = case_key

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep per-sample voxel counts (intersection, prediction, ground truth per class).

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): See the class docstring.
        """
        K = self.num_classes
        for sample in data_samples:
            if hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            index = len(self.results)
            pred = _label_map(sample, _PRED_KEYS, index)
            gt = _label_map(sample, _GT_KEYS, index)
            if pred.shape != gt.shape:
                raise ValueError(f'DiceMetric: data sample {index}: prediction shape '
                                 f'{pred.shape} != ground truth shape {gt.shape}')
            pred = pred.reshape(-1).astype(np.int64)
            gt = gt.reshape(-1).astype(np.int64)
            if self.ignore_index is not None:
                valid = gt != self.ignore_index
                pred, gt = pred[valid], gt[valid]
            for name, labels in (('prediction', pred), ('ground truth', gt)):
                if labels.size and (labels.min() < 0 or labels.max() >= K):
                    raise ValueError(f'DiceMetric: data sample {index}: {name} labels must lie '
                                     f'in [0, {K}), got range [{labels.min()}, {labels.max()}]')
            case = sample.get(self.case_key) if self.case_key else None
            self.results.append(dict(
                case=('#sample', index) if case is None else case,
                inter=np.bincount(gt[pred == gt], minlength=K),
                pred=np.bincount(pred, minlength=K),
                gt=np.bincount(gt, minlength=K)))

    @staticmethod
    def _ratio(num: np.ndarray, den: np.ndarray, empty: Optional[float]) -> np.ndarray:
        out = np.full(num.shape, np.nan if empty is None else float(empty))
        np.divide(num, den, out=out, where=den > 0)
        return out

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Dice global / per case of the collected counts.

        Args:
            results (list[dict]): From :meth:`process`, gathered over all ranks.

        Returns:
            dict: See the class docstring (BaseMetric adds the prefix).
        """
        cases: 'OrderedDict' = OrderedDict()
        for r in results:  # sum the samples of one case
            acc = cases.setdefault(r['case'], dict(inter=0, pred=0, gt=0))
            for key in ('inter', 'pred', 'gt'):
                acc[key] = acc[key] + r[key]
        K = self.num_classes
        if cases:
            inter = np.stack([c['inter'] for c in cases.values()]).astype(np.float64)
            pred = np.stack([c['pred'] for c in cases.values()]).astype(np.float64)
            gt = np.stack([c['gt'] for c in cases.values()]).astype(np.float64)
        else:
            inter = pred = gt = np.zeros((0, K))
        classes = list(range(1 if self.ignore_background else 0, K))
        scores = OrderedDict()
        scores['global'] = self._ratio(2 * inter.sum(0), pred.sum(0) + gt.sum(0), None)
        scores['per_case'] = self._ratio(2 * inter, pred + gt, self.empty_score)
        if self.with_iou:
            union = pred + gt - inter
            scores['global_iou'] = self._ratio(inter.sum(0), union.sum(0), None)
            scores['per_case_iou'] = self._ratio(inter, union, self.empty_score)
        metrics = OrderedDict()
        for name, value in scores.items():
            if value.ndim == 2:  # (cases, K) -> mean over cases, ignoring excluded cases
                with np.errstate(invalid='ignore'):
                    count = (~np.isnan(value)).sum(0)
                    value = np.where(count > 0, np.nansum(value, 0) / np.maximum(count, 1),
                                     np.nan)
            per_class = [float(value[c]) for c in classes]
            for c, v in zip(classes, per_class):
                metrics[f'{name}/class_{c}'] = v
            valid = [v for v in per_class if not np.isnan(v)]
            metrics[f'{name}/mean'] = float(np.mean(valid)) if valid else float('nan')
        print_log(f'DiceMetric over {len(cases)} cases: ' +
                  ', '.join(f'{k}={v:.4f}' for k, v in metrics.items()), logger='current')
        return dict(metrics)
