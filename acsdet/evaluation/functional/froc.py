"""FROC (free-response ROC) of lesion detection, as used by the DeepLesion literature.

Pure numpy, no mmengine: :class:`acsdet.evaluation.FROCMetric` (inside a Runner) and
``tools/froc_eval.py`` (standalone) both call :func:`evaluate_froc`, so they give the same
numbers on the same predictions.

Why hand-written: no maintained library implements the DeepLesion FROC (pycocotools and
mmdet compute AP; the published DeepLesion scripts are per-detection Python loops inside
research repositories).

Definition (``docs/froc.md`` has the long version):

* All detections of all evaluated images are pooled and ranked by score.
* A detection *hits* a lesion of its own image under the hit rule (default IoU >= 0.5).
  A detection ranked first among those hitting a lesion makes it a true positive; one
  detection may hit several lesions (each counts). A detection that hits only lesions
  already hit by higher-ranked detections is neither TP nor FP. A detection that hits no
  lesion is a false positive (FP) -- unless, with ``noisy='ignore'``, it hits an ignore
  region (a noisy lesion), in which case it is neither.
* Equivalently, and this is how it is computed (vectorised, no loop over detections):
  lesion ``j`` is found at every score threshold ``t <= max score of the detections
  hitting j``, and a detection is an FP iff it hits no lesion nor ignore region. So
  ``hits(t)`` and ``FP(t)`` only depend on the threshold ``t``, never on the order of
  detections inside one image or between images.
* Ties in score: a threshold keeps all or none of the detections with one score, so the
  curve has one point per *distinct* score (plus the origin). This makes the result
  independent of the input order; without ties it is exactly the published
  per-detection curve. Inside a block of tied detections the curve is a straight segment.
* ``sensitivity = hits / lesions``, ``FPs per image = FPs / evaluated images`` (images with
  no lesion or no detection count too). Sensitivity at a given FP rate is the linear
  interpolation of the curve ``(0, 0), (FP(t_k)/n, hits(t_k)/m)`` for decreasing distinct
  scores ``t_k``; past the curve's end it is the last value. Between two thresholds whose
  FP counts differ the curve is flat, so this equals ``np.interp`` on the published
  per-detection curve.
* Breakdowns (strata of lesions): a stratum's sensitivity at ``f`` FPs per image is the
  fraction of *its* lesions found at the score threshold where the FP rate over *all*
  evaluated images is ``f`` -- one operating point of the detector for every stratum.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'HIT_RULES', 'LESION_TYPE_NAMES', 'DEFAULT_FP_RATES', 'DEFAULT_MEAN_FP_RATES',
    'LesionGT', 'Detections', 'FROCCurve', 'FROCResult', 'pair_hits', 'lesion_hit_scores',
    'froc_curve', 'sensitivity_at', 'lesion_strata', 'evaluate_froc'
]

HIT_RULES = ('iou', 'iobb', 'center')
DEFAULT_FP_RATES = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
DEFAULT_MEAN_FP_RATES = (0.5, 1.0, 2.0, 4.0)
# DeepLesion's Coarse_lesion_type codes.
LESION_TYPE_NAMES = {
    -1: 'unlabelled', 1: 'bone', 2: 'abdomen', 3: 'mediastinum', 4: 'liver', 5: 'lung',
    6: 'kidney', 7: 'soft_tissue', 8: 'pelvis'
}


def _as_boxes(boxes, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f'{name} must have shape (N, 4), got {arr.shape}')
    if not np.isfinite(arr).all():
        raise ValueError(f'{name} holds NaN or infinite coordinates')
    return arr


@dataclass
class LesionGT:
    """Ground-truth lesions of the evaluated images, as flat arrays.

    Args:
        image_ids (Sequence): (n_img,) id of every evaluated image (images without lesions
            included: they count in the FP rate).
        boxes (ndarray): (G, 4) lesion boxes xyxy, pixels on the key slice.
        image_index (ndarray): (G,) int, position in ``image_ids`` of each lesion's image.
        ignore (ndarray, optional): (G,) bool, True for ignore regions (noisy lesions kept
            with ``noisy='ignore'``): they are not counted as lesions and a detection on
            them is neither TP nor FP. Default: all False.
        lesion_type (ndarray, optional): (G,) int DeepLesion coarse type (-1 unlabelled).
            None: no type breakdown.
        long_diameter_mm (ndarray, optional): (G,) float, NaN where unknown. None: no size
            breakdown.
        slice_interval (ndarray, optional): (n_img,) float mm per image, NaN where unknown.
            None: no interval breakdown.
    """
    image_ids: Sequence
    boxes: np.ndarray
    image_index: np.ndarray
    ignore: Optional[np.ndarray] = None
    lesion_type: Optional[np.ndarray] = None
    long_diameter_mm: Optional[np.ndarray] = None
    slice_interval: Optional[np.ndarray] = None

    def __post_init__(self):
        self.image_ids = list(self.image_ids)
        self.boxes = _as_boxes(self.boxes, 'gt boxes')
        g = len(self.boxes)
        self.image_index = np.asarray(self.image_index, dtype=np.int64).reshape(-1)
        if len(self.image_index) != g:
            raise ValueError(f'gt image_index has {len(self.image_index)} entries for {g} boxes')
        if g and (self.image_index.min() < 0 or self.image_index.max() >= self.num_images):
            raise ValueError('gt image_index out of range of image_ids')
        self.ignore = (np.zeros(g, bool) if self.ignore is None else
                       np.asarray(self.ignore, dtype=bool).reshape(-1))
        if len(self.ignore) != g:
            raise ValueError(f'gt ignore has {len(self.ignore)} entries for {g} boxes')
        if self.lesion_type is not None:
            self.lesion_type = np.asarray(self.lesion_type, dtype=np.int64).reshape(-1)
        if self.long_diameter_mm is not None:
            self.long_diameter_mm = np.asarray(self.long_diameter_mm, np.float64).reshape(-1)
        if self.slice_interval is not None:
            self.slice_interval = np.asarray(self.slice_interval, np.float64).reshape(-1)
            if len(self.slice_interval) != self.num_images:
                raise ValueError(f'slice_interval has {len(self.slice_interval)} entries '
                                 f'for {self.num_images} images')
        for key in ('lesion_type', 'long_diameter_mm'):
            val = getattr(self, key)
            if val is not None and len(val) != g:
                raise ValueError(f'gt {key} has {len(val)} entries for {g} boxes')

    @property
    def num_images(self) -> int:
        return len(self.image_ids)

    @property
    def num_lesions(self) -> int:
        """Number of lesions counted in the sensitivity (ignore regions excluded)."""
        return int((~self.ignore).sum())


@dataclass
class Detections:
    """Detections of the evaluated images, as flat arrays.

    Args:
        boxes (ndarray): (N, 4) xyxy, same frame as the gt boxes.
        scores (ndarray): (N,) confidence, higher = more confident.
        image_index (ndarray): (N,) int, position of each detection's image in
            :attr:`LesionGT.image_ids`.
    """
    boxes: np.ndarray
    scores: np.ndarray
    image_index: np.ndarray

    def __post_init__(self):
        self.boxes = _as_boxes(self.boxes, 'detection boxes')
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        self.image_index = np.asarray(self.image_index, dtype=np.int64).reshape(-1)
        n = len(self.boxes)
        if len(self.scores) != n or len(self.image_index) != n:
            raise ValueError(f'detections: {n} boxes, {len(self.scores)} scores, '
                             f'{len(self.image_index)} image indices')
        if not np.isfinite(self.scores).all():
            raise ValueError('detection scores hold NaN or infinite values')

    @classmethod
    def from_list(cls, boxes_per_image: Sequence, scores_per_image: Sequence) -> 'Detections':
        """Build from per-image lists (in the order of ``LesionGT.image_ids``).

        Args:
            boxes_per_image (Sequence[ndarray]): n_img arrays of shape (N_i, 4) xyxy.
            scores_per_image (Sequence[ndarray]): n_img arrays of shape (N_i,).
        """
        boxes = [_as_boxes(b, 'detection boxes') for b in boxes_per_image]
        counts = [len(b) for b in boxes]
        return cls(
            boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4)),
            scores=(np.concatenate([np.asarray(s, np.float64).reshape(-1)
                                    for s in scores_per_image])
                    if counts else np.zeros(0)),
            image_index=np.repeat(np.arange(len(counts)), counts))


def pair_hits(det_boxes: np.ndarray, gt_boxes: np.ndarray, hit_rule: str = 'iou',
              thr: float = 0.5) -> np.ndarray:
    """Hit test of paired boxes (element-wise, not all-pairs).

    Args:
        det_boxes (ndarray): (P, 4) detection boxes xyxy.
        gt_boxes (ndarray): (P, 4) lesion boxes xyxy, ``gt_boxes[p]`` paired with
            ``det_boxes[p]``.
        hit_rule (str): 'iou' (intersection over union >= thr, the DeepLesion rule),
            'iobb' (intersection over the *detected* box area >= thr, the "IoBB" of the
            DeepLesion dataset paper) or 'center' (the detection's centre lies inside the
            lesion box, borders included; ``thr`` unused). Default 'iou'.
        thr (float): Threshold of 'iou' / 'iobb'. Default 0.5.

    Returns:
        ndarray: (P,) bool.

    Boxes are continuous coordinates (area = (x2 - x1) * (y2 - y1)) as in mmdet 3 and COCO,
    not the legacy ``+ 1`` pixel-inclusive convention of the published scripts.
    """
    if hit_rule not in HIT_RULES:
        raise ValueError(f'hit_rule must be one of {HIT_RULES}, got {hit_rule!r}')
    d, g = det_boxes, gt_boxes
    if hit_rule == 'center':
        cx = (d[:, 0] + d[:, 2]) * 0.5
        cy = (d[:, 1] + d[:, 3]) * 0.5
        return (cx >= g[:, 0]) & (cx <= g[:, 2]) & (cy >= g[:, 1]) & (cy <= g[:, 3])
    iw = np.clip(np.minimum(d[:, 2], g[:, 2]) - np.maximum(d[:, 0], g[:, 0]), 0, None)
    ih = np.clip(np.minimum(d[:, 3], g[:, 3]) - np.maximum(d[:, 1], g[:, 1]), 0, None)
    inter = iw * ih
    area_d = np.clip(d[:, 2] - d[:, 0], 0, None) * np.clip(d[:, 3] - d[:, 1], 0, None)
    if hit_rule == 'iou':
        area_g = np.clip(g[:, 2] - g[:, 0], 0, None) * np.clip(g[:, 3] - g[:, 1], 0, None)
        denom = area_d + area_g - inter
    else:  # iobb
        denom = area_d
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = np.where(denom > 0, inter / np.where(denom > 0, denom, 1.0), 0.0)
    return ratio >= thr


def _same_image_pairs(det_image: np.ndarray, gt_image: np.ndarray,
                      num_images: int) -> Tuple[np.ndarray, np.ndarray]:
    """All (detection, lesion) index pairs that share an image, without a Python loop."""
    order = np.argsort(det_image, kind='stable')
    det_count = np.bincount(det_image, minlength=num_images)
    det_start = np.concatenate([[0], np.cumsum(det_count)[:-1]])
    per_gt = det_count[gt_image]
    total = int(per_gt.sum())
    pair_gt = np.repeat(np.arange(len(gt_image)), per_gt)
    first = np.repeat(np.cumsum(per_gt) - per_gt, per_gt)
    offset = np.arange(total) - first
    pair_det = order[det_start[gt_image][pair_gt] + offset]
    return pair_det, pair_gt


def lesion_hit_scores(gt: LesionGT, dets: Detections, hit_rule: str = 'iou',
                      thr: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """Match detections to lesions with the DeepLesion "not-yet-hit" rule.

    Args:
        gt (LesionGT): Lesions and ignore regions.
        dets (Detections): Detections.
        hit_rule (str): See :func:`pair_hits`. Default 'iou'.
        thr (float): See :func:`pair_hits`. Default 0.5.

    Returns:
        tuple[ndarray, ndarray]:
        ``hit_score`` (G,) float: the highest score of the detections hitting each lesion
        (the lesion is found at every threshold <= it), ``-inf`` when no detection hits it
        and NaN for ignore regions;
        ``is_fp`` (N,) bool: the detection hits no lesion and no ignore region.
    """
    pair_det, pair_gt = _same_image_pairs(dets.image_index, gt.image_index, gt.num_images)
    hit = pair_hits(dets.boxes[pair_det], gt.boxes[pair_gt], hit_rule, thr)
    pair_det, pair_gt = pair_det[hit], pair_gt[hit]
    hit_score = np.full(len(gt.boxes), -np.inf)
    np.maximum.at(hit_score, pair_gt, dets.scores[pair_det])
    hit_score[gt.ignore] = np.nan
    is_fp = np.ones(len(dets.boxes), dtype=bool)
    is_fp[pair_det] = False  # hits a lesion or an ignore region
    return hit_score, is_fp


@dataclass
class FROCCurve:
    """A FROC curve and its operating points.

    Attributes:
        fps_per_image (ndarray): (K + 1,) non-decreasing, starts at 0.
        sensitivity (ndarray): (K + 1,) non-decreasing, starts at 0.
        thresholds (ndarray): (K,) descending score thresholds of the points after the
            origin (point ``k + 1`` keeps the detections scoring >= ``thresholds[k]``).
        fp_rates (tuple[float]): FP rates of the operating points.
        sens_at (ndarray): sensitivity at ``fp_rates``.
        mean (float): mean sensitivity over ``mean_fp_rates``.
        num_lesions (int): lesions counted.
    """
    fps_per_image: np.ndarray
    sensitivity: np.ndarray
    thresholds: np.ndarray
    fp_rates: Tuple[float, ...]
    sens_at: np.ndarray
    mean: float
    num_lesions: int


def _count_at_least(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each of the descending ``thresholds``, how many ``values`` are >= it.

    O((V + K) log K) through one ``searchsorted`` of the values and a cumulative bincount,
    cheaper than searching all K thresholds when V << K (the per-stratum lesion counts).
    """
    k = len(thresholds)
    # number of thresholds strictly above v = first descending index with t <= v
    first = k - np.searchsorted(thresholds[::-1], values, side='right')
    return np.cumsum(np.bincount(first, minlength=k + 1))[:k]


