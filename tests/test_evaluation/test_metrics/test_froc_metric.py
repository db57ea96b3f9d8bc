"""FROCMetric: registry, keys, gt from ann_file or from the data samples, plots."""
import json

import numpy as np
import pytest
import torch

from acsdet.evaluation import FROCMetric
from acsdet.evaluation.functional import evaluate_froc, load_detections, load_lesion_gt
from acsdet.registry import METRICS


def make_case(n_img=12, seed=0):
    """A DeepLesion-style COCO gt and mmdet-style predictions (dicts with tensors)."""
    rng = np.random.default_rng(seed)
    images, anns, samples = [], [], []
    for i in range(n_img):
        img_id = 100 + i
        images.append({'id': img_id, 'file_name': f'{img_id}.png', 'width': 128, 'height': 128,
                       'slice_interval': [1.0, 2.5, 5.0][(i // 3) % 3], 'split': 'test'})
        boxes = []
        for k in range(i % 3):  # 0, 1 or 2 lesions
            x, y = rng.uniform(10, 90, 2)
            w, h = rng.uniform(5, 30, 2)
            boxes.append([x, y, x + w, y + h])
            anns.append({'id': len(anns) + 1, 'image_id': img_id, 'category_id': 1,
                         'bbox': [x, y, w, h], 'area': w * h,
                         'iscrowd': int(k == 1), 'noisy': int(k == 1),
                         'lesion_type': int(rng.choice([-1, 4, 5])),
                         'long_diameter_mm': float(rng.uniform(3, 50))})
        det = [np.array(b) + rng.normal(0, 2, 4) for b in boxes]
        det += [np.concatenate([c, c + rng.uniform(5, 30, 2)])
                for c in rng.uniform(0, 100, (5, 2))]
        det = np.array(det, np.float32)
        det[:, 2:] = np.maximum(det[:, 2:], det[:, :2] + 1)
        scores = rng.random(len(det)).astype(np.float32)
        scores[1:len(boxes)] = 0.99  # the detection of the noisy lesion (k == 1) ranks first
        samples.append({
            'img_id': img_id, 'ori_shape': (128, 128),
            'slice_interval': images[-1]['slice_interval'],
            'pred_instances': {'bboxes': torch.from_numpy(det),
                               'scores': torch.from_numpy(scores),
                               'labels': torch.zeros(len(det), dtype=torch.long)},
            'instances': [{'bbox': b, 'bbox_label': 0, 'ignore_flag': a['iscrowd'],
                           'lesion_type': a['lesion_type'],
                           'long_diameter_mm': a['long_diameter_mm']}
                          for b, a in zip(boxes, [a for a in anns if a['image_id'] == img_id])]})
    coco = {'images': images, 'annotations': anns, 'categories': [{'id': 1, 'name': 'lesion'}]}
    return coco, samples


def run_metric(metric, samples, batch=5):
    for k in range(0, len(samples), batch):
        metric.process({}, samples[k:k + batch])
    return metric.evaluate(len(samples))


@pytest.fixture
def case(tmp_path):
    coco, samples = make_case()
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(coco))
    return str(ann_file), samples


def test_registered_and_keys(case):
    ann_file, samples = case
    metric = METRICS.build(dict(type='FROCMetric', ann_file=ann_file))
    assert isinstance(metric, FROCMetric)
    out = run_metric(metric, samples)
    main = ['froc/sens@0.5', 'froc/sens@1', 'froc/sens@2', 'froc/sens@4', 'froc/sens@8',
            'froc/sens@16', 'froc/mean']
    assert list(out)[:7] == main
    assert {'froc/type/liver/mean', 'froc/size/10-30mm/mean', 'froc/interval/<=2mm/mean',
            'froc/interval/2-5mm/mean', 'froc/interval/>=5mm/mean'} <= set(out)
    assert not any(k.endswith('/count') for k in out)
    assert out['froc/mean'] == pytest.approx(np.mean([out[k] for k in main[:4]]))
    assert metric.last_result.num_images == len(samples)
    assert metric.results == []  # BaseMetric.evaluate resets between evaluations


def test_same_numbers_as_the_core_on_the_json(case):
    ann_file, samples = case
    out = run_metric(FROCMetric(ann_file=ann_file, breakdown_metrics='all'), samples)
    gt = load_lesion_gt(ann_file)
    res = [{'image_id': s['img_id'], 'bbox': [float(b[0]), float(b[1]), float(b[2] - b[0]),
                                              float(b[3] - b[1])], 'score': float(sc)}
           for s in samples for b, sc in zip(s['pred_instances']['bboxes'].double().numpy(),
                                             s['pred_instances']['scores'].double().numpy())]
    path = ann_file.replace('gt.json', 'res.json')
    with open(path, 'w') as f:
        json.dump(res, f)
    ref = evaluate_froc(gt, load_detections(path, gt)).to_metrics('all')
    assert out == pytest.approx({f'froc/{k}': v for k, v in ref.items()}, abs=1e-6)


@pytest.mark.parametrize('noisy', ['drop', 'ignore'])
def test_gt_from_data_samples_equals_ann_file(case, noisy):
    ann_file, samples = case
    from_json = run_metric(FROCMetric(ann_file=ann_file, noisy=noisy), samples)
    from_samples = run_metric(FROCMetric(ann_file=None, noisy=noisy), samples)
    assert from_samples == pytest.approx(from_json, abs=1e-6)
    assert from_json != pytest.approx(
        run_metric(FROCMetric(ann_file=ann_file, noisy='ignore' if noisy == 'drop' else 'drop'),
                   samples))


def test_options_change_the_result(case):
    ann_file, samples = case
    base = run_metric(FROCMetric(ann_file=ann_file, breakdowns=()), samples)
    assert set(base) == {'froc/sens@0.5', 'froc/sens@1', 'froc/sens@2', 'froc/sens@4',
                         'froc/sens@8', 'froc/sens@16', 'froc/mean'}
    loose = run_metric(FROCMetric(ann_file=ann_file, breakdowns=(), iou_thr=0.1), samples)
    center = run_metric(FROCMetric(ann_file=ann_file, breakdowns=(), hit_rule='center'),
                        samples)
    assert loose['froc/sens@16'] >= base['froc/sens@16']
    assert loose != base and center != base
    custom = run_metric(FROCMetric(ann_file=ann_file, fp_rates=(1, 3), mean_fp_rates=(1, 3),
                                   breakdowns=(), prefix='det'), samples)
    assert list(custom) == ['det/sens@1', 'det/sens@3', 'det/mean']


def test_duplicate_images_are_counted_once(case):
    ann_file, samples = case
    once = run_metric(FROCMetric(ann_file=ann_file), samples)
    twice = run_metric(FROCMetric(ann_file=ann_file), samples + samples[:3])
    assert twice == once


def test_out_dir_writes_one_png_per_evaluation(case, tmp_path):
    ann_file, samples = case
    metric = FROCMetric(ann_file=ann_file, out_dir=str(tmp_path / 'plots'))
    run_metric(metric, samples)
    run_metric(metric, samples)
    assert sorted(p.name for p in (tmp_path / 'plots').iterdir()) == ['froc_1.png',
                                                                      'froc_2.png']


def test_errors(case, tmp_path):
    ann_file, samples = case
    with pytest.raises(ValueError, match="FROCMetric: hit_rule must be one of"):
        FROCMetric(hit_rule='giou')
    with pytest.raises(ValueError, match="FROCMetric: noisy must be 'drop' or 'ignore'"):
        FROCMetric(noisy='keep')
    with pytest.raises(ValueError, match=r"FROCMetric: unknown breakdowns \['organ'\]"):
        FROCMetric(breakdowns=('organ', ))
    with pytest.raises(FileNotFoundError, match='FROCMetric ann_file not found: .*none.json'):
        FROCMetric(ann_file=str(tmp_path / 'none.json'))
    stray = dict(samples[0], img_id=999)
    with pytest.raises(ValueError, match=r'gt.json: 1 evaluated image ids are not in the '
                       r'ground truth, e\.g\. \[999\]'):
        run_metric(FROCMetric(ann_file=ann_file), [stray])
    no_gt = {k: v for k, v in samples[0].items() if k != 'instances'}
    with pytest.raises(KeyError, match="data sample of img_id 100 has no 'instances'"):
        FROCMetric().process({}, [no_gt])


def test_evaluator_with_det_data_samples(case):
    """Through mmengine's Evaluator with mmdet DetDataSample objects (what a Runner does)."""
    from mmdet.structures import DetDataSample
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData
    ann_file, samples = case
    evaluator = Evaluator(FROCMetric(ann_file=ann_file))
    for k in range(0, len(samples), 4):
        batch = []
        for s in samples[k:k + 4]:
            ds = DetDataSample(metainfo=dict(img_id=s['img_id'], ori_shape=s['ori_shape']))
            ds.pred_instances = InstanceData(**s['pred_instances'])
            batch.append(ds)
        evaluator.process(batch, {})
    out = evaluator.evaluate(len(samples))
    assert out == run_metric(FROCMetric(ann_file=ann_file), samples)
