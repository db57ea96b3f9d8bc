"""BinaryClsMetric and binary_roc against hand-computed AUCs (ties included)."""
import math

import pytest
import torch

from acsdet.evaluation.functional import binary_roc, plot_roc_curve
from acsdet.evaluation.metrics import BinaryClsMetric


def _auc_by_pairs(labels, scores):
    """The Mann-Whitney definition: P(score_pos > score_neg) + P(tie) / 2, over all pairs."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize('labels,scores,auc', [
    ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),           # one of 4 pairs wrong
    ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),             # all tied: half of every pair
    ([0, 0, 1, 1, 1], [0.2, 0.6, 0.6, 0.7, 0.9], 5.5 / 6),  # one tied pair counts 1/2
    ([1, 1, 0], [0.9, 0.8, 0.1], 1.0),
    ([1, 0], [0.2, 0.7], 0.0),
])
def test_auc_by_hand(labels, scores, auc):
    result = binary_roc(labels, scores)
    assert result.auc == pytest.approx(auc)
    assert result.auc == pytest.approx(_auc_by_pairs(labels, scores))
    assert result.fpr[0] == 0 and result.tpr[-1] == 1


def test_operating_point_at_the_threshold():
    r = binary_roc([0, 0, 0, 1, 1], [0.2, 0.5, 0.7, 0.4, 0.9], threshold=0.5)
    # positive when >= 0.5: predictions 0, 1, 1, 0, 1
    assert (r.num_pos, r.num_neg) == (2, 3)
    assert r.sensitivity == pytest.approx(0.5) and r.specificity == pytest.approx(1 / 3)
    assert r.accuracy == pytest.approx(2 / 5)


def test_one_class_and_bad_inputs():
    r = binary_roc([1, 1], [0.3, 0.8])
    assert math.isnan(r.auc) and math.isnan(r.specificity) and r.sensitivity == 0.5
    with pytest.raises(ValueError, match=r'labels must be 0 or 1, got \[0, 2\]'):
        binary_roc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match='1 non-finite scores'):
        binary_roc([0, 1], [0.1, float('nan')])
    with pytest.raises(ValueError, match='needs as many labels as scores'):
        binary_roc([0, 1], [0.1])


def test_metric_reads_data_samples_and_keeps_the_curve(tmp_path):
    metric = BinaryClsMetric()
    samples = [dict(pred_score=torch.tensor([1 - s, s]), gt_label=torch.tensor([y]))
               for s, y in ((0.1, 0), (0.4, 0), (0.35, 1), (0.8, 1))]
    metric.process(None, samples[:2])
    metric.process(None, [dict(pred_score=0.35, gt_label=1), samples[3]])  # scalar score
    out = metric.evaluate(4)
    assert out['cls/auc'] == pytest.approx(0.75)
    assert out['cls/accuracy'] == pytest.approx(0.75)
    assert out['cls/sensitivity'] == pytest.approx(0.5)
    assert out['cls/specificity'] == pytest.approx(1.0)
    assert metric.num_evaluations == 1 and metric.last_result.auc == pytest.approx(0.75)
    image = plot_roc_curve(metric.last_result, out_file=str(tmp_path / 'roc.png'))
    assert image.ndim == 3 and image.shape[2] == 3 and (tmp_path / 'roc.png').stat().st_size


def test_metric_errors():
    with pytest.raises(ValueError, match=r'threshold must be in \[0, 1\], got 2'):
        BinaryClsMetric(threshold=2)
    metric = BinaryClsMetric()
    with pytest.raises(KeyError, match="data sample 0 has no 'pred_score'"):
        metric.process(None, [dict(gt_label=1)])
    with pytest.raises(ValueError, match='positive_index 3 outside the 2 class scores of '
                       'sample 0'):
        BinaryClsMetric(positive_index=3).process(
            None, [dict(pred_score=torch.tensor([0.4, 0.6]), gt_label=0)])
    with pytest.raises(ValueError, match='gt_label of sample 0 must be one value, got 2'):
        metric.process(None, [dict(pred_score=0.5, gt_label=torch.tensor([0, 1]))])
