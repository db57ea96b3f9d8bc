"""Reading FROC inputs: DeepLesion COCO gt, COCO results json, mmdet .pkl."""
import json
import pickle

import numpy as np
import pytest
import torch

from acsdet.evaluation.functional import (LesionGT, detections_from_coco_results,
                                          lesion_gt_from_coco, load_detections, load_lesion_gt)


def _coco():
    return {
        'images': [
            {'id': 1, 'file_name': 'a', 'slice_interval': 1.0, 'split': 'test'},
            {'id': 2, 'file_name': 'b', 'slice_interval': 5.0, 'split': 'test'},
            {'id': 3, 'file_name': 'c', 'slice_interval': 2.5, 'split': 'val'},
        ],
        'annotations': [
            {'id': 1, 'image_id': 1, 'bbox': [10, 20, 30, 40], 'iscrowd': 0, 'noisy': 0,
             'lesion_type': 4, 'long_diameter_mm': 12.5},
            {'id': 2, 'image_id': 2, 'bbox': [0, 0, 5, 5], 'iscrowd': 1, 'noisy': 1,
             'lesion_type': -1, 'long_diameter_mm': None},
            {'id': 3, 'image_id': 3, 'bbox': [1, 1, 2, 2], 'iscrowd': 0, 'noisy': 0,
             'lesion_type': 5, 'long_diameter_mm': 40.0},
        ],
        'categories': [{'id': 1, 'name': 'lesion'}],
    }


def test_gt_from_coco_drop_ignore_split():
    gt = lesion_gt_from_coco(_coco(), noisy='drop')
    assert gt.image_ids == [1, 2, 3] and gt.num_lesions == 2
    np.testing.assert_array_equal(gt.boxes, [[10, 20, 40, 60], [1, 1, 3, 3]])  # xywh -> xyxy
    np.testing.assert_array_equal(gt.image_index, [0, 2])
    np.testing.assert_array_equal(gt.lesion_type, [4, 5])
    np.testing.assert_array_equal(gt.slice_interval, [1.0, 5.0, 2.5])
    gt = lesion_gt_from_coco(_coco(), noisy='ignore', split='test')
    assert gt.image_ids == [1, 2]
    np.testing.assert_array_equal(gt.ignore, [False, True])
    assert np.isnan(gt.long_diameter_mm[1]) and gt.num_lesions == 1
    # without a 'noisy' key, iscrowd marks the noisy lesions
    coco = _coco()
    for a in coco['annotations']:
        del a['noisy'], a['lesion_type'], a['long_diameter_mm']
    gt = lesion_gt_from_coco(coco, noisy='ignore')
    np.testing.assert_array_equal(gt.ignore, [False, True, False])
    assert gt.lesion_type is None and gt.long_diameter_mm is None


def test_gt_chosen_images_in_order():
    gt = lesion_gt_from_coco(_coco(), image_ids=[3, 1])
    assert gt.image_ids == [3, 1]
    np.testing.assert_array_equal(gt.image_index, [1, 0])
    with pytest.raises(ValueError, match=r'src.json: 1 evaluated image ids are not in the '
                       r'ground truth, e\.g\. \[7\]'):
        lesion_gt_from_coco(_coco(), image_ids=[1, 7], source='src.json')


@pytest.mark.parametrize('mutate, message', [
    (lambda c: c.pop('images'), "expected a COCO dict with 'images' and 'annotations'"),
    (lambda c: c['annotations'][1].update(bbox=[0, 0, 5]),
     r'annotations\[1\]: bbox must be 4 numbers \[x, y, w, h\], got \[0, 0, 5\]'),
    (lambda c: c['annotations'][0].update(bbox=[0, 0, -1, 5]), r'annotations\[0\]: bbox must '
     r'be finite with w, h >= 0'),
    (lambda c: c['annotations'][2].update(image_id=99),
     r"annotations\[2\]: image_id 99 is not in 'images'"),
    (lambda c: c['images'][0].pop('id'), r"images\[0\] has no 'id'"),
])
def test_gt_errors_name_the_file_and_entry(tmp_path, mutate, message):
    coco = _coco()
    mutate(coco)
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=f'^{path}: {message}'):
        load_lesion_gt(str(path))


