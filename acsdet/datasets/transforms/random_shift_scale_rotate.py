"""One random shift + rescale + rotation for every slice, box, mask and RECIST point."""
import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from acsdet.registry import TRANSFORMS

from .pack_multi_slice import project_index_points

__all__ = ['RandomShiftScaleRotate', 'pixel_to_index_affine']

# cv2 image functions accept at most CV_CN_MAX = 512 channels
_CV_MAX_CHANNELS = 512


def pixel_to_index_affine(matrix: np.ndarray) -> np.ndarray:
    """Turn a 3x3 map in continuous pixel coordinates (mmdet boxes; pixel ``i`` spans
    ``[i, i + 1)``) into the 2x3 map cv2 applies to pixel indices (centre of pixel ``i`` at
    ``i``): ``T(-0.5) @ matrix @ T(0.5)``."""
    t = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], np.float64)
    t_inv = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], np.float64)
    return (t_inv @ matrix @ t)[:2]


def _warp(arr: np.ndarray, m: np.ndarray, size: Tuple[int, int], flags: int,
          border: float) -> np.ndarray:
    """cv2.warpAffine over (H, W[, C]) with any C (chunks of 512 channels)."""
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 2 or arr.shape[2] <= _CV_MAX_CHANNELS:
        out = cv2.warpAffine(arr, m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border)
        return out.reshape(size[1], size[0], *arr.shape[2:])
    parts = [_warp(arr[:, :, i:i + _CV_MAX_CHANNELS], m, size, flags, border)
             for i in range(0, arr.shape[2], _CV_MAX_CHANNELS)]
    return np.concatenate(parts, axis=2)


