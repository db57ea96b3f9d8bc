"""distractor_fp_rate against a hand-computed case, and FROCMetric's look-alike keys."""
import json

import numpy as np
import pytest
import torch

from acsdet.evaluation import FROCMetric
from acsdet.evaluation.functional import Detections, LesionGT, distractor_fp_rate


def _case():
    """Image 0: a lesion [0, 0, 10, 10] and a look-alike [20, 20, 30, 30]; image 1: no lesion,
    a look-alike [50, 50, 60, 60].  Detections: A (TP, .9), B on look-alike 0 (.8), C
    elsewhere (.3); D on look-alike 1 (.6), E elsewhere (.5)."""
    gt = LesionGT(image_ids=[7, 8], boxes=np.array([[0, 0, 10, 10]], float),
                  image_index=np.array([0]), ignore=np.array([False]))
    dets = Detections(np.array([[0, 0, 10, 10], [21, 21, 29, 29], [70, 70, 80, 80],
                                [51, 51, 59, 59], [0, 0, 5, 5]], float),
                      np.array([.9, .8, .3, .6, .5]), np.array([0, 0, 0, 1, 1]))
    boxes = [np.array([[20, 20, 30, 30]], float), np.array([[50, 50, 60, 60]], float)]
    return gt, dets, boxes


@pytest.mark.parametrize('rate, per_image, share, detected, thr', [
    (0.5, 0.5, 1.0, 0.5, .8),   # 1 FP kept: B
    (1.0, 1.0, 1.0, 1.0, .6),   # 2 FPs: B, D
    (2.0, 1.0, 0.5, 1.0, .3),   # 4 FPs: B, D, E, C
    (8.0, 1.0, 0.5, 1.0, -np.inf),  # fewer FPs than the budget: all of them
])
def test_hand_computed(rate, per_image, share, detected, thr):
    gt, dets, boxes = _case()
    out = distractor_fp_rate(gt, dets, boxes, fp_rate=rate)
    assert out['distractor_fp_per_image'] == pytest.approx(per_image)
    assert out['distractor_fp_share'] == pytest.approx(share)
    assert out['distractors_detected'] == pytest.approx(detected)
    assert out['score_threshold'] == thr and out['num_distractors'] == 2
    assert out['fp_per_image'] <= rate


def test_the_tp_is_never_a_lookalike_fp():
    gt, dets, boxes = _case()
    boxes[0] = np.array([[0, 0, 10, 10]], float)  # a look-alike box over the lesion
    out = distractor_fp_rate(gt, dets, boxes, fp_rate=0.5)
    assert out['distractor_fp_per_image'] == 0.0  # B, the one FP kept, is off it now


def test_wrong_number_of_box_lists():
    gt, dets, boxes = _case()
    with pytest.raises(ValueError, match='1 look-alike box lists for 2 evaluated images'):
        distractor_fp_rate(gt, dets, boxes[:1])


def _files(tmp_path, boxes):
    coco = {'images': [{'id': 7, 'file_name': 's/007.png', 'slice_interval': 2.0},
                       {'id': 8, 'file_name': 's/008.png', 'slice_interval': 2.0}],
            'annotations': [{'id': 1, 'image_id': 7, 'category_id': 1, 'bbox': [0, 0, 10, 10],
                             'area': 100, 'iscrowd': 0, 'noisy': 0}],
            'categories': [{'id': 1, 'name': 'lesion'}]}
    ann, dis = tmp_path / 'gt.json', tmp_path / 'distractors.json'
    ann.write_text(json.dumps(coco))
    dis.write_text(json.dumps({'boxes_xyxy_0based': boxes}))
    return str(ann), str(dis)


def test_froc_metric_reports_the_lookalike_keys(tmp_path):
    _, dets, _ = _case()
    ann, dis = _files(tmp_path, {'s/007.png': [[20, 20, 30, 30]],
                                 's/008.png': [[50, 50, 60, 60]]})
    metric = FROCMetric(ann_file=ann, distractor_file=dis, distractor_fp_rate=1.0,
                        breakdowns=())
    for i, img in enumerate((7, 8)):
        keep = dets.image_index == i
        metric.process({}, [{'img_id': img, 'pred_instances': {
            'bboxes': torch.tensor(dets.boxes[keep]), 'scores': torch.tensor(dets.scores[keep]),
            'labels': torch.zeros(int(keep.sum()), dtype=torch.long)}}])
    out = metric.evaluate(2)
    assert out['froc/distractor/fp_per_image'] == pytest.approx(1.0)
    assert out['froc/distractor/fp_share'] == pytest.approx(1.0)
    assert out['froc/distractor/detected'] == pytest.approx(1.0)


def test_froc_metric_distractor_file_errors(tmp_path):
    ann, dis = _files(tmp_path, {'s/007.png': [[20, 20, 30]]})
    with pytest.raises(ValueError, match=r"boxes of 's/007.png' are not a list of \[x1"):
        FROCMetric(ann_file=ann, distractor_file=dis)
    with pytest.raises(ValueError, match='distractor_file needs ann_file'):
        FROCMetric(distractor_file=dis)
    with pytest.raises(FileNotFoundError, match='distractor_file not found'):
        FROCMetric(ann_file=ann, distractor_file=str(tmp_path / 'missing.json'))
    (tmp_path / 'bad.json').write_text('[1, 2]')
    with pytest.raises(ValueError, match="expected an object with 'boxes_xyxy_0based'"):
        FROCMetric(ann_file=ann, distractor_file=str(tmp_path / 'bad.json'))
