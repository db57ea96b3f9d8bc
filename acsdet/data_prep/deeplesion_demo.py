"""A small synthetic dataset in the exact DeepLesion layout, for demos and tests.

:func:`make_demo_deeplesion` writes ``<root>/Images_png/<series>/<slice:03d>.png`` (16-bit,
value = HU + 32768) and ``<root>/DL_info.csv`` with the real file's header, quoting and
number formats.  Each series is a short CT stack around one key slice:

* anatomy: a real DeepLesion key slice from ``../shared/data/deeplesion_keyslices`` (8-bit JPEG,
  HU [-1024, 3071] -> [0, 255], converted back to HU) when that folder exists, else a synthetic
  body phantom; neighbouring slices are the anatomy slowly rescaled and shifted with the
  distance in mm, plus noise, so the stack changes smoothly along z;
* 1-2 lesions per key slice: ellipsoids (soft edges, texture; soft tissue in the lungs, else
  50-110 HU above or below the surrounding tissue)
  that extend over several slices (their z half-length is in mm), placed on the real lesion
  boxes of the anatomy image when it has them;
* RECIST: long and short axis of the lesion's cross-section on the key slice (with half-pixel
  annotation jitter), boxes = RECIST extent +- 5 px, like DeepLesion; 1-based in the csv;
* slice intervals 1, 2 and 5 mm, key slices near and away from the stack ends (edge
  replication), all three splits, a few noisy rows, empty ages, decimal DICOM windows.

:func:`prepare_demo_deeplesion` generates the data (if missing) and runs the COCO conversion
(if missing): one idempotent call for configs and the README's demo.
"""
import csv
import glob
import io
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional

import cv2
import numpy as np

from acsdet.fileio.deeplesion_png import write_hu_png
from acsdet.utils.atomic_write import write_text_atomic

from .deeplesion_coco import convert_deeplesion
from .deeplesion_info import DL_INFO_COLUMNS
from .output_guard import check_writable

__all__ = ['anatomy_pools', 'blob_box', 'default_anatomy_dir', 'make_demo_deeplesion',
           'prepare_demo_deeplesion']

_INTERVALS = (1.0, 2.0, 5.0, 2.0, 5.0, 1.0, 2.0, 5.0)
_WINDOWS = ((-175.0, 275.0), (-175.0, 275.0), (-1500.0, 500.0), (-177.5, 307.5),
            (-175.0, 275.0), (-160.0, 240.0))


def default_anatomy_dir() -> Optional[str]:
    """``$ACSDET_SHARED/data/deeplesion_keyslices`` or ``<repo>/../shared/data/...``."""
    shared = os.environ.get('ACSDET_SHARED')
    if shared is None:
        repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
        shared = osp.join(osp.dirname(repo), 'shared')
    path = osp.join(shared, 'data', 'deeplesion_keyslices')
    return path if osp.isdir(path) else None


def _fmt(values) -> str:
    """Numbers the way DL_info.csv writes them: ``%g`` with 6 significant digits."""
    return ', '.join(f'{float(v):.6g}' for v in values)