def test_gt_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='ground-truth file not found: .*nope.json'):
        load_lesion_gt(str(tmp_path / 'nope.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match=f'^{bad}: not valid json'):
        load_lesion_gt(str(bad))
    with pytest.raises(ValueError, match="no image has split 'train'"):
        lesion_gt_from_coco(_coco(), split='train')
    with pytest.raises(ValueError, match="noisy must be 'drop' or 'ignore'"):
        lesion_gt_from_coco(_coco(), noisy='keep')


def test_coco_results(tmp_path):
    gt = lesion_gt_from_coco(_coco())
    res = [{'image_id': 2, 'bbox': [0, 0, 5, 5], 'score': 0.5, 'category_id': 1},
           {'image_id': 1, 'bbox': [1, 2, 3, 4], 'score': 0.25, 'category_id': 1}]
    path = tmp_path / 'res.json'
    path.write_text(json.dumps(res))
    dets = load_detections(str(path), gt)
    np.testing.assert_array_equal(dets.boxes, [[0, 0, 5, 5], [1, 2, 4, 6]])
    np.testing.assert_array_equal(dets.scores, [0.5, 0.25])
    np.testing.assert_array_equal(dets.image_index, [1, 0])
    res.append({'image_id': 42, 'bbox': [0, 0, 1, 1], 'score': 0.1})
    path.write_text(json.dumps(res))
    with pytest.raises(ValueError, match=f'^{path}: 1 image ids are not in the ground truth, '
                       r'e\.g\. \[42\]$'):
        load_detections(str(path), gt)
    assert len(load_detections(str(path), gt, unknown='drop').scores) == 2
    with pytest.raises(ValueError, match=r"r.json: result \[0\] needs 'image_id', 'bbox' and "
                       "'score'"):
        detections_from_coco_results([{'image_id': 1}], gt, 'r.json')
    with pytest.raises(ValueError, match=r"result \[0\] \(image_id 1\): score must be a number, "
                       r"got 'x'$"):
        detections_from_coco_results([{'image_id': 1, 'bbox': [0, 0, 1, 1], 'score': 'x'}], gt)
    with pytest.raises(ValueError, match='expected a list of COCO results, got dict'):
        detections_from_coco_results({}, gt)
    with pytest.raises(FileNotFoundError, match='results file not found'):
        load_detections(str(tmp_path / 'none.json'), gt)


def _mmdet_results():
    return [
        {'img_id': 3, 'img_path': 'c.png', 'scale_factor': (1.0, 1.0),
         'pred_instances': {'bboxes': torch.tensor([[1., 1., 3., 3.], [5., 5., 9., 9.]]),
                            'scores': torch.tensor([0.75, 0.5]),
                            'labels': torch.zeros(2, dtype=torch.long)}},
        {'img_id': 1, 'pred_instances': {'bboxes': torch.zeros((0, 4)),
                                         'scores': torch.zeros(0),
                                         'labels': torch.zeros(0, dtype=torch.long)},
         'gt_instances': {'bboxes': np.zeros((1, 4), np.float32)}},
    ]


@pytest.mark.parametrize('protocol', [2, pickle.HIGHEST_PROTOCOL])
def test_mmdet_pkl_results(tmp_path, protocol):
    gt = lesion_gt_from_coco(_coco())
    path = tmp_path / 'res.pkl'
    path.write_bytes(pickle.dumps(_mmdet_results(), protocol=protocol))
    dets = load_detections(str(path), gt)
    np.testing.assert_array_equal(dets.boxes, [[1, 1, 3, 3], [5, 5, 9, 9]])
    np.testing.assert_allclose(dets.scores, [0.75, 0.5])
    np.testing.assert_array_equal(dets.image_index, [2, 2])


class _Payload:
    def __reduce__(self):
        return (print, ('this must not run',))


def test_pkl_with_code_is_refused(tmp_path, capsys):
    gt = LesionGT([1], np.zeros((0, 4)), [])
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps([_Payload()]))
    with pytest.raises(ValueError, match=f'^{path}: refusing to unpickle builtins.print'):
        load_detections(str(path), gt)
    assert 'this must not run' not in capsys.readouterr().out
    path.write_bytes(b'not a pickle')
    with pytest.raises(ValueError, match=f'^{path}: not a readable pickle'):
        load_detections(str(path), gt)
    path.write_bytes(pickle.dumps([{'img_id': 1}]))
    with pytest.raises(ValueError, match=r"image 0 \(img_id 1\): no 'pred_instances' dict$"):
        load_detections(str(path), gt)


def test_check_detections_is_shared_by_both_formats():
    from acsdet.evaluation.functional.froc_io import check_detections
    where = 'f: entry {}'.format
    check_detections(np.array([[0, 0, 0, 5]]), np.array([7.5]), where)  # empty box, score > 1
    check_detections(np.zeros((0, 4)), np.zeros(0), where)
    for boxes, scores, fmt, message in [
            ([[0, 0, 1, 1], [10, 5, 4, 9]], [0.5, 0.5], 'xyxy',
             'f: entry 1: box [10, 5, 4, 9] has x2 < x1'),
            ([[0, 3, 1, 2]], [0.5], 'xyxy', 'f: entry 0: box [0, 3, 1, 2] has y2 < y1'),
            ([[10, 5, -6, 4]], [0.5], 'xywh', 'f: entry 0: bbox [x, y, w, h] [10, 5, -6, 4] has '
             'w < 0'),
            ([[0, np.nan, 1, 1]], [0.5], 'xyxy', 'f: entry 0: box [0, nan, 1, 1] is not finite'),
            ([[0, 0, 1, 1]], [np.inf], 'xywh', 'f: entry 0: score inf is not finite')]:
        with pytest.raises(ValueError) as exc:
            check_detections(np.array(boxes, float), np.array(scores), where, fmt)
        assert str(exc.value) == message
