"""Convert DeepLesion (``DL_info.csv`` + ``Images_png/``) into COCO json files, one per split.

One COCO image per key slice (all its lesions), with the key-slice metadata the loader needs as
extra keys, and one annotation per lesion with a GrabCut pseudo-mask (COCO RLE).  The field
names follow the project contract (see ``docs/deeplesion_data.md``).

Bad input, case by case (every skip is logged with its row and counted in the report):

* malformed csv row: one-line :class:`DLInfoError`, or a counted skip with ``skip_bad_rows``;
* missing series folder / missing key-slice PNG: the key slice is skipped
  (``missing_series`` / ``missing_key_slice``);
* corrupt or 8-bit key-slice PNG, or a size other than ``Image_size``: the key slice is
  skipped (``bad_png`` / ``size_mismatch``);
* missing neighbour slices inside ``Slice_range``: the range is narrowed to the run of
  existing slices around the key slice (``narrowed_slice_range``), so the loader edge-
  replicates instead of failing;
* RECIST of zero length (either diameter shorter than 0.5 px): the lesion is skipped
  (``zero_recist``);
* RECIST end points outside the image: the lesion is skipped (``recist_outside``);
* box partly outside the image: clipped (``box_clipped``); wholly outside: skipped
  (``box_outside``);
* a key slice left without lesions: the image is dropped (``no_valid_lesions``);
* a csv row repeating an earlier row's lesion (same ``File_name``, ``Measurement_coordinates``
  and ``Bounding_boxes``): the repeat is dropped (``duplicate_row``, naming both rows); rows of
  one key slice with other geometry are its other lesions, as usual.

Before any work, the output folder gets a write probe (one-line
:class:`~acsdet.data_prep.output_guard.OutputNotWritableError`), so an unwritable location is
reported before GrabCut runs over the whole dataset.

Noisy lesions (``Possibly_noisy = 1``) are written with ``iscrowd = 1`` and ``noisy = 1``:
mmdet's loaders treat them as ignored (no training target); the FROC metric drops them by
default (the published protocol) or uses them as ignore regions.

Writes are atomic and all-or-nothing: the json files go to temporary files in the output
folder and replace the old ones (``os.replace``) only once all of them are written. The output is
deterministic: images sorted by file name, ids in that order, GrabCut seeded, so re-running the
conversion gives byte-identical files.
"""
import json
import logging
import os
import os.path as osp
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from acsdet.fileio.deeplesion_png import read_hu_png, slice_path

from .deeplesion_info import DLInfoRecord, drop_duplicate_rows, group_by_key_slice, read_dl_info
from .output_guard import check_writable, output_file_path, staged_output
from .recist_grabcut import recist_ellipse_mask, recist_grabcut_mask

__all__ = [
    'CATEGORIES', 'SPLITS', 'convert_key_slice', 'convert_deeplesion', 'atomic_write_json',
    'mask_quality_summary'
]

logger = logging.getLogger('acsdet.data_prep')

CATEGORIES = [{'id': 1, 'name': 'lesion', 'supercategory': 'lesion'}]
SPLITS = ('train', 'val', 'test')


def atomic_write_json(obj, path: str) -> None:
    """Write ``obj`` as compact json to ``path`` atomically, streamed; inside
    :func:`~acsdet.data_prep.output_guard.staged_output` the file is staged until the run
    succeeds."""
    with output_file_path(path) as tmp, open(tmp, 'w', encoding='utf-8') as f:
        json.dump(obj, f, separators=(',', ':'))


def _existing_run(images_dir: str, rec: DLInfoRecord) -> Tuple[int, int]:
    """The widest range inside ``slice_range`` of existing slices contiguous with the key."""
    folder = osp.join(images_dir, rec.series)
    names = set(os.listdir(folder))
    first, last = rec.slice_range
    lo = hi = rec.key_slice
    while lo - 1 >= first and f'{lo - 1:03d}.png' in names:
        lo -= 1
    while hi + 1 <= last and f'{hi + 1:03d}.png' in names:
        hi += 1
    return lo, hi


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts']}


