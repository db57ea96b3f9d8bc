"""Read FROC inputs: DeepLesion COCO ground truth, COCO results json, mmdet ``.pkl`` results.

Shared by :class:`acsdet.evaluation.FROCMetric` (``ann_file=``) and ``tools/froc_eval.py``.
Bad input raises ``ValueError`` / ``FileNotFoundError`` with a one-line message naming the
file (and the entry) at fault.
"""
import io
import json
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .froc import Detections, LesionGT

__all__ = [
    'NOISY_MODES', 'read_json', 'lesion_gt_from_coco', 'load_lesion_gt',
    'detections_from_coco_results', 'detections_from_mmdet_results', 'load_detections'
]

NOISY_MODES = ('drop', 'ignore')


def read_json(path: str, what: str):
    """``json.load`` with one-line errors naming ``what`` and the file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path}: not valid json ({err})') from None


def _box_xywh_to_xyxy(bbox, where: str) -> List[float]:
    if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
        raise ValueError(f'{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}')
    x, y, w, h = (float(v) for v in bbox)
    if not all(np.isfinite([x, y, w, h])) or w < 0 or h < 0:
        raise ValueError(f'{where}: bbox must be finite with w, h >= 0, got {bbox!r}')
    return [x, y, x + w, y + h]


def lesion_gt_from_coco(coco: dict, noisy: str = 'drop', split: Optional[str] = None,
                        source: str = '<coco dict>',
                        image_ids: Optional[Sequence[int]] = None) -> LesionGT:
    """Lesions from a DeepLesion COCO dict (see the contracts in ``docs/froc.md``).

    Args:
        coco (dict): COCO dict with ``images`` and ``annotations``; optional image keys
            ``slice_interval``, ``split``; optional annotation keys ``lesion_type``,
            ``long_diameter_mm``, ``noisy`` (falls back to ``iscrowd``).
        noisy (str): 'drop' (noisy lesions removed: a detection on one is a false
            positive, as published) or 'ignore' (ignore regions: neither TP nor FP).
            Default 'drop'.
        split (str, optional): Keep only images whose ``split`` equals it. Default: all.
        source (str): Name used in error messages (the file path).
        image_ids (Sequence[int], optional): Evaluate exactly these images, in this order
            (each must be in the json). Default: every image (after ``split``).

    Returns:
        LesionGT: breakdown attributes are None when no annotation / image carries them.
    """
    if noisy not in NOISY_MODES:
        raise ValueError(f"noisy must be 'drop' or 'ignore', got {noisy!r}")
    if not isinstance(coco, dict) or not isinstance(coco.get('images'), list) \
            or not isinstance(coco.get('annotations'), list):
        raise ValueError(f"{source}: expected a COCO dict with 'images' and 'annotations' lists")
    all_images: Dict[int, dict] = {}
    for i, img in enumerate(coco['images']):
        if not isinstance(img, dict) or 'id' not in img:
            raise ValueError(f"{source}: images[{i}] has no 'id'")
        all_images[img['id']] = img
    if image_ids is None:
        ids = [img['id'] for img in coco['images']
               if split is None or img.get('split') == split]
        if split is not None and not ids:
            raise ValueError(f'{source}: no image has split {split!r}')
    else:
        ids = list(image_ids)
        missing = [i for i in ids if i not in all_images]
        if missing:
            raise ValueError(f'{source}: {len(missing)} evaluated image ids are not in the '
                             f'ground truth, e.g. {missing[:3]}')
    index = {img_id: k for k, img_id in enumerate(ids)}

    boxes, img_index, noisy_flag, types, diam = [], [], [], [], []
    has_type = has_diam = False
    for i, ann in enumerate(coco['annotations']):
        where = f'{source}: annotations[{i}]'
        if not isinstance(ann, dict) or 'image_id' not in ann or 'bbox' not in ann:
            raise ValueError(f"{where} needs 'image_id' and 'bbox'")
        if ann['image_id'] not in all_images:
            raise ValueError(f"{where}: image_id {ann['image_id']!r} is not in 'images'")
        k = index.get(ann['image_id'])
        if k is None:  # image not evaluated (other split)
            continue
        boxes.append(_box_xywh_to_xyxy(ann['bbox'], where))
        img_index.append(k)
        noisy_flag.append(bool(ann.get('noisy', ann.get('iscrowd', 0))))
        has_type |= 'lesion_type' in ann
        has_diam |= 'long_diameter_mm' in ann
        types.append(int(ann.get('lesion_type', -1)))
        d = ann.get('long_diameter_mm')
        diam.append(np.nan if d is None else float(d))

    noisy_flag = np.asarray(noisy_flag, dtype=bool)
    keep = ~noisy_flag if noisy == 'drop' else np.ones(len(noisy_flag), bool)
    intervals = [all_images[i].get('slice_interval') for i in ids]
    has_interval = any(v is not None for v in intervals)
    return LesionGT(
        image_ids=ids,
        boxes=np.asarray(boxes, np.float64).reshape(-1, 4)[keep],
        image_index=np.asarray(img_index, np.int64)[keep],
        ignore=noisy_flag[keep],
        lesion_type=np.asarray(types, np.int64)[keep] if has_type else None,
        long_diameter_mm=np.asarray(diam, np.float64)[keep] if has_diam else None,
        slice_interval=(np.array([np.nan if v is None else float(v) for v in intervals])
                        if has_interval else None))


def load_lesion_gt(ann_file: str, noisy: str = 'drop', split: Optional[str] = None,
                   image_ids: Optional[Sequence[int]] = None) -> LesionGT:
    """:func:`lesion_gt_from_coco` on a json file (same args)."""
    return lesion_gt_from_coco(read_json(ann_file, 'ground-truth file'), noisy=noisy,
                               split=split, source=ann_file, image_ids=image_ids)


def _image_index(gt: LesionGT, img_ids: Sequence, source: str,
                 unknown: str) -> Tuple[np.ndarray, np.ndarray]:
    """Map image ids to ``gt`` positions; returns (index, keep mask)."""
    lookup = {img_id: k for k, img_id in enumerate(gt.image_ids)}
    idx = np.array([lookup.get(i, -1) for i in img_ids], dtype=np.int64)
    bad = idx < 0
    if bad.any() and unknown == 'error':
        missing = sorted({img_ids[i] for i in np.flatnonzero(bad)}, key=str)
        raise ValueError(f'{source}: {len(missing)} image ids are not in the ground truth, '
                         f'e.g. {missing[:3]}')
    return idx, ~bad


def detections_from_coco_results(results: list, gt: LesionGT, source: str = '<results>',
                                 unknown: str = 'error') -> Detections:
    """Detections from a COCO results list ``[{image_id, bbox [x,y,w,h], score}, ...]``.

    Every ``category_id`` counts as a lesion (one-class task).

    Args:
        results (list): The COCO results.
        gt (LesionGT): Ground truth whose ``image_ids`` the detections refer to.
        source (str): Name used in error messages (the file path).
        unknown (str): 'error' (default) or 'drop': what to do with detections on images
            that are not evaluated.
    """
    if not isinstance(results, list):
        raise ValueError(f'{source}: expected a list of COCO results, '
                         f'got {type(results).__name__}')
    boxes, scores, img_ids = [], [], []
    for i, r in enumerate(results):
        where = f'{source}: result [{i}]'
        if not isinstance(r, dict) or not {'image_id', 'bbox', 'score'} <= r.keys():
            raise ValueError(f"{where} needs 'image_id', 'bbox' and 'score'")
        boxes.append(_box_xywh_to_xyxy(r['bbox'], where))
        s = r['score']
        if not isinstance(s, (int, float)) or isinstance(s, bool) or not np.isfinite(s):
            raise ValueError(f'{where}: score must be a finite number, got {s!r}')
        scores.append(float(s))
        img_ids.append(r['image_id'])
    idx, keep = _image_index(gt, img_ids, source, unknown)
    return Detections(np.asarray(boxes, np.float64).reshape(-1, 4)[keep],
                      np.asarray(scores, np.float64)[keep], idx[keep])


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):  # torch.Tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def detections_from_mmdet_results(results: list, gt: LesionGT, source: str = '<results>',
                                  unknown: str = 'error') -> Detections:
    """Detections from mmdet results: ``[{'img_id', 'pred_instances': {'bboxes' (N, 4) xyxy,
    'scores' (N,)}}, ...]`` (``tools/test.py --out x.pkl``; tensors or arrays).

    Args: as :func:`detections_from_coco_results`.
    """
    if not isinstance(results, list):
        raise ValueError(f'{source}: expected a list of mmdet results, '
                         f'got {type(results).__name__}')
    boxes, scores, img_ids = [], [], []
    for i, r in enumerate(results):
        where = f'{source}: result [{i}]'
        pred = r.get('pred_instances') if isinstance(r, dict) else None
        if pred is None or 'img_id' not in r or 'bboxes' not in pred or 'scores' not in pred:
            raise ValueError(f"{where} needs 'img_id' and 'pred_instances' with 'bboxes' "
                             "and 'scores'")
        b = _to_numpy(pred['bboxes']).astype(np.float64).reshape(-1, 4) \
            if _to_numpy(pred['bboxes']).size else np.zeros((0, 4))
        s = _to_numpy(pred['scores']).astype(np.float64).reshape(-1)
        if len(b) != len(s):
            raise ValueError(f'{where}: {len(b)} bboxes but {len(s)} scores')
        boxes.append(b)
        scores.append(s)
        img_ids += [r['img_id']] * len(s)
    idx, keep = _image_index(gt, img_ids, source, unknown)
    return Detections(np.concatenate(boxes)[keep] if boxes else np.zeros((0, 4)),
                      np.concatenate(scores)[keep] if scores else np.zeros(0), idx[keep])


class _ResultsUnpickler(pickle.Unpickler):
    """Unpickles mmdet result lists without running arbitrary code.

    A ``.pkl`` is a pickle, and a pickle can call any function on load. mmdet's dumped
    results only hold containers, numpy arrays and CPU tensors, so only the globals that
    rebuild those are allowed; a tensor's storage is read back with
    ``torch.load(weights_only=True)`` instead of torch's default ``weights_only=False``.
    """
    _ALLOWED = {
        ('collections', 'OrderedDict'), ('collections', 'defaultdict'),
        ('builtins', 'set'), ('builtins', 'frozenset'), ('builtins', 'slice'),
        ('builtins', 'complex'), ('_codecs', 'encode'),  # bytes under pickle protocol 2
        ('torch._utils', '_rebuild_tensor_v2'),
        ('torch._utils', '_rebuild_tensor'), ('torch._utils', '_rebuild_parameter'),
        ('numpy', 'ndarray'), ('numpy', 'dtype'),
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
        ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
    }

    def __init__(self, file, source: str):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str):
        if module.startswith('torch'):
            import torch  # the tensors of the file need torch anyway
            if module == 'torch.storage' and name == '_load_from_bytes':
                return lambda b: torch.load(io.BytesIO(b), weights_only=True)
        if (module, name) in self._ALLOWED or (module == 'torch' and name.endswith('Storage')) \
                or (module == 'numpy.dtypes' and name.endswith('DType')):
            return super().find_class(module, name)
        raise ValueError(f'{self.source}: refusing to unpickle {module}.{name} '
                         '(only mmdet result lists of arrays/tensors are read)')


def load_detections(results_file: str, gt: LesionGT, unknown: str = 'error') -> Detections:
    """Detections from a COCO results ``.json`` or an mmdet ``.pkl`` (``tools/test.py
    --out``), chosen by the file extension.

    Args:
        results_file (str): Path.
        gt (LesionGT): Ground truth the image ids refer to.
        unknown (str): 'error' or 'drop' detections on images not evaluated. Default 'error'.
    """
    if not osp.isfile(results_file):
        raise FileNotFoundError(f'results file not found: {results_file}')
    if results_file.endswith(('.pkl', '.pickle')):
        try:
            with open(results_file, 'rb') as f:
                results = _ResultsUnpickler(f, results_file).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
            raise ValueError(f'{results_file}: not a readable pickle ({err})') from None
        return detections_from_mmdet_results(results, gt, results_file, unknown)
    return detections_from_coco_results(
        read_json(results_file, 'results file'), gt, results_file, unknown)
