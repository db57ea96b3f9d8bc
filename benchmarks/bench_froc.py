"""FROC speed on a DeepLesion-test-set-sized input: 4,817 images, 4,927 lesions, 50 detections
per image (240,850 detections), fixed seed.

    .venv/bin/python benchmarks/bench_froc.py [--repeats 5] [--plot out.png]

Prints, measured side by side in one run (best of ``--repeats``):
  * the numpy core (``evaluate_froc``, with the type / size / interval breakdowns);
  * the whole metric path: ``FROCMetric.process`` on mmdet-style data samples (torch
    tensors) + ``FROCMetric.evaluate`` (gt from a COCO json ``ann_file``, table logged);
  * the published per-detection Python loop (3DCE / MULAN ``FROC``) on the same input,
    overall sensitivity only, as the reference for the speed-up and the numbers.
Target: core and ``evaluate`` under 1 s. The machine's thread settings are left as they
are (numpy here is single-threaded for these operations anyway).
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
import time

import numpy as np

N_IMAGES, N_LESIONS, DETS_PER_IMAGE = 4817, 4927, 50


def make_input(seed: int = 0):
    """Synthetic DeepLesion-like test set: (coco gt dict, per-image boxes, per-image scores)."""
    rng = np.random.default_rng(seed)
    # every image has >= 1 lesion (key slices), 110 images have 2
    lesion_img = np.sort(np.concatenate(
        [np.arange(N_IMAGES), rng.choice(N_IMAGES, N_LESIONS - N_IMAGES, replace=False)]))
    spacing = rng.uniform(0.6, 0.98, N_IMAGES)
    interval = rng.choice([1.0, 1.25, 2.0, 2.5, 5.0], N_IMAGES, p=[.2, .1, .2, .1, .4])
    long_mm = np.clip(rng.lognormal(np.log(20), 0.6, N_LESIONS), 3, 300)
    long_px = long_mm / spacing[lesion_img]
    short_px = long_px * rng.uniform(0.4, 1.0, N_LESIONS)
    centre = rng.uniform(100, 412, (N_LESIONS, 2))
    wh = np.stack([long_px, short_px], 1)
    gt = np.concatenate([centre - wh / 2, centre + wh / 2], 1)
    types = rng.choice([-1, 1, 2, 3, 4, 5, 6, 7, 8], N_LESIONS)
    images = [{'id': i + 1, 'file_name': f'{i:06d}.png', 'width': 512, 'height': 512,
               'slice_interval': float(interval[i]), 'pixel_spacing': float(spacing[i]),
               'split': 'test'} for i in range(N_IMAGES)]
    anns = [{'id': j + 1, 'image_id': int(lesion_img[j]) + 1, 'category_id': 1,
             'bbox': [float(gt[j, 0]), float(gt[j, 1]), float(wh[j, 0]), float(wh[j, 1])],
             'area': float(wh[j, 0] * wh[j, 1]), 'iscrowd': 0, 'noisy': 0,
             'lesion_type': int(types[j]), 'long_diameter_mm': float(long_mm[j])}
            for j in range(N_LESIONS)]
    coco = {'images': images, 'annotations': anns,
            'categories': [{'id': 1, 'name': 'lesion'}]}
    boxes = np.empty((N_IMAGES, DETS_PER_IMAGE, 4))
    scores = np.empty((N_IMAGES, DETS_PER_IMAGE))
    c = rng.uniform(0, 512, (N_IMAGES, DETS_PER_IMAGE, 2))
    s = rng.uniform(8, 80, (N_IMAGES, DETS_PER_IMAGE, 2))
    boxes[...] = np.concatenate([c - s / 2, c + s / 2], 2)
    scores[...] = rng.beta(1.2, 12, (N_IMAGES, DETS_PER_IMAGE))
    # about 97 % of the lesions get a well-placed detection with a high score; the slot
    # depends on how many lesions the image has.
    first = np.searchsorted(lesion_img, lesion_img)
    slot = np.arange(N_LESIONS) - first
    found = rng.random(N_LESIONS) < 0.97
    jitter = rng.normal(0, 0.06, (N_LESIONS, 4)) * np.concatenate([wh, wh], 1)
    boxes[lesion_img[found], slot[found]] = gt[found] + jitter[found]
    scores[lesion_img[found], slot[found]] = rng.beta(2.5, 1.5, found.sum())
    return coco, boxes, scores


def best_of(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--plot', default=None, help='also write the FROC plot there')
    parser.add_argument('--skip-loop', action='store_true',
                        help='skip the (slow) published loop')
    args = parser.parse_args()

    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import logging

    import torch
    from mmengine.logging import MMLogger

    from acsdet.evaluation import FROCMetric
    from acsdet.evaluation.functional import (Detections, evaluate_froc, lesion_gt_from_coco,
                                              plot_froc_curves)
    from acsdet.testing import published_froc_sens_at
    MMLogger.get_instance('bench_froc', log_level='WARNING')  # keep the table quiet
    logging.getLogger('bench_froc').setLevel(logging.WARNING)

    coco, boxes, scores = make_input()
    gt = lesion_gt_from_coco(coco)
    dets = Detections(boxes.reshape(-1, 4), scores.reshape(-1),
                      np.repeat(np.arange(N_IMAGES), DETS_PER_IMAGE))
    print(f'input: {gt.num_images} images, {gt.num_lesions} lesions, '
          f'{len(dets.scores)} detections')

    t_core, res = best_of(lambda: evaluate_froc(gt, dets), args.repeats)
    t_core_nb, _ = best_of(lambda: evaluate_froc(gt, dets, breakdowns=()), args.repeats)

    with tempfile.TemporaryDirectory() as tmp:
        ann_file = osp.join(tmp, 'gt.json')
        with open(ann_file, 'w') as f:
            json.dump(coco, f)
        samples = [{'img_id': i + 1,
                    'pred_instances': {'bboxes': torch.from_numpy(boxes[i]).float(),
                                       'scores': torch.from_numpy(scores[i]).float(),
                                       'labels': torch.zeros(DETS_PER_IMAGE, dtype=torch.long)}}
                   for i in range(N_IMAGES)]
        metric = FROCMetric(ann_file=ann_file)

        def process():
            metric.results.clear()
            for k in range(0, N_IMAGES, 8):  # batches of 8
                metric.process({}, samples[k:k + 8])

        t_proc, _ = best_of(process, args.repeats)
        t_eval, metrics = best_of(lambda: metric.evaluate(N_IMAGES), 1)
        for _ in range(args.repeats - 1):  # evaluate() empties results: process again
            process()
            t0 = time.perf_counter()
            metrics = metric.evaluate(N_IMAGES)
            t_eval = min(t_eval, time.perf_counter() - t0)

    print('sensitivity @0.5,1,2,4,8,16: '
          + ' '.join(f'{100 * v:.2f}' for v in res.overall.sens_at)
          + f'  mean {100 * res.overall.mean:.2f}')
    assert abs(metrics['froc/mean'] - res.overall.mean) < 1e-12
    print(f'core evaluate_froc (with breakdowns):   {t_core * 1e3:8.1f} ms')
    print(f'core evaluate_froc (no breakdowns):     {t_core_nb * 1e3:8.1f} ms')
    print(f'FROCMetric.process, {N_IMAGES} samples:   {t_proc * 1e3:8.1f} ms')
    print(f'FROCMetric.evaluate (json gt + table):  {t_eval * 1e3:8.1f} ms')
    print(f'target 1 s: core {t_core:.3f} s ({1 / t_core:.1f}x under), '
          f'evaluate {t_eval:.3f} s ({1 / t_eval:.1f}x under), '
          f'process+evaluate {t_proc + t_eval:.3f} s')
    if not args.skip_loop:
        gts_all = [gt.boxes[gt.image_index == i] for i in range(N_IMAGES)]
        boxes_all = [np.concatenate([boxes[i], scores[i][:, None]], 1) for i in range(N_IMAGES)]
        t_loop, ref = best_of(lambda: published_froc_sens_at(boxes_all, gts_all,
                                                          res.overall.fp_rates), 1)
        same = np.allclose(ref, res.overall.sens_at, rtol=0, atol=1e-12)
        print(f'published per-detection loop:           {t_loop * 1e3:8.1f} ms '
              f'(core is {t_loop / t_core_nb:.0f}x faster; same sensitivities: {same})')
    if args.plot:
        plot_froc_curves([('synthetic test set', res.overall)], out_file=args.plot,
                         title=f'FROC (synthetic, {N_IMAGES} images, {N_LESIONS} lesions)')
        print(f'plot written to {args.plot}')


if __name__ == '__main__':
    main()
