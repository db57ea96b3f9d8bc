#!/usr/bin/env python
"""DeepLesion data benchmarks, measured side by side in one run on one core.

1. Multi-slice loading: samples/s/core for 7-slice 512x512 samples through the training
   pipeline (thickness normalisation to 2 mm incl. interpolation, HU clip/normalise, mask
   decoding, resize to 512, flip, shift/scale/rotate, packing to (1, 7, 512, 512)); without and
   with the per-sample stack cache.  Target: >= 20 samples/s/core.
2. GrabCut pseudo-masks: lesions/s/core with the crop around the box vs the published
   whole-image GrabCut, on the same lesions, and the IoU between the two masks.
   Target: >= 50 lesions/s/core (all 32,735 DeepLesion lesions in < 6 min on 2 cores).

"Per core": the process is pinned to one thread (cv2.setNumThreads(1),
torch.set_num_threads(1)); the data loader and the conversion scale by worker processes.

    python benchmarks/bench_data.py                       # generates demo data in a temp dir
    python benchmarks/bench_data.py --root data/deeplesion_demo --split train
"""
import argparse
import json
import os.path as osp
import tempfile
import time

import cv2
import numpy as np
import torch


def bench_loading(root, split, n, cache_dir):
    from mmengine.registry import init_default_scope
    init_default_scope('acsdet')
    import acsdet.datasets  # noqa: F401
    from acsdet.registry import DATASETS

    def build(cache):
        pipeline = [
            dict(type='LoadDeepLesionSlices', num_slices=7, cache_dir=cache),
            dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=(512, 512), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='RandomShiftScaleRotate', prob=0.5),
            dict(type='PackMultiSliceDetInputs'),
        ]
        return DATASETS.build(dict(
            type='DeepLesionDataset', data_root=root,
            ann_file=f'annotations/deeplesion_{split}.json',
            data_prefix=dict(img='Images_png/'), pipeline=pipeline))

    results = {}
    for name, cache in (('no cache', None), ('cache (warm)', cache_dir)):
        ds = build(cache)
        if cache:
            for i in range(len(ds)):  # fill the cache first
                ds[i]
        ds[0]
        np.random.seed(0)
        t = time.perf_counter()
        for i in range(n):
            out = ds[i % len(ds)]
        dt = time.perf_counter() - t
        assert out['inputs'].shape[:2] == (1, 7)
        results[name] = n / dt
    return results


def bench_grabcut(root, split, repeats):
    from acsdet.data_prep.recist_grabcut import recist_grabcut_mask
    from acsdet.fileio.deeplesion_png import read_hu_png
    coco = json.load(open(osp.join(root, 'annotations', f'deeplesion_{split}.json')))
    by_id = {im['id']: im for im in coco['images']}
    lesions = []
    for a in coco['annotations']:
        im = by_id[a['image_id']]
        hu = read_hu_png(osp.join(root, 'Images_png', im['file_name']))
        x, y, w, h = a['bbox']
        lesions.append((hu, a['recist'], (x, y, x + w, y + h), im['dicom_window']))
    out = {}
    masks = {}
    for name, crop, reps in (('crop', True, repeats), ('whole image', False, 1)):
        t = time.perf_counter()
        for _ in range(reps):
            masks[name] = [recist_grabcut_mask(hu, r, b, window=win, crop=crop)
                           for hu, r, b, win in lesions]
        out[name] = reps * len(lesions) / (time.perf_counter() - t)
    ious = [(m1.mask & m2.mask).sum() / max((m1.mask | m2.mask).sum(), 1)
            for m1, m2 in zip(masks['crop'], masks['whole image'])]
    fallbacks = sum(m.fallback for m in masks['crop'])
    return out, len(lesions), float(np.mean(ious)), fallbacks


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--root', help='converted DeepLesion(-format) folder (default: generate '
                   'a 512x512 demo set in a temp dir)')
    p.add_argument('--split', default='train')
    p.add_argument('--samples', type=int, default=60, help='samples timed per variant')
    p.add_argument('--grabcut-repeats', type=int, default=3)
    args = p.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            from acsdet.data_prep.deeplesion_demo import prepare_demo_deeplesion
            root = prepare_demo_deeplesion(osp.join(tmp, 'demo'), num_series=30,
                                           image_size=512)['root']
        load = bench_loading(root, args.split, args.samples, osp.join(tmp, 'cache'))
        gc, n_les, iou, fb = bench_grabcut(root, args.split, args.grabcut_repeats)
    print(f'data: {root} ({args.split}), 1 thread')
    print('7-slice 512x512 loading incl. interpolation + augmentation (target >= 20):')
    for k, v in load.items():
        print(f'  {k:14s} {v:7.1f} samples/s/core')
    print(f'  cache speed-up  {load["cache (warm)"] / load["no cache"]:.1f}x')
    print(f'GrabCut pseudo-masks on {n_les} lesions (target >= 50):')
    for k, v in gc.items():
        print(f'  {k:14s} {v:7.1f} lesions/s/core')
    print(f'  crop speed-up   {gc["crop"] / gc["whole image"]:.1f}x; mean IoU crop vs whole '
          f'{iou:.3f}; crop fallbacks {fb}/{n_les}')
    print(f'  all 32,735 DeepLesion lesions on 2 cores: '
          f'{32735 / (2 * gc["crop"]) / 60:.1f} min (crop) vs '
          f'{32735 / (2 * gc["whole image"]) / 60:.1f} min (whole image)')


if __name__ == '__main__':
    main()
