"""Feature mAUC: per-channel ROC AUC (Mann-Whitney) and the authors' max(AUC, 1 - AUC) mean."""
import numpy as np
import pytest

from acsdet.evaluation.functional import channel_aucs, feature_mauc


def _trapezoid_auc(score, mask):
    """ROC AUC by the trapezoid rule over every threshold (ties as one step)."""
    order = np.argsort(-score, kind='stable')
    s, y = score[order], mask[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.r_[0, np.cumsum(y)[distinct]] / y.sum()
    fp = np.r_[0, np.cumsum(~y)[distinct]] / (~y).sum()
    return float(np.sum((fp[1:] - fp[:-1]) * (tp[1:] + tp[:-1]) / 2))


def test_hand_cases():
    mask = np.array([0, 0, 1, 1], bool)
    feats = np.array([[0, 1, 2, 3],      # perfect: 1
                      [3, 2, 1, 0],      # inverted: 0
                      [0, 1, 1, 0],      # ties: pairs (fg, bg): 1>0, 1=1, 0=0, 0<1 -> 0.5
                      [1, 1, 1, 1]], float)
    aucs = channel_aucs(feats, mask)
    np.testing.assert_allclose(aucs, [1.0, 0.0, 0.5, 0.5])
    m = feature_mauc(aucs)
    assert m['mauc'] == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)  # the inverted one counts 1
    assert m['mauc_raw'] == pytest.approx(0.5)


def test_equals_the_roc_curve_area_with_ties():
    rng = np.random.default_rng(0)
    mask = rng.random(5000) < 0.2
    feats = np.round(rng.standard_normal((3, 5000)) + mask, 1)  # many ties
    for f, a in zip(feats, channel_aucs(feats, mask)):
        assert a == pytest.approx(_trapezoid_auc(f, mask), abs=1e-12)


def test_errors():
    with pytest.raises(ValueError, match=r'features must be \(C, N\) with N = mask size 4'):
        channel_aucs(np.zeros((2, 3)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match='needs foreground and background'):
        channel_aucs(np.zeros((1, 3)), np.ones(3))
