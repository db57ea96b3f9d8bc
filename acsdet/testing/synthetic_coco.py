"""A tiny COCO-format instance-segmentation dataset generated on the fly.

Used by the smoke config (``configs/smoke/``) and the tool tests to prove the
mmdet/mmengine stack end to end on a CPU without downloading anything.
"""
import os
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from acsdet.data_prep.deeplesion_coco import atomic_write_json


def _draw_image(rng: np.random.Generator, size: int, max_objects: int):
    """One grey-noise image with 1..max_objects bright ellipses; returns image, masks."""
    img = rng.normal(60, 12, (size, size)).clip(0, 255).astype(np.uint8)
    masks: List[np.ndarray] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        m = np.zeros((size, size), np.uint8)
        cx, cy = rng.integers(size // 6, size - size // 6, 2)
        ax = int(rng.integers(size // 16, size // 6))
        ay = int(rng.integers(size // 16, size // 6))
        cv2.ellipse(m, (int(cx), int(cy)), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 1, -1)
        img[m > 0] = np.clip(rng.normal(190, 15, int(m.sum())), 0, 255).astype(np.uint8)
        masks.append(m)
    return np.repeat(img[..., None], 3, axis=2), masks


def make_synthetic_coco(root: str, num_train: int = 8, num_val: int = 4, size: int = 128,
                        max_objects: int = 3, seed: int = 0) -> Dict[str, str]:
    """Write ``root/{train,val}/*.png`` and ``root/annotations/{train,val}.json``.

    Args:
        root (str): Output folder (created).
        num_train (int): Training images. Defaults to 8.
        num_val (int): Validation images. Defaults to 4.
        size (int): Image side in pixels. Defaults to 128.
        max_objects (int): At most this many ellipses ("blob" class) per image.
        seed (int): Random seed; the same seed writes the same files.

    Returns:
        dict: ``{'train': ann_file, 'val': ann_file}``, paths relative to ``root``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    out = {}
    ann_id = 1
    for split, n in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns = [], []
        for i in range(n):
            img, masks = _draw_image(rng, size, max_objects)
            name = f'{split}/{i:04d}.png'
            cv2.imwrite(osp.join(root, name), img)
            image_id = i + 1
            images.append(dict(id=image_id, file_name=name, width=size, height=size))
            for m in masks:
                rle = mask_utils.encode(np.asfortranarray(m))
                x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
                rle['counts'] = rle['counts'].decode('ascii')
                anns.append(dict(id=ann_id, image_id=image_id, category_id=1,
                                 bbox=[x, y, w, h], area=float(mask_utils.area(rle)),
                                 segmentation=rle, iscrowd=0))
                ann_id += 1
        rel = f'annotations/{split}.json'
        atomic_write_json(
            dict(images=images, annotations=anns, categories=[dict(id=1, name='blob')]),
            osp.join(root, rel))
        out[split] = rel
    return out