def convert_key_slice(file_name: str, records: Sequence[DLInfoRecord], images_dir: str,
                      grabcut: bool = True, grabcut_cfg: Optional[dict] = None) -> dict:
    """Convert one key slice and its lesions (the unit of work of the parallel conversion).

    Args:
        file_name (str): Key-slice file name (``'000001_01_01_109.png'``).
        records (Sequence[DLInfoRecord]): Its lesions (rows of ``DL_info.csv``).
        images_dir (str): The ``Images_png`` folder.
        grabcut (bool): GrabCut masks (True) or RECIST ellipses only (False). Default: True.
        grabcut_cfg (dict, optional): Extra keyword args of :func:`recist_grabcut_mask`.

    Returns:
        dict: ``image`` (COCO image dict without ``id``, or None when the key slice is
        skipped), ``annotations`` (COCO annotation dicts without ids), ``events`` (list of
        ``(kind, row, message)``: skips and repairs), ``quality`` (list of
        ``(fallback, reason, mask_area, ellipse_area)`` per mask).
    """
    rec0 = records[0]
    events: List[Tuple[str, int, str]] = []
    rows = ','.join(str(r.row) for r in records)
    result = {'image': None, 'annotations': [], 'events': events, 'quality': []}

    folder = osp.join(images_dir, rec0.series)
    key_path = slice_path(images_dir, rec0.series, rec0.key_slice)
    if not osp.isdir(folder):
        events.append(('missing_series', rec0.row, f'rows {rows} ({file_name}): series '
                       f'folder not found: {folder}'))
        return result
    if not osp.isfile(key_path):
        events.append(('missing_key_slice', rec0.row, f'rows {rows} ({file_name}): key slice '
                       f'not found: {key_path}'))
        return result
    try:
        hu = read_hu_png(key_path)
    except (ValueError, FileNotFoundError) as err:
        events.append(('bad_png', rec0.row, f'rows {rows} ({file_name}): {err}'))
        return result
    h, w = hu.shape
    if (w, h) != tuple(rec0.image_size):
        events.append(('size_mismatch', rec0.row, f'rows {rows} ({file_name}): image is '
                       f'{w}x{h} but Image_size says {rec0.image_size[0]}x{rec0.image_size[1]}'))
        return result
    slice_range = _existing_run(images_dir, rec0)
    if slice_range != tuple(rec0.slice_range):
        events.append(('narrowed_slice_range', rec0.row, f'rows {rows} ({file_name}): slices '
                       f'missing in {list(rec0.slice_range)}; using {list(slice_range)}'))

    cfg = dict(grabcut_cfg or {})
    for rec in records:
        where = f'row {rec.row} ({file_name})'
        r = np.asarray(rec.recist, np.float64).reshape(2, 2, 2)
        lengths = np.linalg.norm(r[:, 1] - r[:, 0], axis=1)
        if lengths.min() < 0.5:
            events.append(('zero_recist', rec.row, f'{where}: RECIST diameter of zero length '
                           f'({lengths[0]:.2f}, {lengths[1]:.2f} px)'))
            continue
        pts = r.reshape(4, 2)
        if (pts < -1).any() or (pts[:, 0] > w).any() or (pts[:, 1] > h).any():
            events.append(('recist_outside', rec.row,
                           f'{where}: RECIST points outside the {w}x{h} image'))
            continue
        x1, y1, x2, y2 = rec.bbox
        cx1, cy1 = min(max(x1, 0.0), w - 1.0), min(max(y1, 0.0), h - 1.0)
        cx2, cy2 = min(max(x2, 0.0), w - 1.0), min(max(y2, 0.0), h - 1.0)
        if cx2 - cx1 < 1 or cy2 - cy1 < 1:
            events.append(('box_outside', rec.row,
                           f'{where}: box {list(rec.bbox)} lies outside the {w}x{h} image'))
            continue
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
            events.append(('box_clipped', rec.row, f'{where}: box {list(rec.bbox)} clipped to '
                           f'the {w}x{h} image'))
        box = (cx1, cy1, cx2, cy2)
        if grabcut:
            res = recist_grabcut_mask(hu, rec.recist, box, window=rec.dicom_window, **cfg)
            mask, fallback, reason, ell_area = res.mask, res.fallback, res.reason, \
                res.ellipse_area
        else:
            mask = recist_ellipse_mask(rec.recist, (h, w))
            fallback, reason, ell_area = True, 'ellipse_only', int(mask.sum())
        result['quality'].append((bool(fallback), reason, int(mask.sum()), ell_area))
        result['annotations'].append({
            'category_id': 1,
            'bbox': [cx1, cy1, cx2 - cx1, cy2 - cy1],
            'area': float(mask.sum()),
            'segmentation': _rle(mask),
            'iscrowd': int(rec.noisy),
            'lesion_type': rec.lesion_type,
            'recist': list(rec.recist),
            'long_diameter_mm': rec.long_diameter_mm,
            'short_diameter_mm': rec.short_diameter_mm,
            'noisy': int(rec.noisy),
            'mask_fallback': bool(fallback),
            'csv_row': rec.row,
        })
    if not result['annotations']:
        events.append(('no_valid_lesions', rec0.row,
                       f'rows {rows} ({file_name}): no valid lesion left; image dropped'))
        return result
    result['image'] = {
        'file_name': f'{rec0.series}/{rec0.key_slice:03d}.png',
        'width': w,
        'height': h,
        'series': rec0.series,
        'key_slice': rec0.key_slice,
        'slice_interval': rec0.slice_interval,
        'pixel_spacing': rec0.pixel_spacing,
        'slice_range': list(slice_range),
        'dicom_window': list(rec0.dicom_window),
        'gender': rec0.gender,
        'age': rec0.age,
        'split': rec0.split,
    }
    return result


