"""Read FROC inputs: DeepLesion COCO ground truth, COCO results json, mmdet ``.pkl`` results.

Shared by :class:`acsdet.evaluation.FROCMetric` (``ann_file=``) and ``tools/froc_eval.py``.
Bad input raises ``ValueError`` / ``FileNotFoundError`` with a one-line message naming the
file (and the entry) at fault.

Detections are checked the same way whichever file they come from, by one function,
:func:`check_detections`: a COCO results json (``res.json: result [5] (image_id 17): ...``)
and an mmdet ``.pkl`` (``res.pkl: image 3 (img_id 17), detection 2: ...``) refuse the same
boxes and scores: a NaN or infinite coordinate or score, x2 < x1 or y2 < y1 (in a json:
w < 0 or h < 0). Empty boxes (x2 == x1) are allowed, as in the ground truth. Scores are not
required to lie in [0, 1]: mmdet's do (sigmoid / softmax), but the FROC only uses the order of
the scores, and other detectors write logits or other uncalibrated scores; a monotonic change
of the scores gives the same FROC.
"""
import io
import json
import os.path as osp
import pickle
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .froc import Detections, LesionGT

__all__ = [
    'NOISY_MODES', 'read_json', 'lesion_gt_from_coco', 'load_lesion_gt',
    'check_detections', 'detections_from_coco_results', 'detections_from_mmdet_results',
    'load_detections'
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


def _fmt_numbers(values) -> str:
    return '[' + ', '.join(f'{float(v):g}' for v in values) + ']'


def check_detections(boxes: np.ndarray, scores: np.ndarray, where: Callable[[int], str],
                     box_format: str = 'xyxy') -> None:
    """The one check of detection values, for every results format.

    Args:
        boxes (ndarray): (N, 4) float, as given in the file: ``'xyxy'`` (mmdet) or
            ``'xywh'`` (COCO results).
        scores (ndarray): (N,) float.
        where (Callable[[int], str]): Detection index -> the start of the message (file
            and entry), e.g. ``lambda j: f'{path}: result [{j}] (image_id 17)'``.
        box_format (str): 'xyxy' or 'xywh'. Default 'xyxy'.

    Raises:
        ValueError: one line for the first bad detection: ``<where>: box [10, 5, 4, 9] has
            x2 < x1`` (``y2 < y1``), ``<where>: bbox [x, y, w, h] [3, 4, -1, 2] has w < 0``
            (``h < 0``), ``<where>: box [nan, 0, 1, 1] is not finite``, ``<where>: score nan
            is not finite``. Scores outside [0, 1] are accepted (see the module docstring).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    box_ok = np.isfinite(boxes).all(axis=1)
    with np.errstate(invalid='ignore'):
        if box_format == 'xyxy':
            bad_w, bad_h = boxes[:, 2] < boxes[:, 0], boxes[:, 3] < boxes[:, 1]
        elif box_format == 'xywh':
            bad_w, bad_h = boxes[:, 2] < 0, boxes[:, 3] < 0
        else:
            raise ValueError(f"box_format must be 'xyxy' or 'xywh', got {box_format!r}")
    score_ok = np.isfinite(scores)
    bad = ~box_ok | bad_w | bad_h | ~score_ok
    if not bad.any():
        return
    j = int(np.flatnonzero(bad)[0])
    box = (f'box {_fmt_numbers(boxes[j])}' if box_format == 'xyxy'
           else f'bbox [x, y, w, h] {_fmt_numbers(boxes[j])}')
    if not box_ok[j]:
        problem = f'{box} is not finite'
    elif bad_w[j]:
        problem = f'{box} has ' + ('x2 < x1' if box_format == 'xyxy' else 'w < 0')
    elif bad_h[j]:
        problem = f'{box} has ' + ('y2 < y1' if box_format == 'xyxy' else 'h < 0')
    else:
        problem = f'score {scores[j]:g} is not finite'
    raise ValueError(f'{where(j)}: {problem}')


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _plain_id(value):
    """An image id as a dict key: 0-d arrays / tensors -> Python scalars; None when it is
    not a number or a string (lists, dicts, ...)."""
    if hasattr(value, 'item') and getattr(value, 'ndim', None) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    return value


def detections_from_coco_results(results: list, gt: LesionGT, source: str = '<results>',
                                 unknown: str = 'error') -> Detections:
    """Detections from a COCO results list ``[{image_id, bbox [x,y,w,h], score}, ...]``.

    Every ``category_id`` counts as a lesion (one-class task). Values are checked by
    :func:`check_detections`; messages name the entry as ``result [i] (image_id X)``.

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
    boxes, scores, img_ids, wheres = [], [], [], []
    for i, r in enumerate(results):
        where = f'{source}: result [{i}]'
        if not isinstance(r, dict):
            raise ValueError(f"{where}: expected a dict with 'image_id', 'bbox' and 'score', "
                             f'got {type(r).__name__}')
        missing = [k for k in ('image_id', 'bbox', 'score') if k not in r]
        if missing:
            raise ValueError(f"{where} needs 'image_id', 'bbox' and 'score' (missing "
                             f"{', '.join(repr(k) for k in missing)})")
        img_id = _plain_id(r['image_id'])
        if img_id is None:
            raise ValueError(f"{where}: image_id must be a number or a string, got "
                             f"{r['image_id']!r}")
        where = f'{where} (image_id {img_id!r})'
        bbox, s = r['bbox'], r['score']
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 \
                or not all(_is_number(v) for v in bbox):
            raise ValueError(f'{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}')
        if not _is_number(s):
            raise ValueError(f'{where}: score must be a number, got {s!r}')
        boxes.append([float(v) for v in bbox])
        scores.append(float(s))
        img_ids.append(img_id)
        wheres.append(where)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64)
    check_detections(boxes, scores, wheres.__getitem__, box_format='xywh')
    boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
    idx, keep = _image_index(gt, img_ids, source, unknown)
    return Detections(boxes[keep], scores[keep], idx[keep])


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):  # torch.Tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _numeric_array(x, name: str, where: str) -> np.ndarray:
    try:
        arr = _to_numpy(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: '{name}' is not an array ({err})") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{where}: '{name}' must hold numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def detections_from_mmdet_results(results: list, gt: LesionGT, source: str = '<results>',
                                  unknown: str = 'error') -> Detections:
    """Detections from mmdet results: ``[{'img_id', 'pred_instances': {'bboxes' (N, 4) xyxy,
    'scores' (N,)}}, ...]`` (``tools/test.py --out x.pkl``; tensors or arrays).

    Values are checked by :func:`check_detections`, as for a json; messages name the entry
    as ``image i (img_id X), detection j`` (``i``: position in the list).

    Args: as :func:`detections_from_coco_results`.
    """
    if not isinstance(results, list):
        raise ValueError(f'{source}: expected a list of mmdet results, '
                         f'got {type(results).__name__}')
    boxes, scores, img_ids = [], [], []
    for i, r in enumerate(results):
        where = f'{source}: image {i}'
        if not isinstance(r, dict):
            raise ValueError(f"{where}: expected a dict with 'img_id' and 'pred_instances', "
                             f'got {type(r).__name__}')
        if 'img_id' not in r:
            raise ValueError(f"{where}: no 'img_id'")
        img_id = _plain_id(r['img_id'])
        if img_id is None:
            raise ValueError(f"{where}: img_id must be a number or a string, got "
                             f"{r['img_id']!r}")
        where = f'{where} (img_id {img_id!r})'
        pred = r.get('pred_instances')
        if not isinstance(pred, dict):
            raise ValueError(f"{where}: no 'pred_instances' dict" if pred is None else
                             f"{where}: 'pred_instances' must be a dict, got "
                             f'{type(pred).__name__}')
        for key in ('bboxes', 'scores'):
            if key not in pred:
                raise ValueError(f"{where}: 'pred_instances' has no '{key}'")
        b = _numeric_array(pred['bboxes'], 'bboxes', where)
        s = _numeric_array(pred['scores'], 'scores', where)
        if b.size == 0 and s.size == 0:
            continue
        if b.ndim != 2 or b.shape[1] != 4:
            raise ValueError(f"{where}: 'bboxes' must have shape (N, 4), got {b.shape}")
        if s.ndim != 1:
            raise ValueError(f"{where}: 'scores' must have shape (N,), got {s.shape}")
        if len(b) != len(s):
            raise ValueError(f'{where}: {len(b)} bboxes but {len(s)} scores')
        check_detections(b, s, lambda j, w=where: f'{w}, detection {j}', box_format='xyxy')
        boxes.append(b)
        scores.append(s)
        img_ids += [img_id] * len(s)
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
