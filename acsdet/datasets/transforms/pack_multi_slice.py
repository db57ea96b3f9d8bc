"""Pack an (H, W, D) slice stack as a (1, D, H, W) tensor with an mmdet ``DetDataSample``."""
from typing import Sequence

import numpy as np
from mmdet.datasets.transforms import PackDetInputs

from acsdet.registry import TRANSFORMS

__all__ = ['PackMultiSliceDetInputs', 'project_index_points']


def project_index_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2k) flat ``x, y`` pixel-index points with a 3x3 continuous-coordinate map.

    Pixel-index coordinates (centre of pixel ``i`` at ``i``, as RECIST points) are moved to
    continuous coordinates (``+0.5``), mapped, and moved back (``-0.5``), so the points stay on
    the same image content as cv2's resize/warp and mmdet's box transforms.

    Args:
        points (np.ndarray): (N, 2k) ``x1, y1, x2, y2, ...``.
        matrix (np.ndarray): (3, 3) homography.

    Returns:
        np.ndarray: (N, 2k) float32.
    """
    pts = np.asarray(points, np.float64)
    n = pts.shape[0]
    xy = pts.reshape(n, pts.shape[1] // 2, 2) + 0.5
    hom = np.concatenate([xy, np.ones(xy.shape[:2] + (1,))], axis=2) @ np.asarray(
        matrix, np.float64).T
    out = hom[..., :2] / hom[..., 2:3] - 0.5
    return out.reshape(pts.shape).astype(np.float32)


@TRANSFORMS.register_module()
class PackMultiSliceDetInputs(PackDetInputs):
    """mmdet's ``PackDetInputs`` for a slice stack: ``inputs`` is (1, D, H, W) float32.

    Besides boxes, labels and masks, ``gt_recists`` (from :class:`LoadDeepLesionAnnotations`)
    are mapped through the geometry recorded since loading (``homography_matrix``) and packed
    as ``gt_instances.recists`` (N, 8) (ignored instances go to ``ignored_instances``).
    ``flip``/``flip_direction``/``scale_factor`` default to ``False``/``None``/``(1, 1)`` when
    no transform set them, so train and test samples carry the same metainfo.

    Args:
        meta_keys (Sequence[str]): Metainfo keys. Default: mmdet's plus ``slice_interval``,
            ``pixel_spacing``, ``series``, ``key_slice``.
    """
    mapping_table = dict(PackDetInputs.mapping_table, gt_recists='recists')

    def __init__(self, meta_keys: Sequence[str] = (
            'img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
            'flip_direction', 'slice_interval', 'pixel_spacing', 'series', 'key_slice')):
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if img is not None and img.ndim == 2 and len(results.get('slice_positions', ())) == 1:
            # a one-slice stack (LoadDeepLesionSlices with D = 1, a 2D model): cv2-based
            # transforms (Resize ...) drop a trailing axis of length 1
            img = results['img'] = img[..., None]
        if img is None or img.ndim != 3:
            raise ValueError(f'{results.get("img_path")}: expected an (H, W, D) slice stack, '
                             f'got {None if img is None else img.shape}')
        results.setdefault('flip', False)
        results.setdefault('flip_direction', None)
        results.setdefault('scale_factor', (1.0, 1.0))
        if results.get('gt_recists') is not None:
            base = results.get('recist_base_matrix', np.eye(3))
            cur = results.get('homography_matrix')
            if cur is not None:
                rel = np.asarray(cur, np.float64) @ np.linalg.inv(np.asarray(base, np.float64))
                results['gt_recists'] = project_index_points(results['gt_recists'], rel)
                results['recist_base_matrix'] = np.asarray(cur, np.float32).copy()
        packed = super().transform(results)
        packed['inputs'] = packed['inputs'].unsqueeze(0)
        return packed
