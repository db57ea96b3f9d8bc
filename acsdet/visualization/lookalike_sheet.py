"""Contact sheet of the demo's lesions beside its look-alikes, across the slices around the
key slice: the picture that shows what only 3D context separates."""
import json
import os.path as osp
from typing import List, Sequence

import cv2
import numpy as np

from acsdet.data_prep.deeplesion_info import read_dl_info
from acsdet.datasets.transforms.slice_interpolation import blend_slices, slice_blend_plan
from acsdet.evaluation.functional import save_png_atomic
from acsdet.fileio.deeplesion_png import read_hu_png, slice_path

from .ct_window import apply_window

__all__ = ['lookalike_contact_sheet']

_BG = 48


def _stack(images_dir: str, series: str, key: int, slice_range, interval: float,
           num_slices: int) -> np.ndarray:
    plan = slice_blend_plan(key, slice_range, num_slices, interval, 2.0)
    return blend_slices(plan, lambda i: read_hu_png(slice_path(images_dir, series, i)))


def _tiles(stack: np.ndarray, box: Sequence[float], tile: int) -> List[np.ndarray]:
    """One soft-tissue tile per slice of ``stack`` (H, W, D), cropped around ``box``."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) * 1.5 + 4
    out = []
    for d in range(stack.shape[2]):
        m = np.float32([[tile / (2 * half), 0, tile / 2 - cx * tile / (2 * half)],
                        [0, tile / (2 * half), tile / 2 - cy * tile / (2 * half)]])
        crop = cv2.warpAffine(stack[:, :, d], m, (tile, tile), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=-1000.0)
        out.append(np.repeat(apply_window(crop, 'soft_tissue')[..., None], 3, axis=2))
    return out


def lookalike_contact_sheet(root: str, out_file: str, num: int = 6, split: str = 'test',
                            num_slices: int = 5, tile: int = 96) -> str:
    """Draw ``num`` lesions and ``num`` look-alikes of a demo dataset, one row each.

    Each row shows the key slice in the middle and the thickness-normalised slices at
    +-2 mm, +-4 mm ... around it (``num_slices`` in all, as the detector's loader builds
    them), cropped around the lesion's box (red rows' label: ``lesion``) or the look-alike's
    key-slice box (``look-alike``).  Lesions stay in place and shrink towards their ends;
    look-alikes drift and do not end.

    Args:
        root (str): A demo dataset folder (``DL_info.csv``, ``Images_png/``,
            ``distractors.json``).
        out_file (str): PNG to write (atomically).
        num (int): Lesions and look-alikes drawn (the first of ``split``). Default: 6.
        split (str): ``'train'``, ``'val'`` or ``'test'``. Default: ``'test'``.
        num_slices (int): Slices per row, odd. Default: 5.
        tile (int): Tile size in pixels. Default: 96.

    Returns:
        str: ``out_file``.

    Raises:
        FileNotFoundError: ``DL_info.csv`` or ``distractors.json`` is missing under ``root``.
        ValueError: the split has fewer than ``num`` lesions or look-alikes.
    """
    dis_file = osp.join(root, 'distractors.json')
    for f in (osp.join(root, 'DL_info.csv'), dis_file):
        if not osp.isfile(f):
            raise FileNotFoundError(f'lookalike_contact_sheet: {f} not found (write the '
                                    f'demo with data_prep/make_demo_deeplesion.py)')
    recs = [r for r in read_dl_info(osp.join(root, 'DL_info.csv')) if r.split == split]
    with open(dis_file) as f:
        boxes = json.load(f)['boxes_xyxy_0based']
    by_file = {f'{r.series}/{r.key_slice:03d}.png': r for r in recs}
    lookalikes = [(by_file[name], box) for name, bs in boxes.items() if name in by_file
                  for box in bs]
    if len(recs) < num or len(lookalikes) < num:
        raise ValueError(f'lookalike_contact_sheet: split {split!r} of {root} has '
                         f'{len(recs)} lesions and {len(lookalikes)} look-alikes, '
                         f'{num} of each wanted')
    images_dir = osp.join(root, 'Images_png')
    rows = []
    pairs = [(r, list(r.bbox), 'lesion') for r in recs[:num]]
    pairs += [(r, box, 'look-alike') for r, box in lookalikes[:num]]
    order = [p for pair in zip(pairs[:num], pairs[num:]) for p in pair]
    for rec, box, label in order:
        stack = _stack(images_dir, rec.series, rec.key_slice, rec.slice_range,
                       rec.slice_interval, num_slices)
        tiles = _tiles(stack, box, tile)
        head = np.full((tile, 84, 3), _BG, np.uint8)
        colour = (255, 90, 90) if label == 'lesion' else (90, 200, 255)
        cv2.putText(head, label, (4, tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                    cv2.LINE_AA)
        gap = np.full((tile, 4, 3), _BG, np.uint8)
        rows.append(np.hstack([head] + [x for t in tiles for x in (gap, t)]))
    width = rows[0].shape[1]
    offsets = [f'{2 * (d - num_slices // 2):+d} mm' for d in range(num_slices)]
    top = np.full((18, width, 3), _BG, np.uint8)
    for d, text in enumerate(offsets):
        cv2.putText(top, text, (84 + 4 + d * (tile + 4) + tile // 2 - 18, 13),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (235, 235, 235), 1, cv2.LINE_AA)
    sheet = np.vstack([top] + [x for r in rows
                               for x in (r, np.full((4, width, 3), _BG, np.uint8))])
    save_png_atomic(sheet, out_file)
    return out_file
