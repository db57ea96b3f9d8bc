"""Bad FROC inputs (issue 18, class 7), met by ``tools/froc_eval.py``: the COCO results json
and the mmdet ``.pkl`` (``tools/test.py --out``) are checked by one function
(``acsdet.evaluation.functional.froc_io.check_detections``), so the same bad box or score is
refused by both with one line naming the file and the entry; valid inputs give the FROC of an
independent brute-force reference.

The property tests (hypothesis) call the tool's core, ``froc_eval.evaluate`` (and ``main``
for the one-line stderr), not a subprocess.
"""
import contextlib
import importlib.util
import io
import json
import math
import os.path as osp
import pickle
import tempfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FP_RATES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SETTINGS = settings(max_examples=50, deadline=None, database=None)


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'froc_eval_tool_inputs', osp.join(REPO, 'tools', 'froc_eval.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TOOL = _load_tool()


# ---------------------------------------------------------------- files of a case
# A case: ``gts`` {img_id: [[x1, y1, x2, y2], ...]}, ``dets`` {img_id: [(box xyxy, score)]},
# image ids in insertion order; integer coordinates (IoU then has no rounding ties).

def _write_gt(folder, gts):
    images = [{'id': i, 'file_name': f'{i}.png'} for i in gts]
    anns = [{'id': k + 1, 'image_id': i, 'bbox': [b[0], b[1], b[2] - b[0], b[3] - b[1]],
             'iscrowd': 0}
            for k, (i, b) in enumerate((i, b) for i, boxes in gts.items() for b in boxes)]
    path = osp.join(folder, 'gt.json')
    with open(path, 'w') as f:
        json.dump({'images': images, 'annotations': anns,
                   'categories': [{'id': 1, 'name': 'lesion'}]}, f)
    return path


def _json_results(dets):
    """COCO results (xywh); the list order is image by image, detection by detection."""
    return [{'image_id': i, 'category_id': 1, 'score': s,
             'bbox': [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
            for i, ds in dets.items() for b, s in ds]


def _pkl_results(dets):
    """mmdet results as DumpDetResults writes them: one dict per image, float32 tensors."""
    return [{'img_id': i, 'img_path': f'{i}.png',
             'pred_instances': {
                 'bboxes': torch.tensor([b for b, _ in ds], dtype=torch.float32).reshape(-1, 4),
                 'scores': torch.tensor([s for _, s in ds], dtype=torch.float32),
                 'labels': torch.zeros(len(ds), dtype=torch.long)}}
            for i, ds in dets.items()]


def _write(folder, name, obj):
    path = osp.join(folder, name)
    if name.endswith('.pkl'):
        with open(path, 'wb') as f:
            pickle.dump(obj, f)
    else:
        with open(path, 'w') as f:
            json.dump(obj, f)  # NaN / Infinity are written as such (json's extension)
    return path


# ---------------------------------------------------------------- brute-force references

def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _hits(gts, img_id, box):
    return {(img_id, k) for k, g in enumerate(gts[img_id]) if _iou(box, g) >= 0.5}


def reference_walk(gts, dets, fp_rates):
    """The published per-detection FROC (distinct scores): rank all detections, walk down;
    a detection hitting no lesion is a FP, one hitting lesions finds them. Sensitivity at f
    FPs per image = the most lesions found before the FP count exceeds f * images."""
    n_img, n_les = len(gts), sum(len(b) for b in gts.values())
    ranked = sorted(((s, i, b) for i, ds in dets.items() for b, s in ds), reverse=True)
    found, fp, prefix = set(), 0, [(0, 0)]
    for _, i, b in ranked:
        hit = _hits(gts, i, b)
        if hit:
            found |= hit
        else:
            fp += 1
        prefix.append((fp, len(found)))
    if n_les == 0:
        return [math.nan] * len(fp_rates)
    return [max(h for f_count, h in prefix if f_count <= f * n_img) / n_les for f in fp_rates]


def reference_thresholds(gts, dets, fp_rates):
    """Any scores (ties allowed): at every distinct score t, the lesions hit by a detection
    scoring >= t and the detections scoring >= t that hit no lesion; the curve through
    (0, 0) and these points, read by linear interpolation (past its end: its last value)."""
    n_img, n_les = len(gts), sum(len(b) for b in gts.values())
    if n_les == 0:
        return [math.nan] * len(fp_rates)
    flat = [(s, i, b) for i, ds in dets.items() for b, s in ds]
    points = [(0.0, 0.0)]
    for t in sorted({s for s, _, _ in flat}, reverse=True):
        kept = [(i, b) for s, i, b in flat if s >= t]
        found = set().union(*(_hits(gts, i, b) for i, b in kept))
        fp = sum(1 for i, b in kept if not _hits(gts, i, b))
        points.append((fp / n_img, len(found) / n_les))
    out = []
    for f in fp_rates:
        j = max(k for k, (x, _) in enumerate(points) if x <= f)
        if j == len(points) - 1:
            out.append(points[j][1])
        else:
            (x0, y0), (x1, y1) = points[j], points[j + 1]
            out.append(y0 + (f - x0) / (x1 - x0) * (y1 - y0))
    return out


# ---------------------------------------------------------------- strategies

@st.composite
def froc_cases(draw, ties=False):
    n_img = draw(st.integers(1, 4))
    gts, dets = {}, {}
    for i in range(n_img):
        img_id = 10 + 7 * i
        boxes = []
        for _ in range(draw(st.integers(0 if i else 1, 3))):  # image 1 has a lesion
            x, y = draw(st.integers(0, 40)), draw(st.integers(0, 40))
            boxes.append([x, y, x + draw(st.integers(1, 20)), y + draw(st.integers(1, 20))])
        gts[img_id] = boxes
        ds = []
        for _ in range(draw(st.integers(0, 5))):
            if boxes and draw(st.integers(0, 2)):  # near a lesion: a hit or a near miss
                g = draw(st.sampled_from(boxes))
                d = [draw(st.integers(-2, 2)) for _ in range(4)]
                b = [g[0] + d[0], g[1] + d[1], max(g[0] + d[0], g[2] + d[2]),
                     max(g[1] + d[1], g[3] + d[3])]
            else:
                x, y = draw(st.integers(0, 50)), draw(st.integers(0, 50))
                b = [x, y, x + draw(st.integers(0, 15)), y + draw(st.integers(0, 15))]
            ds.append(b)
        dets[img_id] = ds
    n = sum(len(d) for d in dets.values())
    if ties:
        scores = [draw(st.sampled_from([0.125, 0.25, 0.5, 0.75])) for _ in range(n)]
    else:  # distinct, exact in float32 (the .pkl stores float32 tensors)
        scores = [(r + 1) / 64 for r in draw(st.permutations(range(n)))]
    it = iter(scores)
    return gts, {i: [(b, next(it)) for b in ds] for i, ds in dets.items()}


def _sens(result):
    return list(result.overall.sens_at)


def _check_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, abs=1e-12)


# ---------------------------------------------------------------- properties

@SETTINGS
@given(froc_cases())
def test_valid_inputs_give_the_per_detection_reference(case):
    gts, dets = case
    with tempfile.TemporaryDirectory() as d:
        gt = _write_gt(d, gts)
        want = reference_walk(gts, dets, FP_RATES)
        for res in (_write(d, 'res.json', _json_results(dets)),
                    _write(d, 'res.pkl', _pkl_results(dets))):
            _check_same(_sens(TOOL.evaluate(gt, res, fp_rates=FP_RATES)), want)


@SETTINGS
@given(froc_cases(ties=True))
def test_tied_scores_give_the_threshold_reference(case):
    gts, dets = case
    with tempfile.TemporaryDirectory() as d:
        gt = _write_gt(d, gts)
        want = reference_thresholds(gts, dets, FP_RATES)
        for res in (_write(d, 'res.json', _json_results(dets)),
                    _write(d, 'res.pkl', _pkl_results(dets))):
            _check_same(_sens(TOOL.evaluate(gt, res, fp_rates=FP_RATES)), want)


@SETTINGS
@given(froc_cases(), st.floats(0.5, 20), st.floats(-5, 5))
def test_scores_outside_0_1_are_accepted_and_only_their_order_counts(case, scale, shift):
    gts, dets = case
    moved = {i: [(b, s * scale + shift) for b, s in ds] for i, ds in dets.items()}
    with tempfile.TemporaryDirectory() as d:
        gt = _write_gt(d, gts)
        res = _write(d, 'res.json', _json_results(moved))
        _check_same(_sens(TOOL.evaluate(gt, res, fp_rates=FP_RATES)),
                    reference_walk(gts, dets, FP_RATES))


CORRUPTIONS = ('nan_coord', 'inf_coord', 'x_inverted', 'y_inverted', 'nan_score', 'inf_score',
               'missing_score')


def _g(v):
    return f'{float(v):g}'


def _corrupt(dets, img_pos, det_pos, kind, rng_value):
    """Corrupt one detection; returns (json results, pkl results, json message tail,
    pkl message tail, json entry index)."""
    jres, pres = _json_results(dets), _pkl_results(dets)
    ids = list(dets)
    flat = sum(len(dets[i]) for i in ids[:img_pos]) + det_pos
    jr, pred = jres[flat], pres[img_pos]['pred_instances']
    x1, y1, x2, y2 = (float(v) for v in pred['bboxes'][det_pos])
    if kind in ('nan_coord', 'inf_coord'):
        bad = math.nan if kind == 'nan_coord' else -math.inf
        k = rng_value % 4
        jr['bbox'][k] = bad
        pred['bboxes'][det_pos, k] = bad
        jbox = list(jr['bbox'])
        pbox = [x1, y1, x2, y2]
        pbox[k] = bad
        return (jres, pres, f'bbox [x, y, w, h] [{", ".join(_g(v) for v in jbox)}] is not '
                'finite', f'box [{", ".join(_g(v) for v in pbox)}] is not finite', flat)
    if kind in ('x_inverted', 'y_inverted'):
        a = 0 if kind == 'x_inverted' else 1
        lo = (x1, y1)[a]
        new_hi = lo - 1 - rng_value % 5  # x2 < x1 (y2 < y1): a width of -1 .. -5
        jr['bbox'][2 + a] = new_hi - lo
        pred['bboxes'][det_pos, 2 + a] = new_hi
        pbox = [x1, y1, x2, y2]
        pbox[2 + a] = new_hi
        name = 'xy'[a]
        return (jres, pres,
                f'bbox [x, y, w, h] [{", ".join(_g(v) for v in jr["bbox"])}] has '
                f'{"wh"[a]} < 0',
                f'box [{", ".join(_g(v) for v in pbox)}] has {name}2 < {name}1', flat)
    if kind in ('nan_score', 'inf_score'):
        bad = math.nan if kind == 'nan_score' else math.inf
        jr['score'] = bad
        pred['scores'][det_pos] = bad
        return jres, pres, f'score {_g(bad)} is not finite', f'score {_g(bad)} is not finite', \
            flat
    assert kind == 'missing_score'
    del jr['score']
    del pred['scores']
    return (jres, pres, None, None, flat)


@SETTINGS
@given(froc_cases(), st.sampled_from(CORRUPTIONS), st.integers(0, 10 ** 6),
       st.integers(0, 10 ** 6))
def test_invalid_detections_are_refused_alike_in_one_line(case, kind, pick, value):
    gts, dets = case
    with_dets = [(k, i) for k, i in enumerate(dets) if dets[i]]
    if not with_dets:
        dets = dict(dets)
        first = next(iter(dets))
        dets[first] = [([1, 2, 5, 6], 0.5)]
        with_dets = [(0, first)]
    img_pos, img_id = with_dets[pick % len(with_dets)]
    det_pos = (pick // 7) % len(dets[img_id])
    jres, pres, jtail, ptail, flat = _corrupt(dets, img_pos, det_pos, kind, value)
    with tempfile.TemporaryDirectory() as d:
        gt = _write_gt(d, gts)
        js, pk = _write(d, 'res.json', jres), _write(d, 'res.pkl', pres)
        if kind == 'missing_score':
            want_json = (f"{js}: result [{flat}] needs 'image_id', 'bbox' and 'score' "
                         "(missing 'score')")
            want_pkl = f"{pk}: image {img_pos} (img_id {img_id}): 'pred_instances' has no " \
                "'scores'"
        else:
            want_json = f'{js}: result [{flat}] (image_id {img_id}): {jtail}'
            want_pkl = f'{pk}: image {img_pos} (img_id {img_id}), detection {det_pos}: {ptail}'
        for res, want in ((js, want_json), (pk, want_pkl)):
            with pytest.raises(ValueError) as exc:
                TOOL.evaluate(gt, res)
            assert str(exc.value) == want
            # through the tool: that one line on stderr, exit code 1, nothing written
            err = io.StringIO()
            out = osp.join(d, 'out')
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                assert TOOL.main([gt, res, '--out-dir', out]) == 1
            assert err.getvalue() == f'froc_eval.py: error: {want}\n'
            assert not osp.exists(out)


# ---------------------------------------------------------------- fixed cases

GTS = {1: [[10, 10, 30, 30]], 2: [[40, 40, 60, 50]], 3: []}


def _files(tmp_path, dets):
    gt = _write_gt(str(tmp_path), GTS)
    return (gt, _write(str(tmp_path), 'preds.json', _json_results(dets)),
            _write(str(tmp_path), 'preds.pkl', _pkl_results(dets)))


def test_inverted_box_is_refused_by_pkl_and_json(tmp_path, capsys):
    """Before: the .pkl counted x2 < x1 as a false positive, the json refused w < 0."""
    dets = {1: [([10, 10, 30, 30], 0.9)], 2: [([40, 40, 60, 50], 0.8), ([10, 5, 4, 9], 0.3)],
            3: []}
    gt, js, pk = _files(tmp_path, dets)
    assert TOOL.main([gt, pk, '--out-dir', str(tmp_path / 'o')]) == 1
    assert capsys.readouterr().err == (f'froc_eval.py: error: {pk}: image 1 (img_id 2), '
                                       'detection 1: box [10, 5, 4, 9] has x2 < x1\n')
    assert TOOL.main([gt, js, '--out-dir', str(tmp_path / 'o')]) == 1
    assert capsys.readouterr().err == (f'froc_eval.py: error: {js}: result [2] (image_id 2): '
                                       'bbox [x, y, w, h] [10, 5, -6, 4] has w < 0\n')
    assert not (tmp_path / 'o').exists()


def test_nan_score_names_file_and_entry(tmp_path, capsys):
    dets = {1: [([10, 10, 30, 30], 0.9)], 2: [], 3: [([0, 0, 5, 5], math.nan)]}
    gt, js, pk = _files(tmp_path, dets)
    assert TOOL.main([gt, pk, '--no-plot']) == 1
    assert capsys.readouterr().err == (f'froc_eval.py: error: {pk}: image 2 (img_id 3), '
                                       'detection 0: score nan is not finite\n')
    assert TOOL.main([gt, js, '--no-plot']) == 1
    assert capsys.readouterr().err == (f'froc_eval.py: error: {js}: result [1] (image_id 3): '
                                       'score nan is not finite\n')


@pytest.mark.parametrize('mutate, message', [
    (lambda r: r[0].pop('img_id'), "image 0: no 'img_id'"),
    (lambda r: r[1]['pred_instances'].pop('bboxes'),
     "image 1 (img_id 2): 'pred_instances' has no 'bboxes'"),
    (lambda r: r[1]['pred_instances'].update(bboxes=torch.zeros(1, 5)),
     "image 1 (img_id 2): 'bboxes' must have shape (N, 4), got (1, 5)"),
    (lambda r: r[1]['pred_instances'].update(scores=torch.zeros(3)),
     'image 1 (img_id 2): 1 bboxes but 3 scores'),
    (lambda r: r[0].update(img_id=[1]), 'image 0: img_id must be a number or a string, '
     'got [1]'),
    (lambda r: r.__setitem__(2, 'x'), "image 2: expected a dict with 'img_id' and "
     "'pred_instances', got str"),
])
def test_malformed_pkl_entries(tmp_path, mutate, message):
    dets = {1: [([10, 10, 30, 30], 0.9)], 2: [([0, 0, 4, 4], 0.5)], 3: []}
    gt, _, _ = _files(tmp_path, dets)
    results = _pkl_results(dets)
    mutate(results)
    pk = _write(str(tmp_path), 'bad.pkl', results)
    with pytest.raises(ValueError) as exc:
        TOOL.evaluate(gt, pk)
    assert str(exc.value) == f'{pk}: {message}'


@pytest.mark.parametrize('entry, message', [
    ({'image_id': 1, 'bbox': [0, 0, 1, 1]},
     "result [1] needs 'image_id', 'bbox' and 'score' (missing 'score')"),
    ({'image_id': 1, 'bbox': [0, 0, 1], 'score': 0.5},
     'result [1] (image_id 1): bbox must be 4 numbers [x, y, w, h], got [0, 0, 1]'),
    ({'image_id': 1, 'bbox': [0, 0, 1, 1], 'score': True},
     'result [1] (image_id 1): score must be a number, got True'),
    ({'image_id': 1, 'bbox': [0, 0, 1, -2], 'score': 0.5},
     'result [1] (image_id 1): bbox [x, y, w, h] [0, 0, 1, -2] has h < 0'),
    ({'image_id': 1, 'bbox': [0, math.inf, 1, 1], 'score': 0.5},
     'result [1] (image_id 1): bbox [x, y, w, h] [0, inf, 1, 1] is not finite'),
    ({'image_id': [1], 'bbox': [0, 0, 1, 1], 'score': 0.5},
     'result [1]: image_id must be a number or a string, got [1]'),
])
def test_malformed_json_entries(tmp_path, entry, message):
    dets = {1: [([10, 10, 30, 30], 0.9)], 2: [], 3: []}
    gt, _, _ = _files(tmp_path, dets)
    js = _write(str(tmp_path), 'bad.json', _json_results(dets) + [entry])
    with pytest.raises(ValueError) as exc:
        TOOL.evaluate(gt, js)
    assert str(exc.value) == f'{js}: {message}'


def test_empty_boxes_and_scores_above_one_are_accepted(tmp_path):
    """A zero-width box (x2 == x1) is a valid, empty box (as in the ground truth); scores > 1
    are accepted (the FROC uses their order): here the hit at 1.5 is found at 0 FPs."""
    dets = {1: [([10, 10, 30, 30], 1.5)], 2: [([5, 5, 5, 9], 0.7)], 3: []}
    gt, js, pk = _files(tmp_path, dets)
    for res in (js, pk):
        result = TOOL.evaluate(gt, res, fp_rates=(0.25, 1.0))
        # lesion of image 1 found at score 1.5; one FP (the empty box) of 3 images
        np.testing.assert_allclose(result.overall.sens_at, [0.5, 0.5])
        assert result.num_fp == 1 and result.num_detections == 2


def test_hand_computed_case_json_and_pkl(tmp_path):
    """3 images, 2 lesions; ranked: 0.9 hit (image 1), 0.8 FP, 0.7 FP, 0.6 hit (image 2):
    one lesion found up to 2 FPs (2/3 per image), where the second is found too."""
    dets = {1: [([10, 10, 30, 30], 0.9), ([70, 70, 80, 80], 0.8)],
            2: [([41, 40, 60, 50], 0.6)], 3: [([0, 0, 3, 3], 0.7)]}
    gt, js, pk = _files(tmp_path, dets)
    rates = (0.2, 1 / 3, 0.5, 2 / 3, 4)
    for res in (js, pk):
        np.testing.assert_allclose(TOOL.evaluate(gt, res, fp_rates=rates).overall.sens_at,
                                   [0.5, 0.5, 0.5, 1.0, 1.0])
    assert reference_walk(GTS, dets, rates) == [0.5, 0.5, 0.5, 1.0, 1.0]
    assert reference_thresholds(GTS, dets, rates) == [0.5, 0.5, 0.5, 1.0, 1.0]
