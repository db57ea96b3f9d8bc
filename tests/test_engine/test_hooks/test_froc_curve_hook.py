"""FROCCurveHook: per-evaluation PNGs, overlay, visualizer push; save_best on froc/mean."""
import json
from types import SimpleNamespace

import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

from acsdet.engine.hooks import FROCCurveHook
from acsdet.evaluation import FROCMetric
from acsdet.registry import HOOKS

N_IMG = 6


def _gt_json(path):
    images = [{'id': i, 'file_name': f'{i}.png', 'slice_interval': 2.0} for i in range(N_IMG)]
    anns = [{'id': i + 1, 'image_id': i, 'bbox': [10, 10, 20, 20], 'iscrowd': 0, 'noisy': 0,
             'lesion_type': 4, 'long_diameter_mm': 15.0} for i in range(N_IMG)]
    path.write_text(json.dumps({'images': images, 'annotations': anns,
                                'categories': [{'id': 1, 'name': 'lesion'}]}))
    return str(path)


class ToyDetector(BaseModel):
    """One weight ``w``; image i gets a hit (score 0.5 + 0.05 i) and an FP whose score
    grows with ``w``, so the FROC changes as training moves ``w`` from 0 towards 1."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return {'loss': ((self.w - 1) ** 2).sum()}
        out = []
        for i in data_samples['img_id']:  # pseudo_collate: {'img_id': [ids of the batch]}
            i = int(i)
            fp_score = float(0.3 + 0.6 * self.w.detach().clamp(0, 1)) - 0.01 * i
            out.append({'img_id': i, 'pred_instances': {
                'bboxes': torch.tensor([[10., 10., 30., 30.], [60., 60., 80., 80.]]),
                'scores': torch.tensor([0.5 + 0.05 * i, fp_score]),
                'labels': torch.zeros(2, dtype=torch.long)}})
        return out


def _loader():
    data = [{'inputs': torch.zeros(1), 'data_samples': {'img_id': i}} for i in range(N_IMG)]
    return dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
                batch_size=2, collate_fn=dict(type='pseudo_collate'))


def test_runner_train_with_val_plots_and_keeps_best(tmp_path):
    ann_file = _gt_json(tmp_path / 'gt.json')
    work_dir = tmp_path / 'work'
    runner = Runner(
        model=ToyDetector(), work_dir=str(work_dir), default_scope='acsdet',
        train_dataloader=_loader(), val_dataloader=_loader(),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1), val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.2)),
        val_evaluator=dict(type='FROCMetric', ann_file=ann_file),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           save_best='froc/mean', rule='greater')),
        custom_hooks=[dict(type='FROCCurveHook')],
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]))
    runner.train()
    froc_dir = work_dir / 'froc'
    assert sorted(p.name for p in froc_dir.iterdir()) == [
        'froc_all.png', 'froc_epoch_1.png', 'froc_epoch_2.png']
    hook = next(h for h in runner.hooks if isinstance(h, FROCCurveHook))
    assert [label for label, _ in hook.history['froc']] == ['epoch 1', 'epoch 2']
    means = [c.mean for _, c in hook.history['froc']]
    assert means[0] > means[1]  # the FP detections overtake the hits as w grows
    # epoch 1 had the better froc/mean: that is the checkpoint kept as best
    assert (work_dir / 'best_froc_mean_epoch_1.pth').is_file()
    vis_images = list(work_dir.glob('*/vis_data/vis_image/froc_curve_*.png'))
    assert len(vis_images) == 2
    scalars = [json.loads(ln) for ln in next(work_dir.glob('*/vis_data/scalars.json'))
               .read_text().splitlines()]
    assert [round(s['froc/mean'], 6) for s in scalars if 'froc/mean' in s] == \
        [round(m, 6) for m in means]


def _fake_runner(tmp_path, metrics, epoch=3, it=120):
    added = []
    visualizer = SimpleNamespace(add_image=lambda name, image, step: added.append(
        (name, image.shape, step)))
    evaluator = SimpleNamespace(metrics=metrics)
    return SimpleNamespace(work_dir=str(tmp_path), epoch=epoch, iter=it, visualizer=visualizer,
                           val_loop=SimpleNamespace(evaluator=evaluator),
                           test_loop=SimpleNamespace(evaluator=evaluator)), added


def _evaluated_metric(tmp_path, **kw):
    metric = FROCMetric(ann_file=_gt_json(tmp_path / 'gt.json'), **kw)
    model = ToyDetector()
    for k in range(0, N_IMG, 3):
        metric.process({}, model([], {'img_id': list(range(k, k + 3))}, mode='predict'))
    metric.evaluate(N_IMG)
    return metric


def test_hook_names_by_iter_and_skips_stale_results(tmp_path):
    metric = _evaluated_metric(tmp_path, prefix='det')
    other = SimpleNamespace(last_result=None)  # a non-FROC metric is left alone
    runner, added = _fake_runner(tmp_path, [other, metric])
    hook = HOOKS.build(dict(type='FROCCurveHook', by_epoch=False, overlay=False))
    hook.after_val_epoch(runner, {})
    assert sorted(p.name for p in (tmp_path / 'froc').iterdir()) == ['det_iter_120.png']
    assert added == [('det_curve', (500, 700, 3), 120)]
    hook.after_val_epoch(runner, {})  # no new evaluation since: nothing plotted again
    assert len(added) == 1
    hook.after_test_epoch(runner, {})  # same result, already plotted
    assert len(added) == 1


def test_hook_test_loop_and_options(tmp_path):
    metric = _evaluated_metric(tmp_path)
    runner, added = _fake_runner(tmp_path, [metric])
    hook = FROCCurveHook(out_dir=str(tmp_path / 'plots'), push_to_visualizer=False)
    hook.after_test_epoch(runner, {})
    assert sorted(p.name for p in (tmp_path / 'plots').iterdir()) == ['froc_test.png']
    assert added == [] and hook.history == {}  # test curves are not part of the overlay
