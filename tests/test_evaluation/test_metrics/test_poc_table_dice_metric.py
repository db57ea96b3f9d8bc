"""PocTableDiceMetric: the authors' Table IV Dice (pooled per test batch, background in, cone
out) next to the text's definition (Dice global of the 5 foreground classes) and Dice per case."""
import numpy as np
import pytest

from acsdet.evaluation.metrics import PocTableDiceMetric, authors_batch_dice


def _sample(pred, gt):
    return dict(pred_sem_seg=np.asarray(pred)[None], gt_sem_seg=np.asarray(gt)[None])


def _run(metric, pairs):
    metric.process(None, [_sample(p, g) for p, g in pairs])
    return metric.compute_metrics(metric.results)


def test_hand_computed_case_where_the_definitions_differ():
    # 3 classes (0 bg, 1, 2), authors' classes (0, 1): class 2 out, background in;
    # batches of 2 samples: [s0, s1] and [s2]
    s0 = ([1, 1, 0, 0], [1, 0, 0, 0])   # class 1: I 1, P 2, G 1; bg: I 2, P 2, G 3
    s1 = ([2, 2, 0, 0], [2, 2, 0, 0])   # perfect: class 2 I 2, bg I 2
    s2 = ([0, 0, 0, 0], [1, 1, 1, 1])   # class 1 missed entirely; bg: P 4, G 0
    m = _run(PocTableDiceMetric(num_classes=3, authors_classes=(0, 1), authors_batch=2),
             [s0, s1, s2])
    # batch 1 pooled: class 1 2*1/(2+1) = 2/3; bg 2*4/(4+5) = 8/9
    # batch 2: class 1 0/(0+4) = 0; bg 0/(4+0) = 0;  weighted (2, 1)
    dice1 = (2 * (2 / 3) + 0) / 3
    dice0 = (2 * (8 / 9) + 0) / 3
    assert m['authors/class_1'] == pytest.approx(dice1)
    assert m['authors/class_0'] == pytest.approx(dice0)
    assert m['authors/mean'] == pytest.approx((dice0 + dice1) / 2)
    # the text's: foreground classes 1 and 2, Dice global over all samples
    g1 = 2 * 1 / (2 + 5)                    # I 1, P 2, G 1 + 4
    g2 = 2 * 2 / (2 + 2)
    assert m['global/mean'] == pytest.approx((g1 + g2) / 2)
    assert m['global/mean'] != pytest.approx(m['authors/mean'])
    # per case (empty class -> 1.0): class 1 (2/3, 1, 0), class 2 (1, 1, 1)
    assert m['per_case/class_1'] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m['per_case/mean'] == pytest.approx(((2 / 3 + 1) / 3 + 1) / 2)
    # IoU of the authors: class 1 batch 1: 1 / (2 + 1 - 1) = 1/2; bg 4 / (4 + 5 - 4) = 4/5
    assert m['authors_iou/class_1'] == pytest.approx(2 * 0.5 / 3)
    assert m['authors_iou/mean'] == pytest.approx((2 * 0.5 / 3 + 2 * 0.8 / 3) / 2)


def test_a_class_absent_and_not_predicted_in_a_batch_scores_zero():
    # the authors' rule (2 I / (P + G + 1e-8)); DiceMetric per case would give it 1.0
    d = authors_batch_dice(np.array([[4, 0]]), np.array([[4, 0]]), np.array([[4, 0]]), 20)
    assert d['dice'][0] == pytest.approx(1.0) and d['dice'][1] == 0.0


def test_default_classes_are_all_but_cone():
    m = PocTableDiceMetric()
    assert m.authors_classes == (0, 1, 2, 3, 5) and m.authors_batch == 20
    # a perfect prediction: every figure 1 (the authors' background term included)
    gt = np.array([0, 1, 2, 3, 4, 5] * 4)
    out = _run(m, [(gt, gt)])
    assert out['authors/mean'] == pytest.approx(1.0)
    assert out['global/mean'] == pytest.approx(1.0)
    assert sorted(k for k in out if k.startswith('authors/class')) == [
        'authors/class_0', 'authors/class_1', 'authors/class_2', 'authors/class_3',
        'authors/class_5']


def test_pooling_follows_sample_order_and_batch_size():
    good = ([1, 1], [1, 1])
    bad = ([0, 0], [1, 1])
    by1 = _run(PocTableDiceMetric(num_classes=2, authors_classes=(1, ), authors_batch=1),
               [good, bad])
    by2 = _run(PocTableDiceMetric(num_classes=2, authors_classes=(1, ), authors_batch=2),
               [good, bad])
    assert by1['authors/mean'] == pytest.approx(0.5)       # (1 + 0) / 2
    assert by2['authors/mean'] == pytest.approx(2 * 2 / 6)  # pooled: I 2, P 2, G 4


def test_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match=r'authors_classes must be labels in \[0, 6\), got '
                       r'\[0, 6\]'):
        PocTableDiceMetric(authors_classes=(0, 6))
    with pytest.raises(ValueError, match='authors_batch must be >= 1, got 0'):
        PocTableDiceMetric(authors_batch=0)