def sensitivity_at(fps_per_image: np.ndarray, sensitivity: np.ndarray,
                   fp_rates: Sequence[float]) -> np.ndarray:
    """Sensitivity at given FP rates by linear interpolation of a FROC curve.

    Args:
        fps_per_image (ndarray): (K,) non-decreasing, ``fps_per_image[0] == 0``; repeated
            values allowed (several points at one FP rate).
        sensitivity (ndarray): (K,) non-decreasing.
        fp_rates (Sequence[float]): Query FP rates, >= 0.

    Returns:
        ndarray: (len(fp_rates),) float. At a repeated FP value the last (highest)
        sensitivity is used; beyond the curve's end, its last value.
    """
    x = np.asarray(fp_rates, dtype=np.float64)
    fps = np.asarray(fps_per_image, dtype=np.float64)
    sens = np.asarray(sensitivity, dtype=np.float64)
    # np.interp does not define repeated xp values, so interpolate explicitly from the
    # last point at or before x to the next point.
    j = np.searchsorted(fps, x, side='right') - 1
    j = np.clip(j, 0, len(fps) - 1)
    nxt = np.minimum(j + 1, len(fps) - 1)
    span = fps[nxt] - fps[j]
    with np.errstate(divide='ignore', invalid='ignore'):
        frac = np.where(span > 0, (x - fps[j]) / np.where(span > 0, span, 1.0), 0.0)
    return sens[j] + frac * (sens[nxt] - sens[j])