def _work(args):
    return convert_key_slice(*args)


def mask_quality_summary(quality: Sequence[Tuple[bool, str, int, int]]) -> dict:
    """Summarise the pseudo-masks: fallback fraction and reasons, mask / ellipse area ratio.

    Args:
        quality (Sequence[tuple]): ``(fallback, reason, mask_area, ellipse_area)`` per mask.

    Returns:
        dict: ``num_masks``, ``num_fallbacks``, ``fallback_fraction``, ``fallback_reasons``,
        ``area_ratio`` (mask area / RECIST ellipse area over GrabCut masks: mean, median,
        p10, p90).
    """
    n = len(quality)
    fallbacks = [q for q in quality if q[0]]
    ratios = np.array([q[2] / max(q[3], 1) for q in quality if not q[0]], np.float64)
    stats = {}
    if len(ratios):
        stats = {'mean': float(ratios.mean()), 'median': float(np.median(ratios)),
                 'p10': float(np.percentile(ratios, 10)),
                 'p90': float(np.percentile(ratios, 90))}
    return {
        'num_masks': n,
        'num_fallbacks': len(fallbacks),
        'fallback_fraction': len(fallbacks) / n if n else 0.0,
        'fallback_reasons': dict(sorted(Counter(q[1] for q in fallbacks).items())),
        'area_ratio': stats,
    }