def _phantom(size: int, rng: np.random.Generator) -> np.ndarray:
    """A body-like HU slice: air, fat rim, soft tissue, lungs, spine."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    hu = np.full((size, size), -1000.0, np.float32)
    body = ((xx - 0.5) / 0.42) ** 2 + ((yy - 0.52) / 0.32) ** 2
    hu[body <= 1.0] = -100.0
    hu[body <= 0.85] = 40.0 + rng.uniform(-10, 10)
    for cx in (0.33, 0.67):
        hu[((xx - cx) / 0.12) ** 2 + ((yy - 0.45) / 0.17) ** 2 <= 1.0] = -820.0
    hu[((xx - 0.5) / 0.05) ** 2 + ((yy - 0.75) / 0.05) ** 2 <= 1.0] = 500.0
    return cv2.GaussianBlur(hu, (0, 0), 1.5)


def anatomy_pools(anatomy_dir: Optional[str]) -> Dict[str, List[str]]:
    """The anatomy images per split: ``train/*.jpg`` serve the train and val series,
    ``test/*.jpg`` the test series (so the test anatomy is never seen in training); a folder
    without that split layout serves every split.  Empty lists = the synthetic phantom."""
    if not anatomy_dir:
        return {'train': [], 'val': [], 'test': []}
    train = sorted(glob.glob(osp.join(anatomy_dir, 'train', '*.jpg')))
    test = sorted(glob.glob(osp.join(anatomy_dir, 'test', '*.jpg')))
    if not (train and test):
        files = sorted(glob.glob(osp.join(anatomy_dir, '**', '*.jpg'), recursive=True))
        return {'train': files, 'val': files, 'test': files}
    return {'train': train, 'val': train, 'test': test}


def _read_anatomy(path: str, size: int):
    """(HU slice, real lesion boxes (x1, y1, x2, y2) in pixels) of one key-slice JPEG."""
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f'cannot read anatomy image {path}')
    hu = img.astype(np.float32) / 255.0 * 4095.0 - 1024.0
    if hu.shape != (size, size):
        hu = cv2.resize(hu, (size, size), interpolation=cv2.INTER_AREA)
    boxes = []
    tru = osp.splitext(path)[0] + '.tru'
    if osp.isfile(tru):
        with open(tru, encoding='utf-8-sig') as f:
            tru_lines = f.read().splitlines()
        for line in tru_lines:
            p = line.split()
            if len(p) == 5:
                ymin, xmin, ymax, xmax = (float(v) * size for v in p[1:])
                boxes.append((xmin, ymin, xmax, ymax))
    return hu, boxes


def _anatomy(files: List[str], use: int, size: int, rng: np.random.Generator):
    """(HU slice, lesion boxes) for the ``use``-th series drawn from ``files``.

    Every other pass over the files is mirrored; each use gets its own small similarity
    transform (rotation +-8 deg, scale 0.92-1.08, shift +-4 %), so repeated anatomy differs.
    """
    if not files:
        return _phantom(size, rng), []
    hu, boxes = _read_anatomy(files[use % len(files)], size)
    if (use // len(files)) % 2 == 1:
        hu = hu[:, ::-1].copy()
        boxes = [(size - b[2], b[1], size - b[0], b[3]) for b in boxes]
    m = cv2.getRotationMatrix2D((size / 2, size / 2), float(rng.uniform(-8, 8)),
                                float(rng.uniform(0.92, 1.08)))
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * size
    hu = cv2.warpAffine(hu, m, (size, size), flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=-1000.0)
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    moved = []
    for x1, y1, x2, y2 in boxes:
        cx, cy = m @ np.array([(x1 + x2) / 2, (y1 + y2) / 2, 1.0])
        hw, hh = scale * (x2 - x1) / 2, scale * (y2 - y1) / 2
        moved.append((cx - hw, cy - hh, cx + hw, cy + hh))
    return hu, moved


def _local_hu(anatomy: np.ndarray, cx: float, cy: float, r: float) -> float:
    """Median HU of the anatomy within ``r`` px of (cx, cy)."""
    size = anatomy.shape[0]
    yy, xx = np.ogrid[:size, :size]
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= max(r, 1.5) ** 2
    return float(np.median(anatomy[disc]))


def _blob_params(anatomy: np.ndarray, cx: float, cy: float, a: float,
                 rng: np.random.Generator) -> dict:
    """Cross-section shape and HU of a lesion or a look-alike: the same rule for both.

    Semi-axes ``a`` and ``b = a * U(0.55, 0.9)``, a random rotation; in lung / air
    soft tissue (0-60 HU, a nodule / a vessel), else the local tissue +- 50-110 HU.
    """
    local = _local_hu(anatomy, cx, cy, a)
    if local < -300:
        target = rng.uniform(0.0, 60.0)
    else:
        target = local + rng.choice([-1, 1]) * rng.uniform(50, 110)
    return dict(cx=float(cx), cy=float(cy), a=float(a), b=float(a * rng.uniform(0.55, 0.9)),
                theta=float(rng.uniform(0, np.pi)), target=float(target),
                texture=float(rng.uniform(5, 15)))


def _semi_axis(spacing: float, size: int, rng: np.random.Generator) -> float:
    """Long semi-axis in px for a long diameter of U(18, 55) mm (the upper half of
    DeepLesion's size range, so that lesions stay several pixels wide at the demo's 128 px)."""
    return float(np.clip(rng.uniform(18.0, 55.0) / 2 / spacing, 3.0, 0.09 * size))


def _free(cx, cy, a, placed, gap):
    return all(np.hypot(cx - p['cx'], cy - p['cy']) > a + p['a'] + gap for p in placed)


def _place(anatomy, placed, a, size, rng, gap):
    """A centre inside the body (local HU > -900), clear of ``placed``; None after 50 tries."""
    for _ in range(50):
        cx, cy = rng.uniform(0.22, 0.78) * size, rng.uniform(0.25, 0.75) * size
        if _free(cx, cy, a, placed, gap) and _local_hu(anatomy, cx, cy, a) > -900:
            return cx, cy
    return None


def _lesion_params(anatomy, boxes, size, spacing, n, rng):
    """``n`` lesions (at least one per real lesion box of the anatomy, which they cover)."""
    lesions = []
    for j in range(max(n, len(boxes))):
        if j < len(boxes):
            x1, y1, x2, y2 = boxes[j]
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            a = float(np.clip(max(x2 - x1, y2 - y1) / 2 + 2, 3.0, 0.09 * size))
            a = max(a, _semi_axis(spacing, size, rng))
        else:
            a = _semi_axis(spacing, size, rng)
            spot = _place(anatomy, lesions, a, size, rng, gap=0.04 * size)
            if spot is None and lesions:
                continue
            cx, cy = spot or (size / 2, size / 2)
        les = _blob_params(anatomy, cx, cy, a, rng)
        # an ellipsoid in z: half-length about the in-plane size, centred near the key slice
        les.update(c_mm=float(np.clip(a * spacing * rng.uniform(0.7, 1.2), 4.0, 30.0)),
                   z0_mm=float(rng.uniform(-0.25, 0.25) * a * spacing))
        lesions.append(les)
    return lesions


def _distractor_params(anatomy, lesions, size, spacing, n, rng):
    """``n`` look-alikes: on every slice an ellipse drawn by the lesions' rule (size, shape,
    HU), whose centre drifts in-plane by U(0.6, 1.0) long semi-axes per 2 mm of z and which
    runs through the whole stack (a lesion ends where its ellipsoid does)."""
    out = []
    for _ in range(n):
        a = _semi_axis(spacing, size, rng)
        spot = _place(anatomy, lesions + out, a, size, rng, gap=0.06 * size)
        if spot is None:
            continue
        dis = _blob_params(anatomy, spot[0], spot[1], a, rng)
        phi = rng.uniform(0, 2 * np.pi)
        drift = rng.uniform(0.6, 1.0) * a / 2.0  # px per mm
        dis.update(vx=float(drift * np.cos(phi)), vy=float(drift * np.sin(phi)))
        out.append(dis)
    return out


def _paint(hu: np.ndarray, blob: dict, cx: float, cy: float, s: float,
           rng: np.random.Generator):
    """Blend an ellipse (semi-axes scaled by ``s``) at (cx, cy) into ``hu``."""
    a, b = blob['a'] * s, blob['b'] * s
    r = int(np.ceil(blob['a'])) + 4
    h, w = hu.shape
    x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 1, w)
    y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    ct, st = np.cos(blob['theta']), np.sin(blob['theta'])
    u = (xx - cx) * ct + (yy - cy) * st
    v = -(xx - cx) * st + (yy - cy) * ct
    rad = np.sqrt((u / max(a, 0.5)) ** 2 + (v / max(b, 0.5)) ** 2)
    # partial-volume edge about one pixel wide, as on real CT
    weight = 1.0 / (1.0 + np.exp(np.clip((rad - 1.0) * max(b, 0.5) / 0.7, -50, 50)))
    tex = rng.normal(0.0, blob['texture'], weight.shape).astype(np.float32)
    patch = hu[y0:y1, x0:x1]
    hu[y0:y1, x0:x1] = patch + weight * (blob['target'] + tex - patch)


def _add_lesion(hu: np.ndarray, les: dict, z_mm: float, rng: np.random.Generator):
    """Paint the cross-section of an ellipsoid lesion at ``z_mm`` from its centre slice."""
    dz = (z_mm - les['z0_mm']) / les['c_mm']
    if abs(dz) >= 1.0:
        return
    _paint(hu, les, les['cx'], les['cy'], float(np.sqrt(1.0 - dz * dz)), rng)


def _add_distractor(hu: np.ndarray, dis: dict, z_mm: float, rng: np.random.Generator):
    """Paint a look-alike's cross-section at ``z_mm``: full size, centre moved by the drift."""
    _paint(hu, dis, dis['cx'] + dis['vx'] * z_mm, dis['cy'] + dis['vy'] * z_mm, 1.0, rng)


def blob_box(blob: dict, margin: float = 0.0) -> List[float]:
    """Axis-aligned box (x1, y1, x2, y2), 0-based px, of a blob's key-slice ellipse, grown
    by ``margin`` px on every side."""
    ct, st = np.cos(blob['theta']), np.sin(blob['theta'])
    hw = float(np.hypot(blob['a'] * ct, blob['b'] * st)) + margin
    hh = float(np.hypot(blob['a'] * st, blob['b'] * ct)) + margin
    return [blob['cx'] - hw, blob['cy'] - hh, blob['cx'] + hw, blob['cy'] + hh]


def _recist(les: dict, z_mm: float, rng: np.random.Generator) -> np.ndarray:
    """RECIST end points (0-based) of the lesion's cross-section at the key slice."""
    dz = (z_mm - les['z0_mm']) / les['c_mm']
    s = np.sqrt(max(1.0 - dz * dz, 0.05))
    a, b = les['a'] * s, les['b'] * s
    ct, st = np.cos(les['theta']), np.sin(les['theta'])
    c = np.array([les['cx'], les['cy']])
    long_ = [c - a * np.array([ct, st]), c + a * np.array([ct, st])]
    short = [c - b * np.array([-st, ct]), c + b * np.array([-st, ct])]
    pts = np.concatenate(long_ + short) + rng.uniform(-0.5, 0.5, 8)
    return pts


# split of series i by i % 10: 6 train, 1 val, 3 test, interleaved so that any 10 series
# hold all three splits (1 = train, 2 = val, 3 = test, as DL_info.csv's Train_Val_Test)
_SPLIT_PATTERN = (1, 1, 2, 1, 3, 1, 1, 3, 1, 3)
_SPLIT_NAMES = {1: 'train', 2: 'val', 3: 'test'}


def make_demo_deeplesion(root: str, num_series: int = 200, image_size: int = 512,
                         seed: int = 0, anatomy_dir: Optional[str] = 'default',
                         distractors: bool = True) -> dict:
    """Write a DeepLesion-format demo dataset (``Images_png/`` + ``DL_info.csv``) to ``root``.

    Also writes ``<root>/distractors.json`` (not part of DeepLesion's layout): the look-alikes'
    key-slice boxes (their ellipse's extent +- 5 px, as DeepLesion's lesion boxes), keyed by
    the converted COCO images' ``file_name`` (``<series>/<key:03d>.png``), for the
    look-alike false-positive rate (``FROCMetric(distractor_file=...)``).

    Args:
        root (str): Output folder (created; an existing ``Images_png`` is replaced).
        num_series (int): Number of series = key slices, split 6:1:3 into train / val / test.
            Default: 200 (120 / 20 / 60).
        image_size (int): Slice size in pixels (DeepLesion: 512). Default: 512.
        seed (int): Random seed; the output is a deterministic function of the arguments.
            Default: 0.
        anatomy_dir (str or None): Folder with ``{train,test}/*.jpg`` DeepLesion key slices
            used as anatomy (see :func:`anatomy_pools`); ``'default'`` =
            :func:`default_anatomy_dir`; None = phantom.
        distractors (bool): Add 1-2 lesion look-alikes per series that only the slices
            around the key slice tell apart (see ``docs/deeplesion_data.md``). Default: True.

    Returns:
        dict: ``root``, ``dl_info`` (csv path), ``images_dir``, ``distractors_json``,
        ``num_series``, ``num_lesions``, ``num_distractors``, ``num_slices``, ``lesions`` (the
        generating parameters per csv row: centre ``cx, cy`` and semi-axes ``a, b`` in pixels,
        rotation ``theta``, z half-length ``c_mm`` and centre ``z0_mm`` relative to the key
        slice, lesion HU ``target``) and ``distractors`` (the same, with the drift ``vx, vy``
        in px per mm and the key-slice ``box``).

    Raises:
        OutputNotWritableError: ``root`` cannot be written (checked before any work).
    """
    check_writable(root)
    if anatomy_dir == 'default':
        anatomy_dir = default_anatomy_dir()
    pools = anatomy_pools(anatomy_dir)
    uses = {'train': 0, 'val': 0, 'test': 0}
    rng = np.random.default_rng(seed)
    images_dir = osp.join(root, 'Images_png')
    if osp.isdir(images_dir):
        shutil.rmtree(images_dir)
    os.makedirs(images_dir)
    rows = []
    truth = []
    looks = []
    per_image = {}
    num_slices = 0
    for i in range(num_series):
        series = f'{i + 1:06d}_01_01'
        split = _SPLIT_PATTERN[i % 10]
        name = _SPLIT_NAMES[split]
        interval = _INTERVALS[i % len(_INTERVALS)]
        spacing = float(np.round(rng.uniform(0.62, 0.98), 6)) * 512 / image_size
        # train and val draw from one pool in turn, so they share its order
        pool = 'train' if name == 'val' else name
        anatomy, boxes = _anatomy(pools[name], uses[pool], image_size, rng)
        uses[pool] += 1
        n_les = int(rng.choice([1, 1, 2, 2, 3]))
        lesions = _lesion_params(anatomy, boxes, image_size, spacing, n_les, rng)
        n_dis = int(rng.choice([1, 2])) if distractors else 0
        dis_list = _distractor_params(anatomy, lesions, image_size, spacing, n_dis, rng)
        # stack extent: about +-8 mm (D = 9 at 2 mm), sometimes cut short on one side
        half = int(np.clip(round(8.0 / interval), 2, 8))
        below = half if i % 5 else max(half // 3, 1)
        above = half if i % 7 != 3 else 0
        key = int(rng.integers(20, 150))
        first, last = key - below, key + above
        centre = np.array([image_size / 2, image_size / 2])
        for idx in range(first, last + 1):
            z = (idx - key) * interval
            scale = 1.0 + 0.0025 * z
            shift = np.array([0.08 * z, -0.05 * z])
            m = np.hstack([scale * np.eye(2), (centre - scale * centre + shift)[:, None]])
            sl = cv2.warpAffine(anatomy, m, (image_size, image_size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=-1000.0)
            sl = sl + rng.normal(0.0, 8.0, sl.shape).astype(np.float32)
            for les in lesions:
                _add_lesion(sl, les, z, rng)
            for dis in dis_list:
                _add_distractor(sl, dis, z, rng)
            write_hu_png(osp.join(images_dir, series, f'{idx:03d}.png'), sl)
            num_slices += 1
        file_name = f'{series}_{key:03d}.png'
        # keyed by the COCO file_name; +-5 px as DeepLesion's lesion boxes
        boxes_5px = [blob_box(d, 5.0) for d in dis_list]
        per_image[f'{series}/{key:03d}.png'] = boxes_5px
        looks += [dict(d, series=series, key_slice=key, box=box)
                  for d, box in zip(dis_list, boxes_5px)]
        window = _WINDOWS[i % len(_WINDOWS)]
        gender = 'M' if rng.random() < 0.5 else 'F'
        age = '' if i % 9 == 4 else str(int(rng.integers(18, 90)))
        for j, les in enumerate(lesions):
            truth.append(dict(les, series=series, key_slice=key, slice_interval=interval,
                              slice_range=[first, last]))
            rec = _recist(les, 0.0, rng)
            xs, ys = rec[0::2], rec[1::2]
            box = [xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5]
            d_long = np.hypot(rec[2] - rec[0], rec[3] - rec[1])
            d_short = np.hypot(rec[6] - rec[4], rec[7] - rec[5])
            noisy = 1 if (i * 3 + j) % 13 == 5 else 0
            rows.append({
                'File_name': file_name, 'Patient_index': i + 1,
                'Study_index': 1, 'Series_ID': 1, 'Key_slice_index': key,
                'Measurement_coordinates': _fmt(rec + 1.0),
                'Bounding_boxes': _fmt(np.array(box) + 1.0),
                'Lesion_diameters_Pixel_': _fmt([d_long, d_short]),
                'Normalized_lesion_location': _fmt([les['cx'] / image_size,
                                                    les['cy'] / image_size,
                                                    rng.uniform(0.2, 0.9)]),
                'Coarse_lesion_type': int(rng.choice([-1, -1, 2, 3, 4, 5, 6, 7, 8])),
                'Possibly_noisy': noisy,
                'Slice_range': f'{first}, {last}',
                'Spacing_mm_px_': _fmt([spacing, spacing, interval]),
                'Image_size': f'{image_size}, {image_size}',
                'DICOM_windows': _fmt(window),
                'Patient_gender': gender, 'Patient_age': age, 'Train_Val_Test': split})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=DL_INFO_COLUMNS, lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    dl_info = osp.join(root, 'DL_info.csv')
    write_text_atomic(dl_info, buf.getvalue())
    dis_json = osp.join(root, 'distractors.json')
    write_text_atomic(dis_json, json.dumps(
        {'image_size': image_size, 'boxes_xyxy_0based': per_image}, indent=1))
    return {'root': root, 'dl_info': dl_info, 'images_dir': images_dir,
            'distractors_json': dis_json, 'num_series': num_series,
            'num_lesions': len(rows), 'num_distractors': len(looks),
            'num_slices': num_slices, 'lesions': truth, 'distractors': looks}


def prepare_demo_deeplesion(root: str, num_series: int = 200, image_size: int = 512,
                            seed: int = 0, distractors: bool = True, workers: int = 0,
                            force: bool = False, progress: bool = False) -> Dict[str, str]:
    """Generate the demo dataset and convert it to COCO, each step only when needed.

    A stamp file (``<root>/.acsdet_demo.json``) records the arguments; the data are
    regenerated when it is missing or differs, or with ``force``; the conversion runs when any
    ``annotations/deeplesion_*.json`` is missing or the data were regenerated.

    Args:
        root (str): Dataset folder.
        num_series (int): See :func:`make_demo_deeplesion`. Default: 200.
        image_size (int): See :func:`make_demo_deeplesion`. Default: 512.
        seed (int): See :func:`make_demo_deeplesion`. Default: 0.
        distractors (bool): See :func:`make_demo_deeplesion`. Default: True.
        workers (int): Conversion worker processes. Default: 0.
        force (bool): Regenerate and reconvert. Default: False.
        progress (bool): Progress bar during the conversion. Default: False.

    Returns:
        dict[str, str]: ``root``, ``images_dir``, ``dl_info``, ``ann_dir``,
        ``distractors_json`` and ``train``/``val``/``test`` json paths.
    """
    anatomy = default_anatomy_dir()
    params = {'num_series': num_series, 'image_size': image_size, 'seed': seed,
              'distractors': bool(distractors),
              'anatomy': 'keyslices' if anatomy else 'phantom', 'version': 4}
    stamp = osp.join(root, '.acsdet_demo.json')
    ann_dir = osp.join(root, 'annotations')
    paths = {'root': root, 'images_dir': osp.join(root, 'Images_png'),
             'dl_info': osp.join(root, 'DL_info.csv'), 'ann_dir': ann_dir,
             'distractors_json': osp.join(root, 'distractors.json')}
    paths.update({s: osp.join(ann_dir, f'deeplesion_{s}.json') for s in ('train', 'val', 'test')})
    old = None
    if osp.isfile(stamp):
        with open(stamp) as f:
            old = json.load(f)
    regenerate = force or old != params or not osp.isfile(paths['dl_info'])
    if regenerate:
        check_writable(root)
        os.makedirs(root, exist_ok=True)
        if osp.isfile(stamp):
            os.remove(stamp)
        make_demo_deeplesion(root, num_series, image_size, seed, anatomy_dir=anatomy,
                             distractors=distractors)
    if regenerate or not all(osp.isfile(paths[s]) for s in ('train', 'val', 'test')):
        convert_deeplesion(paths['dl_info'], paths['images_dir'], ann_dir, workers=workers,
                           progress=progress)
    if regenerate:
        write_text_atomic(stamp, json.dumps(params))
    return paths

