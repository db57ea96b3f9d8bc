"""ROC AUC, accuracy, sensitivity and specificity of a binary classifier (the ACS paper's LIDC
malignancy AUC, Table V), from the ``pred_score`` / ``gt_label`` of each data sample.

The arithmetic is scikit-learn's (``roc_auc_score``, ``roc_curve``:
:func:`acsdet.evaluation.functional.binary_roc`); this class only gathers the scores of an
mmengine evaluation and keeps the curve for :class:`acsdet.engine.hooks.ROCCurveHook`.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from acsdet.evaluation.functional import ROCResult, binary_roc
from acsdet.registry import METRICS

__all__ = ['BinaryClsMetric']


def _value(sample: dict, key: str, index: int):
    if key not in sample:
        raise KeyError(f'BinaryClsMetric: data sample {index} has no {key!r} (keys: '
                       f'{sorted(sample)})')
    value = sample[key]
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64).reshape(-1)


@METRICS.register_module()
class BinaryClsMetric(BaseMetric):
    """Binary classification metrics: keys (default prefix ``cls``) ``cls/auc``,
    ``cls/accuracy``, ``cls/sensitivity``, ``cls/specificity`` (at ``threshold``), in [0, 1].

    Each data sample needs ``pred_score``: the positive class's probability (a scalar), or the
    probabilities of the classes (the last, index ``positive_index``, is taken), and
    ``gt_label`` 0 / 1 (:class:`acsdet.models.classifiers.VolumeClassifier` writes both).
    With one class only in the ground truth the AUC is nan (said in the log).

    Args:
        threshold (float): Positive when the score is >= this. Defaults to 0.5.
        positive_index (int): The positive class in a vector ``pred_score``. Defaults to 1.
        collect_device (str): Defaults to 'cpu'.
        prefix (str | None): Defaults to 'cls'.

    Attributes:
        last_result (ROCResult | None): The curve of the last evaluation (for the hook).
        num_evaluations (int): Evaluations so far.
    """

    default_prefix: Optional[str] = 'cls'

    def __init__(self, threshold: float = 0.5, positive_index: int = 1,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0 <= threshold <= 1:
            raise ValueError(f'BinaryClsMetric: threshold must be in [0, 1], got {threshold}')
        self.threshold, self.positive_index = float(threshold), int(positive_index)
        self.last_result: Optional[ROCResult] = None
        self.num_evaluations = 0

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for i, sample in enumerate(data_samples):
            if not isinstance(sample, dict):
                sample = sample.to_dict()
            score = _value(sample, 'pred_score', i)
            if score.size > 1:
                if not 0 <= self.positive_index < score.size:
                    raise ValueError(f'BinaryClsMetric: positive_index {self.positive_index} '
                                     f'outside the {score.size} class scores of sample {i}')
                score = score[self.positive_index:self.positive_index + 1]
            label = _value(sample, 'gt_label', i)
            if label.size != 1:
                raise ValueError(f'BinaryClsMetric: gt_label of sample {i} must be one value, '
                                 f'got {label.size}')
            self.results.append((float(score[0]), int(label[0])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        scores = np.array([r[0] for r in results])
        labels = np.array([r[1] for r in results])
        result = binary_roc(labels, scores, self.threshold)
        if not np.isfinite(result.auc):
            print_log(f'BinaryClsMetric: the ground truth holds one class only '
                      f'({result.num_pos} positive, {result.num_neg} negative): AUC is nan',
                      logger='current')
        self.last_result = result
        self.num_evaluations += 1
        return dict(auc=result.auc, accuracy=result.accuracy, sensitivity=result.sensitivity,
                    specificity=result.specificity)