def convert_deeplesion(dl_info: str, images_dir: str, out_dir: str, workers: int = 0,
                       grabcut: bool = True, grabcut_cfg: Optional[dict] = None,
                       skip_bad_rows: bool = False, splits: Sequence[str] = SPLITS,
                       progress: bool = True, prefix: str = 'deeplesion') -> dict:
    """Convert ``DL_info.csv`` + ``Images_png`` into ``<out_dir>/<prefix>_<split>.json``.

    Args:
        dl_info (str): Path of ``DL_info.csv``.
        images_dir (str): The ``Images_png`` folder.
        out_dir (str): Output folder (``annotations/``).
        workers (int): Worker processes; 0 runs in this process. Default: 0.
        grabcut (bool): GrabCut pseudo-masks (else RECIST ellipses). Default: True.
        grabcut_cfg (dict, optional): Extra keyword args of :func:`recist_grabcut_mask`.
        skip_bad_rows (bool): Skip malformed csv rows instead of raising. Default: False.
        splits (Sequence[str]): Splits to write. Default: train, val, test.
        progress (bool): Show a progress bar. Default: True.
        prefix (str): File-name prefix. Default: ``'deeplesion'``.

    Returns:
        dict: The report (also written to ``<out_dir>/<prefix>_conversion_report.json``):
        per-split image/lesion counts, ``events`` counts per kind with their messages, and
        ``mask_quality`` (:func:`mask_quality_summary`).

    Raises:
        OutputNotWritableError: ``out_dir`` cannot be written (checked before any work).
        FileNotFoundError: ``dl_info`` does not exist.
        DLInfoError: A malformed csv row (unless ``skip_bad_rows``).
    """
    check_writable(out_dir)
    bad_rows: List[Tuple[int, str]] = []
    records = read_dl_info(dl_info, skip_bad_rows=skip_bad_rows, skipped=bad_rows)
    duplicates: List[Tuple[int, str]] = []
    records = drop_duplicate_rows(records, duplicates)
    groups = group_by_key_slice(records)
    tasks = [(name, recs, images_dir, grabcut, grabcut_cfg) for name, recs in groups.items()]
    if workers and workers > 0 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            it = pool.map(_work, tasks, chunksize=max(1, min(32, len(tasks) // (4 * workers))))
            results = list(_progress(it, len(tasks), progress))
    else:
        results = [_work(t) for t in _progress(tasks, len(tasks), progress)]

    events: Dict[str, List[str]] = {}
    for row, msg in bad_rows:
        events.setdefault('bad_row', []).append(msg)
    for row, msg in duplicates:
        events.setdefault('duplicate_row', []).append(msg)
        logger.warning('duplicate_row: %s', msg)
    quality = []
    images: Dict[str, list] = {s: [] for s in SPLITS}
    annotations: Dict[str, list] = {s: [] for s in SPLITS}
    img_id = ann_id = 0
    for res in results:  # already in sorted file-name order
        for kind, row, msg in res['events']:
            events.setdefault(kind, []).append(msg)
            logger.warning('%s: %s', kind, msg)
        if res['image'] is None:
            continue
        img_id += 1
        split = res['image']['split']
        images[split].append({'id': img_id, **res['image']})
        for ann in res['annotations']:
            ann_id += 1
            annotations[split].append({'id': ann_id, 'image_id': img_id, **ann})
        quality.extend(res['quality'])

    report = {'dl_info': osp.abspath(dl_info), 'splits': {},
              'events': {k: {'count': len(v), 'messages': v} for k, v in sorted(events.items())},
              'mask_quality': mask_quality_summary(quality)}
    with staged_output():  # all json files, or none of them
        for split in splits:
            coco = {
                'info': {'description': f'DeepLesion {split} split, converted by acsdet',
                         'split': split},
                'images': images[split],
                'annotations': annotations[split],
                'categories': CATEGORIES,
            }
            path = osp.join(out_dir, f'{prefix}_{split}.json')
            atomic_write_json(coco, path)
            report['splits'][split] = {
                'file': path, 'images': len(images[split]),
                'lesions': len(annotations[split]),
                'noisy_lesions': sum(a['noisy'] for a in annotations[split])}
        atomic_write_json(report, osp.join(out_dir, f'{prefix}_conversion_report.json'))
    return report


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc='key slices', unit='img')

