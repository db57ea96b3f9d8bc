"""FROC core: hand-worked cases, the published loop as a reference, tie handling."""
import numpy as np
import pytest

from acsdet.evaluation.functional import (Detections, LesionGT, evaluate_froc, froc_curve,
                                          lesion_hit_scores, lesion_strata, pair_hits,
                                          sensitivity_at)
from acsdet.testing import published_froc_sens_at


def _gt(boxes_per_image, **kw):
    boxes = [b for bs in boxes_per_image for b in bs]
    index = [i for i, bs in enumerate(boxes_per_image) for _ in bs]
    return LesionGT(list(range(len(boxes_per_image))), np.array(boxes, float).reshape(-1, 4),
                    index, **kw)


def _dets(rows):
    """rows: (image index, x1, y1, x2, y2, score)."""
    a = np.array(rows, float).reshape(-1, 6)
    return Detections(a[:, 1:5], a[:, 5], a[:, 0].astype(int))


RATES = (0.25, 0.5, 1.0)


def _sens(gt, dets, rates=RATES, **kw):
    res = evaluate_froc(gt, dets, fp_rates=rates, mean_fp_rates=rates[:1], **kw)
    return res, dict(zip(rates, res.overall.sens_at))


def test_one_detection_hits_two_lesions():
    # IoU(det, A) = 100/110, IoU(det, B) = 110/120: both >= 0.5, both are found.
    gt = _gt([[[0, 0, 10, 10], [0, 0, 10, 12]]])
    dets = _dets([(0, 0, 0, 10, 11, 0.9)])
    hit_score, is_fp = lesion_hit_scores(gt, dets)
    np.testing.assert_array_equal(hit_score, [0.9, 0.9])
    np.testing.assert_array_equal(is_fp, [False])
    res, s = _sens(gt, dets)
    assert s == {0.25: 1.0, 0.5: 1.0, 1.0: 1.0}
    assert res.num_fp == 0


def test_detection_on_already_hit_lesion_is_neither_tp_nor_fp():
    # image 0: lesion L hit by d1 (0.9); d2 (0.8) overlaps L again -> neither;
    # d3 (0.7) far away -> FP; image 1: lesion L2 hit by d4 (0.6).
    gt = _gt([[[0, 0, 10, 10]], [[20, 20, 30, 30]]])
    dets = _dets([(0, 0, 0, 10, 10, 0.9), (0, 1, 0, 11, 10, 0.8),
                  (0, 50, 50, 60, 60, 0.7), (1, 20, 20, 30, 30, 0.6)])
    hit_score, is_fp = lesion_hit_scores(gt, dets)
    np.testing.assert_array_equal(is_fp, [False, False, True, False])
    np.testing.assert_array_equal(hit_score, [0.9, 0.6])
    res, s = _sens(gt, dets)
    # one FP over 2 images = 0.5 FP/image, reached only after both lesions are found.
    # (Counting d2 as an FP would give sens@0.5 = 0.5.)
    assert res.num_fp == 1
    assert s[0.5] == 1.0 and s[1.0] == 1.0
    assert s[0.25] == 0.5  # between (0, 0.5) and (0.5, 0.5): flat
    # the lower-level pieces give the same curve
    curve = froc_curve(hit_score, dets.scores[is_fp], num_images=2, fp_rates=RATES)
    np.testing.assert_array_equal(curve.sens_at, res.overall.sens_at)
    np.testing.assert_array_equal(curve.thresholds, [0.9, 0.7, 0.6])
    np.testing.assert_array_equal(curve.fps_per_image, [0, 0, 0.5, 0.5])
    # per-image lists build the same detections
    per_image = Detections.from_list([dets.boxes[:3], dets.boxes[3:]],
                                     [dets.scores[:3], dets.scores[3:]])
    np.testing.assert_array_equal(per_image.image_index, dets.image_index)
    np.testing.assert_array_equal(per_image.boxes, dets.boxes)


