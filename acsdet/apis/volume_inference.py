"""Run a trained multi-slice detector over every axial slice of a CT volume.

For each target slice the model sees ``D`` slices centred on it, ``target_interval`` mm apart
(2 mm in the paper), linearly interpolated from the volume's own slices with edge replication:
the same :func:`acsdet.datasets.transforms.slice_interpolation.slice_blend_plan` that
:class:`~acsdet.datasets.transforms.LoadDeepLesionSlices` uses for training, so a 1 mm or 5 mm
volume is resampled along z to the model's interval.  The stack is HU-clipped and scaled to
[0, 1] exactly as in training, then passed through the config's test pipeline minus its
``Load*`` steps (so the same ``Resize`` and ``PackMultiSliceDetInputs``), batched, and through
``model.test_step``; mmdet maps boxes and masks back to the original slice size.

Geometry (the detector is trained on axial slices in DICOM's radiological view): the model
runs on the volume in the axial convention of :func:`acsdet.fileio.orient_axial` (``'LPS'``:
rows anterior -> posterior, columns right -> left, slices inferior -> superior) with square
pixels.  A volume whose slices are axial but stored flipped or transposed (a NIfTI with a
negative-determinant or RAS-like direction) is reoriented here and every output is mapped
back exactly to the volume's own grid (``slice_index``, ``bbox``, masks); a sagittal or
coronal acquisition is refused unless it was read with ``read_volume(..., orient=True)`` (its
slices are not the volume's).  In-plane anisotropic spacing (sx != sy) is resampled for the
model only, to square pixels of the smaller spacing (linear; the mask back to the volume's
pixels by linear interpolation and a 0.5 threshold); boxes and masks come back on the volume's
pixel grid, so ``bbox_mm``, ``area_mm2``, the RECIST mm and ``centre_patient_mm`` use the true
(sx, sy).  Oblique volumes (more than 1 degree off the patient axes) are refused.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from pycocotools import mask as mask_utils

from acsdet.datasets.transforms.slice_interpolation import blend_slices, slice_blend_plan
from acsdet.fileio.volume_io import (CTVolume, axial_reorientation, check_geometry,
                                    orient_axial, slice_plane)

from .lesion_measurements import recist_from_mask
from .model_from_config import model_from_config

__all__ = ['load_detector', 'slice_stack', 'infer_volume', 'group_detections_3d',
           'multi_slice_settings']


def multi_slice_settings(cfg: Config) -> dict:
    """Read ``num_slices``, ``target_interval`` and ``hu_range`` of the config's test-time
    ``LoadDeepLesionSlices`` (the defaults of that transform where a key is not set)."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    for step in pipeline:
        if step['type'] == 'LoadDeepLesionSlices':
            return dict(num_slices=int(step.get('num_slices', 7)),
                        target_interval=float(step.get('target_interval', 2.0)),
                        hu_range=tuple(float(v) for v in step.get('hu_range', (-1024, 2050))))
    raise ValueError('config: test_dataloader.dataset.pipeline has no LoadDeepLesionSlices '
                     'step (needed for the slice count and HU window)')


def load_detector(config, checkpoint: Optional[str], device: str = 'cpu',
                  score_thr: Optional[float] = None):
    """Build the config's detector and load a checkpoint (weights-only, see
    :mod:`acsdet.utils.safe_checkpoint`).

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): ``.pth`` file; None keeps the random init.
        device (str): Default: ``'cpu'``.
        score_thr (float, optional): Overrides ``model.test_cfg.rcnn.score_thr``.

    Returns:
        tuple: (model in eval mode, Config).
    """
    def prepare(cfg: Config) -> None:
        if score_thr is not None:
            cfg.model.test_cfg.rcnn.score_thr = float(score_thr)

    return model_from_config(config, checkpoint, device, prepare)


