"""FROC metric for mmengine's ``val_evaluator`` / ``test_evaluator``."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from acsdet.registry import METRICS

from ..functional import (DEFAULT_FP_RATES, DEFAULT_MEAN_FP_RATES, HIT_RULES, NOISY_MODES,
                          Detections, FROCResult, LesionGT, distractor_fp_rate, evaluate_froc,
                          format_froc_table, lesion_gt_from_coco, plot_froc_curves, read_json)

__all__ = ['FROCMetric']


def _read_distractors(path: str) -> Dict[str, list]:
    """``{file_name: [[x1, y1, x2, y2], ...]}`` of a look-alike box file, checked."""
    data = read_json(path, 'FROCMetric distractor_file')
    boxes = data.get('boxes_xyxy_0based') if isinstance(data, dict) else None
    if not isinstance(boxes, dict):
        raise ValueError(f'FROCMetric distractor_file {path}: expected an object with '
                         "'boxes_xyxy_0based': {file_name: [[x1, y1, x2, y2], ...]}")
    for name, bs in boxes.items():
        arr = np.asarray(bs, np.float64)
        if arr.size and (arr.ndim != 2 or arr.shape[1] != 4 or not np.isfinite(arr).all()):
            raise ValueError(f'FROCMetric distractor_file {path}: boxes of {name!r} are not '
                             f'a list of [x1, y1, x2, y2]')
    return boxes


def _np(x, dtype=np.float64) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


@METRICS.register_module()
class FROCMetric(BaseMetric):
    """Lesion-detection FROC with the DeepLesion hit rule, plus breakdowns.

    Logs ``froc/sens@0.5`` ... ``froc/sens@16`` and ``froc/mean`` (mean over 0.5, 1, 2, 4
    FPs per image), so ``default_hooks.checkpoint.save_best='froc/mean'`` keeps the best
    model, and one ``froc/<breakdown>/<stratum>/mean`` per stratum (e.g.
    ``froc/type/liver/mean``, ``froc/size/10-30mm/mean``, ``froc/interval/<=2mm/mean``).
    The full table (all strata, all FP rates, lesion counts) is printed to the log. The
    definition and conventions are in :mod:`acsdet.evaluation.functional.froc` and
    ``docs/froc.md``; ``tools/froc_eval.py`` runs the same code on saved predictions.

    Every processed image is an evaluated image: it counts in the FP rate even with no
    lesion or no detection. All predicted labels count as lesions (one-class task).

    Plots: the metric keeps its last :class:`FROCResult` in :attr:`last_result` (main
    process). :class:`acsdet.engine.hooks.FROCCurveHook` turns it into
    ``<work_dir>/froc/*.png`` and pushes it to the visualizer at every evaluation; outside a
    Runner, set ``out_dir`` to have the metric write ``<out_dir>/froc_<n>.png`` itself.

    Args:
        ann_file (str, optional): DeepLesion COCO json (``bbox``, ``noisy``/``iscrowd``,
            ``lesion_type``, ``long_diameter_mm``, image ``slice_interval``). None: take the
            gt from each data sample's ``instances`` (mmdet style: ``bbox`` xyxy in original
            image pixels, ``ignore_flag``, optional ``lesion_type``/``long_diameter_mm``) and
            its ``slice_interval`` metainfo. Default None.
        hit_rule (str): 'iou', 'iobb' (intersection over detected-box area) or 'center'
            (detection centre inside the lesion box). Default 'iou'.
        iou_thr (float): Threshold of 'iou' / 'iobb'. Default 0.5.
        noisy (str): 'drop' (noisy lesions removed, as published: a detection on one is an
            FP) or 'ignore' (ignore regions: neither TP nor FP). Default 'drop'.
        fp_rates (Sequence[float]): Operating points. Default (0.5, 1, 2, 4, 8, 16).
        mean_fp_rates (Sequence[float]): Averaged into ``mean``. Default (0.5, 1, 2, 4).
        breakdowns (Sequence[str]): Any of 'type', 'size', 'interval'. Default all three.
        breakdown_metrics (str): Per-stratum keys returned: 'mean', 'all' (also
            ``sens@<f>`` and ``count``) or 'none'. The printed table always has everything.
            Default 'mean'.
        out_dir (str, optional): Write a PNG of the curve there at each evaluation.
            Default None (leave it to ``FROCCurveHook``).
        collect_device (str): 'cpu' or 'gpu'. Default 'cpu'.
        prefix (str, optional): Key prefix. Default 'froc'.
        collect_dir (str, optional): See :class:`mmengine.evaluator.BaseMetric`.
        distractor_file (str, optional): A look-alike box file (the demo's
            ``distractors.json``: ``{"boxes_xyxy_0based": {coco file_name: [[x1, y1, x2,
            y2], ...]}}``). With it, :func:`~acsdet.evaluation.distractor_fp_rate` at
            ``distractor_fp_rate`` FPs per image adds ``distractor/fp_per_image``,
            ``distractor/fp_share`` and ``distractor/detected``. Needs ``ann_file`` (for the
            images' file names). Default None.
        distractor_fp_rate (float): Its operating point. Default 2.0.
    """
    default_prefix: Optional[str] = 'froc'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 hit_rule: str = 'iou',
                 iou_thr: float = 0.5,
                 noisy: str = 'drop',
                 fp_rates: Sequence[float] = DEFAULT_FP_RATES,
                 mean_fp_rates: Sequence[float] = DEFAULT_MEAN_FP_RATES,
                 breakdowns: Sequence[str] = ('type', 'size', 'interval'),
                 breakdown_metrics: str = 'mean',
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 distractor_file: Optional[str] = None,
                 distractor_fp_rate: float = 2.0) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        if hit_rule not in HIT_RULES:
            raise ValueError(f'FROCMetric: hit_rule must be one of {HIT_RULES}, '
                             f'got {hit_rule!r}')
        if noisy not in NOISY_MODES:
            raise ValueError(f"FROCMetric: noisy must be 'drop' or 'ignore', got {noisy!r}")
        if breakdown_metrics not in ('mean', 'all', 'none'):
            raise ValueError("FROCMetric: breakdown_metrics must be 'mean', 'all' or 'none', "
                             f'got {breakdown_metrics!r}')
        unknown = set(breakdowns) - {'type', 'size', 'interval'}
        if unknown:
            raise ValueError(f'FROCMetric: unknown breakdowns {sorted(unknown)}')
        self.ann_file = ann_file
        self.hit_rule = hit_rule
        self.iou_thr = float(iou_thr)
        self.noisy = noisy
        self.fp_rates = tuple(float(f) for f in fp_rates)
        self.mean_fp_rates = tuple(float(f) for f in mean_fp_rates)
        self.breakdowns = tuple(breakdowns)
        self.breakdown_metrics = breakdown_metrics
        self.out_dir = out_dir
        self.last_result: Optional[FROCResult] = None
        self.num_evaluations = 0
        # Read once: the json is only parsed again for the list of evaluated images.
        self._coco = None
        if ann_file is not None:
            self._coco = read_json(ann_file, 'FROCMetric ann_file')
        self.distractor_fp_rate = float(distractor_fp_rate)
        self._distractors = None
        if distractor_file is not None:
            if ann_file is None:
                raise ValueError('FROCMetric: distractor_file needs ann_file (the look-alike '
                                 'boxes are keyed by the COCO images\' file_name)')
            self._distractors = _read_distractors(distractor_file)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep, per image, the img_id, the detections and (without ``ann_file``) the gt.

        Args:
            data_batch (dict): Unused.
            data_samples (Sequence[dict]): ``data_sample.to_dict()`` of mmdet
                ``DetDataSample``s with ``img_id`` and ``pred_instances`` (``bboxes``
                (N, 4) xyxy in the original image frame, ``scores`` (N,)).
        """
        for ds in data_samples:
            pred = ds['pred_instances']
            result = dict(img_id=ds['img_id'],
                          bboxes=_np(pred['bboxes'], np.float32).reshape(-1, 4),
                          scores=_np(pred['scores'], np.float32).reshape(-1))
            if self._coco is None:
                result['gt'] = self._gt_from_sample(ds)
            self.results.append(result)

    @staticmethod
    def _gt_from_sample(ds: dict) -> dict:
        instances = ds.get('instances')
        if instances is None:
            raise KeyError(f"FROCMetric: data sample of img_id {ds.get('img_id')!r} has no "
                           "'instances' (needed when ann_file is None)")
        boxes = np.asarray([ins['bbox'] for ins in instances], np.float32).reshape(-1, 4)
        gt = dict(bboxes=boxes,
                  ignore=np.asarray([bool(ins.get('ignore_flag', 0)) for ins in instances],
                                    bool),
                  slice_interval=float(ds.get('slice_interval', np.nan) or np.nan))
        if instances and all('lesion_type' in ins for ins in instances):
            gt['lesion_type'] = np.asarray([ins['lesion_type'] for ins in instances],
                                           np.int64)
        if instances and all('long_diameter_mm' in ins for ins in instances):
            gt['long_diameter_mm'] = np.asarray(
                [np.nan if ins['long_diameter_mm'] is None else ins['long_diameter_mm']
                 for ins in instances], np.float64)
        return gt

    def _gt_from_results(self, results: List[dict]) -> LesionGT:
        """Ground truth collected from the data samples (``ann_file=None``)."""
        gts = [r['gt'] for r in results]
        counts = [len(g['bboxes']) for g in gts]
        keep_all = np.concatenate([
            (~g['ignore']) if self.noisy == 'drop' else np.ones(len(g['ignore']), bool)
            for g in gts]) if gts else np.zeros(0, bool)

        def cat(key, dtype, fill):
            if not any(key in g for g in gts):
                return None
            return np.concatenate([
                g.get(key, np.full(n, fill, dtype)) for g, n in zip(gts, counts)])[keep_all]

        return LesionGT(
            image_ids=[r['img_id'] for r in results],
            boxes=np.concatenate([g['bboxes'] for g in gts])[keep_all],
            image_index=np.repeat(np.arange(len(gts)), counts)[keep_all],
            ignore=np.concatenate([g['ignore'] for g in gts])[keep_all],
            lesion_type=cat('lesion_type', np.int64, -1),
            long_diameter_mm=cat('long_diameter_mm', np.float64, np.nan),
            slice_interval=np.asarray([g['slice_interval'] for g in gts], np.float64))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """FROC of the collected results.

        Args:
            results (list[dict]): From :meth:`process`, gathered over all ranks.

        Returns:
            dict: ``sens@0.5`` ... ``sens@16``, ``mean`` and the breakdown keys
            (BaseMetric adds the ``froc/`` prefix).
        """
        # One entry per image: a sampler may repeat an image; keep its first result.
        seen, unique = set(), []
        for r in results:
            if r['img_id'] not in seen:
                seen.add(r['img_id'])
                unique.append(r)
        img_ids = [r['img_id'] for r in unique]
        if self._coco is not None:
            gt = lesion_gt_from_coco(self._coco, noisy=self.noisy, source=self.ann_file,
                                     image_ids=img_ids)
        else:
            gt = self._gt_from_results(unique)
        counts = [len(r['scores']) for r in unique]
        dets = Detections(
            np.concatenate([r['bboxes'] for r in unique]) if unique else np.zeros((0, 4)),
            np.concatenate([r['scores'] for r in unique]) if unique else np.zeros(0),
            np.repeat(np.arange(len(unique)), counts))
        result = evaluate_froc(gt, dets, hit_rule=self.hit_rule, iou_thr=self.iou_thr,
                               fp_rates=self.fp_rates, mean_fp_rates=self.mean_fp_rates,
                               breakdowns=self.breakdowns)
        result.settings['noisy'] = self.noisy
        self.last_result = result
        self.num_evaluations += 1
        print_log('\n' + format_froc_table(result), logger='current')
        metrics = result.to_metrics(self.breakdown_metrics)
        if self._distractors is not None:
            metrics.update(self._distractor_metrics(gt, dets))
        if self.out_dir is not None:
            out_file = osp.join(self.out_dir, f'froc_{self.num_evaluations}.png')
            plot_froc_curves([(self.prefix or 'FROC', result.overall)], out_file=out_file,
                             title=f'FROC ({len(img_ids)} images)')
            print_log(f'FROC curve written to {out_file}', logger='current')
        return metrics

    def _distractor_metrics(self, gt: LesionGT, dets: Detections) -> Dict[str, float]:
        names = {im['id']: im['file_name'] for im in self._coco['images']}
        boxes = [np.asarray(self._distractors.get(names.get(i), []), np.float64).reshape(-1, 4)
                 for i in gt.image_ids]
        d = distractor_fp_rate(gt, dets, boxes, self.distractor_fp_rate, self.hit_rule,
                               self.iou_thr)
        print_log(f"look-alikes at {self.distractor_fp_rate:g} FPs per image: "
                  f"{d['distractor_fp_per_image']:.3f} FPs per image on look-alikes "
                  f"({d['distractor_fp_share']:.1%} of the FPs), "
                  f"{d['distractors_detected']:.1%} of {d['num_distractors']} look-alikes "
                  'detected', logger='current')
        return {'distractor/fp_per_image': d['distractor_fp_per_image'],
                'distractor/fp_share': d['distractor_fp_share'],
                'distractor/detected': d['distractors_detected']}