def test_images_without_lesions_count_in_fp_rate():
    # 4 images; only image 0 has a lesion (found at 0.5); image 1's detection (0.9) is an FP.
    gt = _gt([[[0, 0, 10, 10]], [], [], []])
    dets = _dets([(1, 0, 0, 10, 10, 0.9), (0, 0, 0, 10, 10, 0.5)])
    res, s = _sens(gt, dets, rates=(0.125, 0.25, 0.5))
    np.testing.assert_allclose(res.overall.fps_per_image, [0, 0.25, 0.25])
    np.testing.assert_allclose(res.overall.sensitivity, [0, 0, 1])
    assert s == {0.125: 0.0, 0.25: 1.0, 0.5: 1.0}
    assert res.num_images == 4


def test_no_lesion_at_all_gives_nan_and_no_image_raises():
    res, s = _sens(_gt([[], []]), _dets([(0, 0, 0, 5, 5, 0.3)]))
    assert np.isnan(res.overall.mean) and res.num_fp == 1
    with pytest.raises(ValueError, match='at least one evaluated image'):
        froc_curve(np.zeros(0), np.zeros(0), num_images=0)


def test_ties_form_one_operating_point_independent_of_order():
    # A TP (image 0) and an FP (image 1) with the same score: one threshold keeps both, so
    # the curve goes straight from (0, 0) to (0.5, 1) whatever the input order.
    gt = _gt([[[0, 0, 10, 10]], []])
    a = (0, 0, 0, 10, 10, 0.5)
    b = (1, 0, 0, 10, 10, 0.5)
    for rows in ([a, b], [b, a]):
        res, s = _sens(gt, _dets(rows))
        np.testing.assert_allclose(res.overall.fps_per_image, [0, 0.5])
        np.testing.assert_allclose(res.overall.sensitivity, [0, 1])
        assert s == {0.25: 0.5, 0.5: 1.0, 1.0: 1.0}


def test_ties_random_permutations_give_identical_results():
    rng = np.random.default_rng(3)
    gt, dets, _, _ = _random_case(rng, n_img=30, score_decimals=1)
    ref = evaluate_froc(gt, dets)
    for _ in range(5):
        p = rng.permutation(len(dets.scores))
        res = evaluate_froc(gt, Detections(dets.boxes[p], dets.scores[p], dets.image_index[p]))
        np.testing.assert_array_equal(res.overall.sensitivity, ref.overall.sensitivity)
        np.testing.assert_array_equal(res.overall.sens_at, ref.overall.sens_at)


def test_fp_rates_beyond_the_curve_end_use_the_last_value():
    # 1 image, 2 lesions, one found; one FP: the curve ends at 1 FP/image.
    gt = _gt([[[0, 0, 10, 10], [40, 40, 50, 50]]])
    dets = _dets([(0, 0, 0, 10, 10, 0.9), (0, 80, 80, 90, 90, 0.8)])
    res = evaluate_froc(gt, dets)
    assert res.overall.fps_per_image[-1] == 1.0
    np.testing.assert_allclose(res.overall.sens_at, [0.5] * 6)  # 0.5 ... 16
    # no detections at all: a curve of one point, zero everywhere
    res = evaluate_froc(gt, _dets([]))
    np.testing.assert_array_equal(res.overall.sens_at, np.zeros(6))