def froc_curve(hit_score: np.ndarray, fp_scores: np.ndarray, num_images: int,
               thresholds: Optional[np.ndarray] = None,
               fp_rates: Sequence[float] = DEFAULT_FP_RATES,
               mean_fp_rates: Sequence[float] = DEFAULT_MEAN_FP_RATES) -> FROCCurve:
    """The FROC curve of a set of lesions.

    Args:
        hit_score (ndarray): (G,) per lesion, from :func:`lesion_hit_scores` (ignore
            regions, NaN, must be removed by the caller).
        fp_scores (ndarray): (F,) scores of the false-positive detections of *all*
            evaluated images.
        num_images (int): Number of evaluated images.
        thresholds (ndarray, optional): Descending distinct score thresholds. Default: the
            distinct values of ``hit_score`` and ``fp_scores``.
        fp_rates (Sequence[float]): Operating points. Default (0.5, 1, 2, 4, 8, 16).
        mean_fp_rates (Sequence[float]): FP rates averaged into ``mean``. Default
            (0.5, 1, 2, 4).

    Returns:
        FROCCurve: with NaN sensitivities when there is no lesion.
    """
    if num_images <= 0:
        raise ValueError('FROC needs at least one evaluated image')
    hits = hit_score[np.isfinite(hit_score)]
    fp_scores = np.asarray(fp_scores, dtype=np.float64)
    if thresholds is None:
        thresholds = np.unique(np.concatenate([hits, fp_scores]))[::-1]
    fps = np.concatenate([[0.0], _count_at_least(fp_scores, thresholds) / num_images])
    return _curve(hits, len(hit_score), fps, thresholds, fp_rates, mean_fp_rates)


