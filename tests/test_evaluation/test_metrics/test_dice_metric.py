"""DiceMetric against hand-computed Dice global / per case."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement, PixelData

from acsdet.evaluation.metrics import DiceMetric
from acsdet.registry import METRICS
from acsdet.utils import IGNORE_INDEX

# case A: class 1: I=1, |P|=1, |G|=2 -> 2/3; class 2: I=2, |P|=3, |G|=3 -> 2/3
GT_A, PRED_A = [0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0]
# case B: class 1: I=2, |P|=3, |G|=2 -> 4/5; class 2 absent from both
GT_B, PRED_B = [0, 0, 1, 1], [0, 1, 1, 1]


def _sample(pred, gt, **extra):
    return dict(pred_sem_seg=dict(data=torch.tensor(pred)), gt_sem_seg=dict(data=torch.tensor(gt)),
                **extra)


def _evaluate(metric, samples):
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_hand_computed_global_and_per_case():
    m = _evaluate(DiceMetric(num_classes=3, with_iou=True),
                  [_sample(PRED_A, GT_A), _sample(PRED_B, GT_B)])
    assert m['global/class_1'] == pytest.approx(6 / 8)          # I=3, |P|=4, |G|=4
    assert m['global/class_2'] == pytest.approx(4 / 6)          # I=2, |P|=3, |G|=3
    assert m['global/mean'] == pytest.approx((6 / 8 + 4 / 6) / 2)
    assert m['per_case/class_1'] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert m['per_case/class_2'] == pytest.approx((2 / 3 + 1.0) / 2)   # empty case scores 1
    assert m['per_case/mean'] == pytest.approx(((2 / 3 + 4 / 5) / 2 + (2 / 3 + 1) / 2) / 2)
    assert m['global_iou/class_1'] == pytest.approx(3 / 5)      # I / (|P| + |G| - I)
    assert m['global_iou/class_2'] == pytest.approx(2 / 4)
    assert m['per_case_iou/class_1'] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert 'global/class_0' not in m


def test_empty_score_none_and_background():
    m = _evaluate(DiceMetric(num_classes=3, empty_score=None, ignore_background=False),
                  [_sample(PRED_A, GT_A), _sample(PRED_B, GT_B)])
    assert m['per_case/class_2'] == pytest.approx(2 / 3)        # case B left out
    # class 0: case A I=1, |P|=2, |G|=1 -> 2/3; case B I=1, |P|=1, |G|=2 -> 2/3
    assert m['global/class_0'] == pytest.approx(4 / 6)
    m = _evaluate(DiceMetric(num_classes=2, empty_score=None), [_sample([0, 0], [0, 0])])
    assert math.isnan(m['global/class_1']) and math.isnan(m['per_case/class_1'])
    assert math.isnan(m['per_case/mean'])


def test_ignore_index_and_case_grouping():
    # the 255 voxels of case A are left out whatever is predicted there
    m1 = _evaluate(DiceMetric(num_classes=3), [_sample(PRED_A + [1, 2], GT_A + [255, 255])])
    m2 = _evaluate(DiceMetric(num_classes=3), [_sample(PRED_A, GT_A)])
    assert m1 == m2
    # case A split in two samples with one case_id is one case again
    split = [_sample(PRED_A[:3], GT_A[:3], case_id='A'), _sample(PRED_A[3:], GT_A[3:], case_id='A'),
             _sample(PRED_B, GT_B, case_id='B')]
    whole = [_sample(PRED_A, GT_A), _sample(PRED_B, GT_B)]
    assert _evaluate(DiceMetric(num_classes=3), split) == \
        _evaluate(DiceMetric(num_classes=3), whole)
    # without grouping the halves are cases of their own: half 1 of A predicts one class-2
    # voxel that is not in its gt (0), half 2 has I=2, |P|=2, |G|=3 (4/5), case B is empty (1)
    m = _evaluate(DiceMetric(num_classes=3, case_key=None), split)
    assert m['per_case/class_2'] == pytest.approx((0 + 4 / 5 + 1.0) / 3)


def test_default_ignore_index_leaves_out_ignored_voxels():
    """IGNORE_INDEX ground truth is left out by default, wherever it lies and whatever is
    predicted there; with ignore_index=None it is an out-of-range label."""
    metric = DiceMetric(num_classes=3)
    assert metric.ignore_index == IGNORE_INDEX
    gt = [IGNORE_INDEX] + GT_A[:3] + [IGNORE_INDEX] * 2 + GT_A[3:]
    pred = [2] + PRED_A[:3] + [0, 1] + PRED_A[3:]
    assert _evaluate(metric, [_sample(pred, gt), _sample(PRED_B, GT_B)]) == \
        _evaluate(DiceMetric(num_classes=3), [_sample(PRED_A, GT_A), _sample(PRED_B, GT_B)])
    with pytest.raises(ValueError, match=r'ground truth labels must lie in \[0, 3\), got '
                                         r'range \[0, 255\]'):
        DiceMetric(num_classes=3, ignore_index=None).process({}, [_sample(pred, gt)])


def test_registered_volumes_pixeldata_and_prefix():
    metric = METRICS.build(dict(type='DiceMetric', num_classes=3))
    evaluator = Evaluator(metric)
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 3, (1, 4, 5, 6))
    pred = gt.copy()
    pred[0, 0] = 0                                              # wipe one slice
    evaluator.process([dict(pred_sem_seg=BaseDataElement(data=torch.from_numpy(pred)),
                            gt_sem_seg=torch.from_numpy(gt))])
    out = evaluator.evaluate(1)
    for c in (1, 2):
        g, p = (gt == c).sum(), (pred == c).sum()
        expect = 2 * p / (g + p)                                # pred is a subset of gt
        assert out[f'dice/global/class_{c}'] == pytest.approx(expect)
        assert out[f'dice/per_case/class_{c}'] == pytest.approx(expect)
    assert set(out) == {'dice/global/class_1', 'dice/global/class_2', 'dice/global/mean',
                        'dice/per_case/class_1', 'dice/per_case/class_2', 'dice/per_case/mean'}


def test_pixel_data_2d():
    metric = DiceMetric(num_classes=3)
    metric.process({}, [BaseDataElement(
        pred_sem_seg=PixelData(data=torch.tensor(PRED_A).view(1, 2, 3)),
        gt_sem_seg=PixelData(data=torch.tensor(GT_A).view(1, 2, 3)))])
    m = metric.compute_metrics(metric.results)
    assert m['global/class_1'] == pytest.approx(2 / 3)
    assert m['global/class_2'] == pytest.approx(2 / 3)


def test_bad_samples():
    with pytest.raises(ValueError, match=r'data sample 0: prediction shape \(3,\) != '
                                         r'ground truth shape \(2,\)'):
        DiceMetric(num_classes=2).process({}, [_sample([0, 1, 1], [0, 1])])
    with pytest.raises(ValueError, match=r'data sample 0: prediction labels must lie in '
                                         r'\[0, 2\), got range \[0, 3\]'):
        DiceMetric(num_classes=2).process({}, [_sample([0, 3], [0, 1])])
    with pytest.raises(KeyError, match=r"data sample 0 has none of the keys \['gt_sem_seg', "
                                       r"'gt_seg'\]"):
        DiceMetric(num_classes=2).process({}, [dict(pred_seg=np.zeros(2))])
    with pytest.raises(ValueError, match='num_classes must be >= 2 with ignore_background'):
        DiceMetric(num_classes=1)