def slice_stack(volume: CTVolume, index: int, num_slices: int, target_interval: float = 2.0,
                hu_range: Sequence[float] = (-1024.0, 2050.0)) -> np.ndarray:
    """The model input around one slice, before resizing.

    Args:
        volume (CTVolume): ``hu`` (D0, H, W).
        index (int): Slice index in ``volume.hu`` (0-based).
        num_slices (int): ``D`` (odd).
        target_interval (float): mm between the stack's slices. Default: 2.0.
        hu_range (Sequence[float]): Clip window mapped onto [0, 1]. Default: (-1024, 2050).

    Returns:
        np.ndarray: (H, W, D) float32 in [0, 1].
    """
    plan = slice_blend_plan(index, (0, volume.hu.shape[0] - 1), num_slices,
                            abs(volume.spacing[2]), target_interval)
    stack = blend_slices(plan, lambda i: volume.hu[i])
    low, high = float(hu_range[0]), float(hu_range[1])
    np.clip(stack, low, high, out=stack)
    stack -= np.float32(low)
    stack *= np.float32(1.0 / (high - low))
    return stack


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _detection(volume: CTVolume, index: int, box, score: float, label: int,
               mask: Optional[np.ndarray]) -> dict:
    sx, sy = float(volume.spacing[0]), float(volume.spacing[1])
    x1, y1, x2, y2 = (float(v) for v in box)
    # box edges (mmdet: pixel i spans [i, i+1)) -> ITK continuous index (pixel centre = i)
    centre = volume.index_to_physical([(x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5, index])
    det = dict(bbox=[x1, y1, x2, y2], bbox_mm=[x1 * sx, y1 * sy, x2 * sx, y2 * sy],
               centre_patient_mm=[float(c) for c in centre], score=float(score),
               label=int(label))
    if mask is not None:
        det['mask_rle'] = _rle(mask)
        det['area_mm2'] = float(mask.sum()) * sx * sy
        rec = recist_from_mask(mask, (sx, sy))
        if rec is not None:
            det.update(rec)
    return det


def check_detection_geometry(volume: CTVolume) -> None:
    """Raise a one-line error unless ``volume`` has the geometry detection needs: a voxel
    spacing (mm per pixel and slice interval: the slice blending and every mm output depend
    on it), finite voxels, a valid direction within 1 degree of the patient axes (not
    oblique) and axial slices (a sagittal or coronal acquisition must be read with
    ``read_volume(..., orient=True)``: see the module docstring)."""
    if volume.spacing is None or len(volume.spacing) != 3:
        raise ValueError(f'{volume.path}: no voxel spacing (a .npz without a spacing array?); '
                         'detection needs the pixel spacing and the slice interval in mm')
    check_geometry(volume)
    if np.asarray(volume.hu).ndim != 3:
        raise ValueError(f'{volume.path}: detection takes one (D, H, W) volume, got shape '
                         f'{tuple(np.shape(volume.hu))}')
    axes, _ = axial_reorientation(volume.direction, volume.path)
    if axes[2] != 2:
        raise ValueError(f'{volume.path}: the slices are {slice_plane(volume.direction)} '
                         f'(orientation {volume.orientation}); detection runs on axial slices: '
                         'read the volume with read_volume(..., orient=True) (or pass it '
                         'through acsdet.fileio.orient_axial) first')


class _DetectionGrid:
    """The grid the detector sees: ``volume`` in the axial convention (its slices stay its
    own: only in-plane transposes / flips and a slice-order flip) with square pixels, and
    the maps of the model's slice boxes and masks back to ``volume``'s grid.

    Args:
        volume (CTVolume): ``hu`` (D, H, W), checked by :func:`check_detection_geometry`.
    """

    def __init__(self, volume: CTVolume) -> None:
        self.axes, self.flips = axial_reorientation(volume.direction, volume.path)
        self.sizes = volume.hu.shape[::-1]  # (W, H, D) of the volume's x, y, z index axes
        self.oriented = orient_axial(volume)
        sx, sy = (abs(float(v)) for v in self.oriented.spacing[:2])
        h, w = self.oriented.hu.shape[1:]
        pixel = min(sx, sy)
        self.shape = (max(1, int(round(h * sy / pixel))), max(1, int(round(w * sx / pixel))))
        self.oriented_shape = (h, w)
        #: (sx, sy) mm of the model's pixels (equal up to the rounding of the size)
        self.pixel_spacing = (w * sx / self.shape[1], h * sy / self.shape[0])

    def oriented_slice(self, index: int) -> int:
        """Slice ``index`` of the volume -> its index in the oriented volume."""
        return self.sizes[2] - 1 - index if self.flips[2] else index

    def stack(self, index: int, settings: dict) -> np.ndarray:
        """(H', W', D) float32 model input around the volume's slice ``index``."""
        stack = slice_stack(self.oriented, self.oriented_slice(index), **settings)
        if self.shape != self.oriented_shape:
            stack = cv2.resize(stack, self.shape[::-1], interpolation=cv2.INTER_LINEAR)
            if stack.ndim == 2:
                stack = stack[:, :, None]
        return stack

    def box_to_volume(self, box: Sequence[float]) -> Tuple[float, float, float, float]:
        """[x1, y1, x2, y2] (pixel edges) on the model's grid -> the volume's slice grid."""
        h, w = self.oriented_shape
        x1, y1, x2, y2 = (float(v) for v in box)
        fx, fy = w / self.shape[1], h / self.shape[0]
        edges = [None, None]
        for b, (lo, hi) in enumerate(((x1 * fx, x2 * fx), (y1 * fy, y2 * fy))):
            a = self.axes[b]  # the volume's index axis of the oriented axis b
            n = self.sizes[a]
            if self.flips[b]:
                lo, hi = n - hi, n - lo
            edges[a] = (min(max(lo, 0.0), n), min(max(hi, 0.0), n))
        return edges[0][0], edges[1][0], edges[0][1], edges[1][1]

    def mask_to_volume(self, mask: np.ndarray) -> np.ndarray:
        """(H', W') mask on the model's grid -> (H, W) bool on the volume's slice grid."""
        m = np.asarray(mask)
        if self.shape != self.oriented_shape:
            h, w = self.oriented_shape
            m = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5
        if self.flips[0]:
            m = m[:, ::-1]
        if self.flips[1]:
            m = m[::-1, :]
        if self.axes[0] == 1:  # rows and columns swapped
            m = m.T
        return np.ascontiguousarray(m, dtype=bool)


@torch.no_grad()
def infer_volume(model, cfg: Config, volume: CTVolume, slices: Optional[Sequence[int]] = None,
                 batch_size: int = 4, progress: bool = True) -> List[Dict]:
    """Detect lesions on the chosen slices of a volume.

    Args:
        model: Detector from :func:`load_detector`.
        cfg (Config): Its config (test pipeline and ``LoadDeepLesionSlices`` settings).
        volume (CTVolume): Input volume.
        slices (Sequence[int], optional): 0-based slice indices; None = every slice.
        batch_size (int): Slices per forward pass. Default: 4.
        progress (bool): Show an mmengine progress bar. Default: True.

    The model sees ``volume`` in the axial convention with square pixels (see the module
    docstring); everything returned refers to ``volume``'s own grid and patient frame.

    Returns:
        list[dict]: One per slice: ``slice_index`` (0-based in the input volume),
        ``slice_number`` (the source's own number, e.g. the PNG file index),
        ``z_patient_mm`` (patient coordinates of the slice's first voxel) and ``detections``
        (``bbox`` [x1, y1, x2, y2] pixels, ``bbox_mm`` the same times the pixel spacing
        (mm from the slice's top-left edge), ``centre_patient_mm`` (x, y, z), ``score``,
        ``label``, and with masks ``mask_rle`` (COCO RLE), ``area_mm2``, ``recist`` (8 px),
        ``long_diameter_mm``, ``short_diameter_mm``), sorted by score.
    """
    check_detection_geometry(volume)
    grid = _DetectionGrid(volume)
    settings = multi_slice_settings(cfg)
    steps = [s for s in cfg.test_dataloader.dataset.pipeline
             if not str(s['type']).startswith('Load')]
    pipeline = Compose(steps)
    depth = volume.hu.shape[0]
    slices = list(range(depth)) if slices is None else [int(s) for s in slices]
    for s in slices:
        if not 0 <= s < depth:
            raise ValueError(f'{volume.path}: slice {s} outside 0..{depth - 1}')
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(slices))
    results = []
    for start in range(0, len(slices), batch_size):
        chunk = slices[start:start + batch_size]
        inputs, samples = [], []
        for s in chunk:
            stack = grid.stack(s, settings)
            packed = pipeline(dict(
                img=stack, img_shape=stack.shape[:2], ori_shape=stack.shape[:2], img_id=s,
                img_path=f'{volume.path}#{s}', slice_interval=settings['target_interval'],
                pixel_spacing=float(grid.pixel_spacing[0]), key_slice=s))
            inputs.append(packed['inputs'])
            samples.append(packed['data_samples'])
        outputs = model.test_step(dict(inputs=inputs, data_samples=samples))
        for s, out in zip(chunk, outputs):
            pred = out.pred_instances
            boxes = pred.bboxes.cpu().numpy()
            scores = pred.scores.cpu().numpy()
            labels = pred.labels.cpu().numpy()
            masks = pred.masks.cpu().numpy() if 'masks' in pred else None
            order = np.argsort(-scores, kind='stable')
            dets = [_detection(volume, s, grid.box_to_volume(boxes[k]), scores[k], labels[k],
                               None if masks is None else grid.mask_to_volume(masks[k]))
                    for k in order]
            results.append(dict(slice_index=s, slice_number=int(volume.slice_numbers[s]),
                                z_patient_mm=[float(c) for c in
                                              volume.index_to_physical([0, 0, s])],
                                detections=dets))
            if bar is not None:
                bar.update()
    if bar is not None:
        print()
    return results


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def group_detections_3d(slice_results: List[Dict], slice_interval: float,
                        iou_thr: float = 0.3, score_thr: float = 0.5) -> List[Dict]:
    """Link detections on consecutive slices into 3D lesion candidates.

    Greedy, slice by slice in index order: a detection (score >= ``score_thr``) joins the
    candidate whose box on the previous slice overlaps it most (IoU >= ``iou_thr``), else it
    starts a new one.  The volume estimate is the sum of the mask areas times the slice
    interval (or, without masks, box areas: an upper bound).

    Args:
        slice_results (list[dict]): From :func:`infer_volume` (consecutive slices).
        slice_interval (float): mm between the volume's slices.
        iou_thr (float): Default: 0.3.
        score_thr (float): Detections below it are left out. Default: 0.5.

    Returns:
        list[dict]: ``slices`` [first, last] (0-based), ``num_slices``, ``max_score``,
        ``volume_mm3``, ``members`` (list of [slice_index, detection rank]), sorted by
        ``max_score``.
    """
    open_cands: List[Dict] = []
    done: List[Dict] = []
    prev_index = None
    for res in sorted(slice_results, key=lambda r: r['slice_index']):
        s = res['slice_index']
        if prev_index is not None and s != prev_index + 1:
            done += open_cands
            open_cands = []
        prev_index = s
        extended = []
        for rank, det in enumerate(res['detections']):
            if det['score'] < score_thr:
                continue
            best, best_iou = None, iou_thr
            for cand in open_cands:
                if any(cand is e for e in extended):
                    continue
                iou = _iou(cand['last_box'], det['bbox'])
                if iou >= best_iou:
                    best, best_iou = cand, iou
            if best is None:
                best = dict(slices=[s, s], members=[], max_score=0.0, area_mm2=0.0)
            best['slices'][1] = s
            best['members'].append([s, rank])
            best['max_score'] = max(best['max_score'], det['score'])
            bm = det['bbox_mm']
            best['area_mm2'] += det.get('area_mm2', (bm[2] - bm[0]) * (bm[3] - bm[1]))
            best['last_box'] = det['bbox']
            extended.append(best)
        done += [c for c in open_cands if not any(c is e for e in extended)]
        open_cands = extended
    done += open_cands
    out = []
    for c in done:
        out.append(dict(slices=c['slices'], num_slices=c['slices'][1] - c['slices'][0] + 1,
                        max_score=c['max_score'],
                        volume_mm3=c['area_mm2'] * float(slice_interval),
                        members=c['members']))
    return sorted(out, key=lambda c: -c['max_score'])