def _curve(hits: np.ndarray, n_les: int, fps: np.ndarray, thresholds: np.ndarray,
           fp_rates: Sequence[float], mean_fp_rates: Sequence[float]) -> FROCCurve:
    """:func:`froc_curve` from the FP axis ``fps`` (K + 1,), shared by all strata (the
    strata's curves hold references to the same ``fps`` array, not copies)."""
    hit_count = _count_at_least(hits, thresholds)
    sens = (np.concatenate([[0.0], hit_count / n_les]) if n_les
            else np.full(len(thresholds) + 1, np.nan))
    fp_rates = tuple(float(f) for f in fp_rates)
    sens_at = sensitivity_at(fps, sens, fp_rates)
    mean = float(np.mean(sensitivity_at(fps, sens, mean_fp_rates)))
    return FROCCurve(fps, sens, thresholds, fp_rates, sens_at, mean, n_les)


def lesion_strata(gt: LesionGT, breakdowns: Sequence[str] = ('type', 'size', 'interval')
                  ) -> Dict[str, List[Tuple[str, np.ndarray]]]:
    """Group the lesions into strata.

    Args:
        gt (LesionGT): Lesions; strata use ``lesion_type``, ``long_diameter_mm`` and
            ``slice_interval`` (a breakdown whose attribute is None is skipped).
        breakdowns (Sequence[str]): Any of 'type' (coarse lesion type), 'size' (RECIST long
            diameter: <10, 10-30, >30 mm; 10 and 30 go to 10-30) and 'interval' (slice
            interval of the lesion's image: <=2 mm, 2-5 mm, >=5 mm).

    Returns:
        dict: breakdown -> list of (stratum name, (G,) bool mask over all gt entries,
        ignore regions included -- the caller removes them). Empty strata are dropped.
    """
    unknown = set(breakdowns) - {'type', 'size', 'interval'}
    if unknown:
        raise ValueError(f'unknown breakdowns {sorted(unknown)}; use type, size, interval')
    out: Dict[str, List[Tuple[str, np.ndarray]]] = {}
    if 'type' in breakdowns and gt.lesion_type is not None:
        out['type'] = [(LESION_TYPE_NAMES.get(int(t), f'type{int(t)}'), gt.lesion_type == t)
                       for t in np.unique(gt.lesion_type)]
    if 'size' in breakdowns and gt.long_diameter_mm is not None:
        d = gt.long_diameter_mm
        out['size'] = [('<10mm', d < 10.0), ('10-30mm', (d >= 10.0) & (d <= 30.0)),
                       ('>30mm', d > 30.0)]
    if 'interval' in breakdowns and gt.slice_interval is not None:
        s = gt.slice_interval[gt.image_index]
        out['interval'] = [('<=2mm', s <= 2.0), ('2-5mm', (s > 2.0) & (s < 5.0)),
                           ('>=5mm', s >= 5.0)]
    return {k: [(n, m) for n, m in v if m.any()] for k, v in out.items()}