def test_ignore_regions_are_neither_tp_nor_fp_nor_lesions():
    # lesion L (real) and N (noisy); the detection on N scores higher than the one on L.
    boxes = [[[0, 0, 10, 10], [50, 50, 60, 60]]]
    dets = _dets([(0, 50, 50, 60, 60, 0.9), (0, 0, 0, 10, 10, 0.8)])
    ignore = _gt(boxes, ignore=[False, True])
    res, s = _sens(ignore, dets)
    assert res.num_fp == 0 and res.overall.num_lesions == 1 and res.num_ignored == 1
    assert s == {0.25: 1.0, 0.5: 1.0, 1.0: 1.0}
    hit_score, _ = lesion_hit_scores(ignore, dets)
    assert hit_score[0] == 0.8 and np.isnan(hit_score[1])
    # dropped instead (published): the detection on N is an FP at 1 FP/image
    drop = _gt([boxes[0][:1]])
    res, s = _sens(drop, dets)
    assert res.num_fp == 1
    assert s == {0.25: 0.0, 0.5: 0.0, 1.0: 1.0}


def test_hit_rules_and_threshold():
    gt_box = np.array([[0, 0, 20, 20.]])
    small_inside = np.array([[5, 5, 10, 10.]])  # IoU 25/400, IoBB 1, centre inside
    offset = np.array([[12, 12, 32, 32.]])  # IoU 64/736, centre (22, 22) outside
    half = np.array([[0, 0, 20, 10.]])  # IoU exactly 0.5
    assert not pair_hits(small_inside, gt_box, 'iou')[0]
    assert pair_hits(small_inside, gt_box, 'iobb')[0]
    assert pair_hits(small_inside, gt_box, 'center')[0]
    assert not pair_hits(offset, gt_box, 'center')[0]
    assert pair_hits(half, gt_box, 'iou', 0.5)[0]  # >= threshold
    assert not pair_hits(half, gt_box, 'iou', 0.51)[0]
    assert pair_hits(small_inside, gt_box, 'iou', 0.06)[0]
    with pytest.raises(ValueError, match="hit_rule must be one of"):
        pair_hits(half, gt_box, 'dice')


def test_sensitivity_at_repeated_fp_values():
    fps = np.array([0, 0, 0.5, 0.5, 1.0])
    sens = np.array([0, 0.2, 0.2, 0.6, 0.8])
    np.testing.assert_allclose(sensitivity_at(fps, sens, [0, 0.25, 0.5, 0.75, 1, 3]),
                               [0.2, 0.2, 0.6, 0.7, 0.8, 0.8])


def test_breakdowns_use_the_global_fp_rate():
    # image 0 (1 mm interval): 5 mm liver lesion found at 0.9;
    # image 1 (5 mm interval): 40 mm lung lesion found at 0.5, an FP at 0.7 before it.
    gt = _gt([[[0, 0, 10, 10]], [[0, 0, 30, 30]]], lesion_type=[4, 5],
             long_diameter_mm=[5.0, 40.0], slice_interval=[1.0, 5.0])
    dets = _dets([(0, 0, 0, 10, 10, 0.9), (1, 60, 60, 70, 70, 0.7), (1, 0, 0, 30, 30, 0.5)])
    res = evaluate_froc(gt, dets, fp_rates=(0.25, 0.5), mean_fp_rates=(0.25, 0.5))
    np.testing.assert_allclose(res.overall.sens_at, [0.5, 1.0])
    liver, lung = res.strata['type']['liver'], res.strata['type']['lung']
    np.testing.assert_allclose(liver.sens_at, [1.0, 1.0])
    np.testing.assert_allclose(lung.sens_at, [0.0, 1.0])
    assert res.strata['size']['<10mm'].num_lesions == 1
    np.testing.assert_allclose(res.strata['size']['>30mm'].sens_at, [0.0, 1.0])
    np.testing.assert_allclose(res.strata['interval']['<=2mm'].sens_at, [1.0, 1.0])
    np.testing.assert_allclose(res.strata['interval']['>=5mm'].sens_at, [0.0, 1.0])
    assert '10-30mm' not in res.strata['size'] and '2-5mm' not in res.strata['interval']
    m = res.to_metrics('all')
    assert m['type/lung/sens@0.25'] == 0.0 and m['type/lung/count'] == 1
    assert m['size/<10mm/mean'] == 1.0 and m['interval/>=5mm/mean'] == 0.5
    assert set(res.to_metrics('mean')) == {
        'sens@0.25', 'sens@0.5', 'mean', 'type/liver/mean', 'type/lung/mean',
        'size/<10mm/mean', 'size/>30mm/mean', 'interval/<=2mm/mean', 'interval/>=5mm/mean'}
    assert set(res.to_metrics('none')) == {'sens@0.25', 'sens@0.5', 'mean'}


