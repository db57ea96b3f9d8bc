"""RegionDiceMetric: Dice of label unions (BraTS WT / TC / ET) against hand-computed values."""
import numpy as np
import pytest
import torch

from acsdet.evaluation.metrics import RegionDiceMetric
from acsdet.registry import METRICS
from acsdet.utils import IGNORE_INDEX


def _sample(pred, gt, case):
    return dict(pred_sem_seg=dict(data=torch.as_tensor(pred)),
                gt_sem_seg=dict(data=torch.as_tensor(gt)), case_id=case)


def test_brats_regions_hand_computed():
    # labels: 1 necrotic core, 2 oedema, 3 enhancing
    gt = np.array([0, 1, 2, 3, 3, 2, 0, 0])
    pred = np.array([0, 3, 2, 3, 0, 0, 2, 1])
    metric = METRICS.build(dict(type='RegionDiceMetric'))
    metric.dataset_meta = {}
    metric.process(None, [_sample(pred, gt, 'a')])
    out = metric.evaluate(1)
    # WT = {1,2,3}: gt 1,2,3,4,5 (5 voxels), pred 1,2,3,6,7 (5) -> inter 1,2,3 = 3 -> 6/10
    # TC = {1,3}:  gt 1,3,4 (3), pred 1,3,7 (3) -> inter 1,3 = 2 -> 4/6
    # ET = {3}:    gt 3,4 (2), pred 1,3 (2) -> inter 3 = 1 -> 2/4
    assert out['region_dice/global/WT'] == pytest.approx(0.6)
    assert out['region_dice/global/TC'] == pytest.approx(4 / 6)
    assert out['region_dice/global/ET'] == pytest.approx(0.5)
    assert out['region_dice/per_case/mean'] == pytest.approx((0.6 + 4 / 6 + 0.5) / 3)
    assert not [k for k in out if 'class_' in k]


def test_per_case_grouping_and_empty_regions():
    metric = RegionDiceMetric(regions=dict(fg=(1, 2), two=(2, )), with_iou=True)
    metric.dataset_meta = {}
    metric.process(None, [_sample([1, 1, 0], [1, 0, 0], 'a'),     # case a, two crops
                          _sample([0, 0, 0], [1, 0, 0], 'a'),
                          _sample([0, 0, 0], [0, 0, 0], 'b')])    # b: nothing anywhere
    out = metric.evaluate(3)
    # case a: fg inter 1, pred 2, gt 2 -> 0.5; "two" empty -> 1.0; case b: 1.0 / 1.0
    assert out['region_dice/per_case/fg'] == pytest.approx((0.5 + 1.0) / 2)
    assert out['region_dice/per_case/two'] == pytest.approx(1.0)
    assert out['region_dice/global/fg'] == pytest.approx(0.5)
    assert np.isnan(out['region_dice/global/two'])
    assert out['region_dice/per_case_iou/fg'] == pytest.approx((1 / 3 + 1.0) / 2)
    with pytest.raises(ValueError, match='regions must name at least one region'):
        RegionDiceMetric(regions={})


def test_default_ignore_index_leaves_out_ignored_voxels():
    gt = np.array([0, 1, 2, 3, 3, 2, 0, 0])
    pred = np.array([0, 3, 2, 3, 0, 0, 2, 1])
    metric = RegionDiceMetric()
    assert metric.ignore_index == IGNORE_INDEX
    metric.dataset_meta = {}
    # ignored voxels predicted as every region change nothing
    metric.process(None, [_sample(np.r_[pred, 1, 3], np.r_[gt, IGNORE_INDEX, IGNORE_INDEX],
                                  'a')])
    reference = RegionDiceMetric()
    reference.dataset_meta = {}
    reference.process(None, [_sample(pred, gt, 'a')])
    assert metric.evaluate(1) == reference.evaluate(1)