@dataclass
class FROCResult:
    """Everything :func:`evaluate_froc` computes.

    Attributes:
        overall (FROCCurve): All lesions.
        strata (dict): breakdown -> {stratum name -> FROCCurve}.
        num_images (int): Evaluated images.
        num_detections (int): Detections.
        num_fp (int): False-positive detections (all scores).
        num_ignored (int): Ignore regions (noisy lesions with ``noisy='ignore'``).
        settings (dict): hit_rule, iou_thr, ...
    """
    overall: FROCCurve
    strata: Dict[str, Dict[str, FROCCurve]] = field(default_factory=dict)
    num_images: int = 0
    num_detections: int = 0
    num_fp: int = 0
    num_ignored: int = 0
    settings: dict = field(default_factory=dict)

    def to_metrics(self, breakdown_metrics: str = 'mean') -> Dict[str, float]:
        """Flat metric dict (without prefix).

        Args:
            breakdown_metrics (str): 'mean' (one ``<breakdown>/<stratum>/mean`` per stratum),
                'all' (also ``sens@<f>`` and ``count``) or 'none'. Default 'mean'.

        Returns:
            dict: ``sens@0.5`` ... ``sens@16``, ``mean``, then the breakdown keys, e.g.
            ``type/liver/mean``, ``size/10-30mm/sens@4``, ``interval/<=2mm/count``.
        """
        if breakdown_metrics not in ('mean', 'all', 'none'):
            raise ValueError("breakdown_metrics must be 'mean', 'all' or 'none', "
                             f'got {breakdown_metrics!r}')
        out = _curve_metrics(self.overall)
        if breakdown_metrics == 'none':
            return out
        for bd, strata in self.strata.items():
            for name, curve in strata.items():
                if breakdown_metrics == 'mean':
                    out[f'{bd}/{name}/mean'] = curve.mean
                else:
                    for k, v in _curve_metrics(curve).items():
                        out[f'{bd}/{name}/{k}'] = v
                    out[f'{bd}/{name}/count'] = curve.num_lesions
        return out