def test_strata_edges_and_unknown_values():
    gt = _gt([[[0, 0, 1, 1]] * 5], lesion_type=[-1, 1, 9, 4, 4],
             long_diameter_mm=[9.99, 10.0, 30.0, 30.01, np.nan], slice_interval=[2.5])
    strata = {k: {n: m.tolist() for n, m in v} for k, v in lesion_strata(gt).items()}
    assert strata['size'] == {'<10mm': [1, 0, 0, 0, 0], '10-30mm': [0, 1, 1, 0, 0],
                              '>30mm': [0, 0, 0, 1, 0]}
    assert list(strata['type']) == ['unlabelled', 'bone', 'liver', 'type9']
    assert strata['interval'] == {'2-5mm': [1] * 5}
    with pytest.raises(ValueError, match=r"unknown breakdowns \['organ'\]"):
        lesion_strata(gt, ['organ'])


def test_bad_arrays_raise():
    with pytest.raises(ValueError, match=r'gt boxes must have shape \(N, 4\)'):
        LesionGT([0], np.zeros((1, 3)), [0])
    with pytest.raises(ValueError, match='gt image_index out of range'):
        LesionGT([0], np.zeros((1, 4)), [1])
    with pytest.raises(ValueError, match='detection scores hold NaN'):
        Detections(np.zeros((1, 4)), [np.nan], [0])
    with pytest.raises(ValueError, match='detection image_index out of range'):
        evaluate_froc(_gt([[]]), _dets([(3, 0, 0, 1, 1, 0.5)]))


def _random_case(rng, n_img=40, dets_per_img=12, score_decimals=None):
    gts, boxes = [], []
    for i in range(n_img):
        n = rng.integers(0, 4)  # images without lesions included
        c = rng.uniform(20, 100, (n, 2))
        s = rng.uniform(4, 30, (n, 2))
        g = np.concatenate([c - s / 2, c + s / 2], 1)
        gts.append(g)
        d = []
        for _ in range(dets_per_img):
            if len(g) and rng.random() < 0.4:  # near a lesion: sometimes a hit
                b = g[rng.integers(len(g))] + rng.normal(0, 3, 4)
            else:
                cc = rng.uniform(0, 120, 2)
                ss = rng.uniform(4, 30, 2)
                b = np.concatenate([cc - ss / 2, cc + ss / 2])
            b[2:] = np.maximum(b[2:], b[:2] + 0.5)
            score = rng.random()
            if score_decimals is not None:
                score = round(score, score_decimals)
            d.append(np.append(b, score))
        boxes.append(np.array(d))
    gt = LesionGT(list(range(n_img)), np.concatenate(gts),
                  np.repeat(np.arange(n_img), [len(g) for g in gts]))
    all_d = np.concatenate(boxes)
    dets = Detections(all_d[:, :4], all_d[:, 4], np.repeat(np.arange(n_img), dets_per_img))
    return gt, dets, gts, boxes


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_published_loop_without_ties(seed):
    rng = np.random.default_rng(seed)
    gt, dets, gts, boxes = _random_case(rng)
    rates = [0.125, 0.5, 1, 2, 4, 8, 16]
    ref = published_froc_sens_at(boxes, gts, rates)
    res = evaluate_froc(gt, dets, fp_rates=rates)
    assert 0 < res.num_fp < len(dets.scores)  # a non-trivial case
    np.testing.assert_allclose(res.overall.sens_at, ref, rtol=0, atol=1e-12)