@TRANSFORMS.register_module()
class RandomShiftScaleRotate(BaseTransform):
    """Random affine augmentation (shift, isotropic rescale, rotation about the centre).

    The same matrix warps the (H, W, D) slice stack (bilinear, border = ``border_value``) and
    the masks (nearest); it is recorded in ``homography_matrix`` so that
    :class:`PackMultiSliceDetInputs` maps the RECIST points the same way.  Boxes
    (``bbox_mode``): ``'recist'`` rebuilds each box the way DeepLesion defines it, as the
    extent of the mapped RECIST end points plus the box's own margins around them (5 px in
    DeepLesion) times the scale, so a rotation does not inflate it; ``'project'`` (mmdet's
    way, and the fallback without ``gt_recists``) takes the box enclosing the mapped corners.
    Boxes are clipped to the image.  Instances whose box
    becomes smaller than ``min_bbox_size`` (pushed out of the image) are removed from every
    per-instance key.  The image size does not change.

    Args:
        prob (float): Probability of applying the transform. Default: 0.5.
        max_shift (float): Max shift as a fraction of the image width / height. Default: 0.05.
        scale_range (Sequence[float]): Scale factor range. Default: (0.85, 1.15).
        max_rotate (float): Max rotation in degrees (uniform in +-max_rotate). Default: 15.
        border_value (float): Fill value of the image outside the source (0 = air after
            :class:`LoadDeepLesionSlices`). Default: 0.0.
        min_bbox_size (float): Boxes narrower or shorter than this (pixels) are dropped.
            Default: 2.0.
        bbox_mode (str): ``'recist'`` or ``'project'`` (see above). Default: ``'recist'``.
    """

    def __init__(self, prob: float = 0.5, max_shift: float = 0.05,
                 scale_range: Sequence[float] = (0.85, 1.15), max_rotate: float = 15.0,
                 border_value: float = 0.0, min_bbox_size: float = 2.0,
                 bbox_mode: str = 'recist'):
        if bbox_mode not in ('recist', 'project'):
            raise ValueError(f"bbox_mode must be 'recist' or 'project', got {bbox_mode!r}")
        self.bbox_mode = bbox_mode
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if not 0 < scale_range[0] <= scale_range[1]:
            raise ValueError(f'scale_range must be (low, high) with 0 < low <= high, '
                             f'got {scale_range}')
        self.prob = prob
        self.max_shift = max_shift
        self.scale_range = tuple(scale_range)
        self.max_rotate = max_rotate
        self.border_value = border_value
        self.min_bbox_size = min_bbox_size

    @staticmethod
    def affine_matrix(width: int, height: int, shift: Tuple[float, float], scale: float,
                      angle: float) -> np.ndarray:
        """3x3 map in continuous pixel coordinates: rotate by ``angle`` degrees and scale
        about the image centre, then shift by ``shift`` pixels."""
        cx, cy = width / 2.0, height / 2.0
        a = math.radians(angle)
        ca, sa = math.cos(a) * scale, math.sin(a) * scale
        return np.array([[ca, -sa, cx - ca * cx + sa * cy + shift[0]],
                         [sa, ca, cy - sa * cx - ca * cy + shift[1]],
                         [0.0, 0.0, 1.0]], np.float64)

    def _random_matrix(self, width: int, height: int) -> Optional[np.ndarray]:
        if np.random.rand() >= self.prob:
            return None
        shift = (np.random.uniform(-self.max_shift, self.max_shift) * width,
                 np.random.uniform(-self.max_shift, self.max_shift) * height)
        scale = np.random.uniform(*self.scale_range)
        angle = np.random.uniform(-self.max_rotate, self.max_rotate)
        return self.affine_matrix(width, height, shift, scale, angle)

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        matrix = self._random_matrix(w, h)
        if matrix is None:
            return results
        return self.apply(results, matrix)

    def apply(self, results: dict, matrix: np.ndarray) -> dict:
        """Apply a given 3x3 continuous-coordinate ``matrix`` (see :meth:`affine_matrix`)."""
        img = results['img']
        h, w = img.shape[:2]
        m_idx = pixel_to_index_affine(matrix)
        results['img'] = _warp(img, m_idx, (w, h), cv2.INTER_LINEAR, self.border_value)
        if results.get('gt_masks') is not None:
            masks = results['gt_masks']
            arr = masks.masks if hasattr(masks, 'masks') else np.asarray(masks)
            if len(arr):
                warped = _warp(np.ascontiguousarray(arr.transpose(1, 2, 0)), m_idx, (w, h),
                               cv2.INTER_NEAREST, 0).transpose(2, 0, 1)
            else:
                warped = np.zeros((0, h, w), np.uint8)
            results['gt_masks'] = type(masks)(warped, h, w)
        if results.get('gt_bboxes') is not None:
            boxes = results['gt_bboxes']
            recists = results.get('gt_recists')
            if self.bbox_mode == 'recist' and recists is not None and len(recists):
                boxes.tensor = boxes.tensor.new_tensor(
                    self._boxes_from_recist(results, boxes.tensor.numpy(), matrix))
            else:
                boxes.project_(matrix)
            boxes.clip_((h, w))
            t = boxes.tensor
            keep = ((t[:, 2] - t[:, 0] >= self.min_bbox_size)
                    & (t[:, 3] - t[:, 1] >= self.min_bbox_size)).numpy()
            if not keep.all():
                for key in ('gt_bboxes', 'gt_bboxes_labels', 'gt_masks', 'gt_ignore_flags',
                            'gt_recists'):
                    if results.get(key) is not None:
                        results[key] = results[key][keep]
        prev = results.get('homography_matrix')
        results['homography_matrix'] = (matrix if prev is None else matrix @ prev).astype(
            np.float32)
        return results

    @staticmethod
    def _boxes_from_recist(results: dict, boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """(N, 4) boxes = extent of the mapped RECIST points + the current margins * scale."""
        base = np.asarray(results.get('recist_base_matrix', np.eye(3)), np.float64)
        prev = results.get('homography_matrix')
        prev = np.eye(3) if prev is None else np.asarray(prev, np.float64)
        rel = prev @ np.linalg.inv(base)  # recists are stored in the frame at load time
        cur = project_index_points(results['gt_recists'], rel).reshape(-1, 4, 2)
        new = project_index_points(results['gt_recists'], matrix @ rel).reshape(-1, 4, 2)
        margins = np.concatenate([cur.min(1) - boxes[:, :2], boxes[:, 2:] - cur.max(1)], 1)
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
        return np.concatenate([new.min(1), new.max(1)], 1) + np.array(
            [-1, -1, 1, 1]) * np.maximum(margins, 0) * scale

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, max_shift={self.max_shift}, '
                f'scale_range={self.scale_range}, max_rotate={self.max_rotate}, '
                f'border_value={self.border_value}, min_bbox_size={self.min_bbox_size}, '
                f'bbox_mode={self.bbox_mode!r})')