def _fmt_rate(f: float) -> str:
    return f'{f:g}'


def _curve_metrics(curve: FROCCurve) -> Dict[str, float]:
    out = {f'sens@{_fmt_rate(f)}': float(s) for f, s in zip(curve.fp_rates, curve.sens_at)}
    out['mean'] = float(curve.mean)
    return out


def evaluate_froc(gt: LesionGT, dets: Detections, hit_rule: str = 'iou', iou_thr: float = 0.5,
                  fp_rates: Sequence[float] = DEFAULT_FP_RATES,
                  mean_fp_rates: Sequence[float] = DEFAULT_MEAN_FP_RATES,
                  breakdowns: Sequence[str] = ('type', 'size', 'interval')) -> FROCResult:
    """FROC of detections against lesions, with breakdowns.

    Args:
        gt (LesionGT): Lesions of the evaluated images.
        dets (Detections): Detections (``image_index`` into ``gt.image_ids``).
        hit_rule (str): 'iou', 'iobb' or 'center' (see :func:`pair_hits`). Default 'iou'.
        iou_thr (float): Threshold of 'iou' / 'iobb'. Default 0.5.
        fp_rates (Sequence[float]): Operating points. Default (0.5, 1, 2, 4, 8, 16).
        mean_fp_rates (Sequence[float]): FP rates averaged into ``mean``. Default
            (0.5, 1, 2, 4).
        breakdowns (Sequence[str]): Strata, see :func:`lesion_strata`.

    Returns:
        FROCResult
    """
    if len(dets.image_index) and (dets.image_index.min() < 0
                                  or dets.image_index.max() >= gt.num_images):
        raise ValueError('detection image_index out of range of the gt images')
    hit_score, is_fp = lesion_hit_scores(gt, dets, hit_rule, iou_thr)
    fp_scores = dets.scores[is_fp]
    keep = ~gt.ignore
    real_scores = hit_score[keep]
    thresholds = np.unique(np.concatenate(
        [real_scores[np.isfinite(real_scores)], fp_scores]))[::-1]
    fps = np.concatenate([[0.0], _count_at_least(fp_scores, thresholds) / gt.num_images])
    kw = dict(fps=fps, thresholds=thresholds, fp_rates=fp_rates, mean_fp_rates=mean_fp_rates)
    overall = _curve(real_scores[np.isfinite(real_scores)], len(real_scores), **kw)
    strata = {}
    for bd, groups in lesion_strata(gt, breakdowns).items():
        strata[bd] = {}
        for name, mask in groups:
            m = mask & keep
            if m.any():
                sc = hit_score[m]
                strata[bd][name] = _curve(sc[np.isfinite(sc)], len(sc), **kw)
    return FROCResult(
        overall=overall, strata=strata, num_images=gt.num_images,
        num_detections=len(dets.scores), num_fp=int(is_fp.sum()),
        num_ignored=int(gt.ignore.sum()),
        settings=dict(hit_rule=hit_rule, iou_thr=iou_thr,
                      fp_rates=tuple(float(f) for f in fp_rates),
                      mean_fp_rates=tuple(float(f) for f in mean_fp_rates)))
