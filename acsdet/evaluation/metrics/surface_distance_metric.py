"""Surface distances of a segmentation, in mm: Hausdorff 95 % (HD95) and the average symmetric
surface distance (ASSD), per class and per label region (e.g. the BraTS WT / TC / ET).

The distances are MONAI's (``monai.metrics.compute_hausdorff_distance`` with
``percentile=95`` and ``compute_average_surface_distance`` with ``symmetric=True``; MONAI
pinned in ``pyproject.toml``), on the voxel spacing of each sample (its ``spacing``
metainfo, (D, H, W) mm, as ``LoadVolumeFromFile`` records it).  MONAI's HD95 is the larger
of the two directed 95th percentiles of the distances from one surface's voxels to the
other surface; ASSD is the mean of both directions' distances.

Conventions per case and class (or region):

* prediction and ground truth both empty: no distance; the case is left out of that class's
  mean;
* exactly one of them empty: ``empty_distance``: ``'diagonal'`` (the default) scores the
  diagonal of the volume in mm, the largest distance the volume allows (a finite penalty,
  so a missed or hallucinated object weighs in the mean; the BraTS challenge scores 373.13
  mm, the diagonal of its 240 x 240 x 155 grid); a number scores that number; None leaves the
  case out;
* a sample without a spacing is measured in voxels (1 mm per voxel), said once in the log.

Every sample is one case (distances need whole volumes: validate on whole volumes or
sliding windows, not crops).  Keys (prefix ``surface``): ``surface/hd95/class_{c}``,
``surface/hd95/mean``, ``surface/assd/class_{c}``, ``surface/assd/mean``, and with
``regions`` the same under the region names, e.g. ``surface/hd95/WT``.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from acsdet.registry import METRICS
from acsdet.utils.segmentation_labels import IGNORE_INDEX

from .dice_metric import _GT_KEYS, _PRED_KEYS, _label_map

__all__ = ['SurfaceDistanceMetric', 'surface_distances']


def surface_distances(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float],
                      percentile: float = 95.0) -> Dict[str, float]:
    """HD (at ``percentile``) and ASSD of two non-empty binary masks of the same shape.

    Args:
        pred, gt (ndarray): bool masks, (D, H, W) or (H, W).
        spacing (Sequence[float]): mm per voxel along each axis of the masks.
        percentile (float): Of the Hausdorff distance. Defaults to 95.

    Returns:
        dict: ``hd`` and ``assd`` in mm.
    """
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance
    p = torch.from_numpy(np.ascontiguousarray(pred, bool))[None, None]
    g = torch.from_numpy(np.ascontiguousarray(gt, bool))[None, None]
    spacing = [float(s) for s in spacing]
    hd = compute_hausdorff_distance(p, g, include_background=True, percentile=percentile,
                                    spacing=spacing)
    assd = compute_average_surface_distance(p, g, include_background=True, symmetric=True,
                                            spacing=spacing)
    return dict(hd=float(hd.reshape(-1)[0]), assd=float(assd.reshape(-1)[0]))


@METRICS.register_module()
class SurfaceDistanceMetric(BaseMetric):
    """Registered HD95 / ASSD metric (mm), per class and per label region.

    Args:
        num_classes (int): Labels K, background (0) included; classes 1..K-1 are reported
            (0 too with ``ignore_background=False``).
        ignore_background (bool): Leave class 0 out. Defaults to True.
        regions (dict[str, Sequence[int]] | None): Region name -> the labels it unites
            (e.g. :data:`~acsdet.evaluation.metrics.BRATS_REGIONS`), reported beside the
            classes. Defaults to None.
        percentile (float): Of the Hausdorff distance. Defaults to 95.
        empty_distance (str | float | None): Distance of a case where exactly one of
            prediction and ground truth is empty: ``'diagonal'`` (the volume's diagonal in
            mm), a number, or None (left out). Defaults to ``'diagonal'``.
        ignore_index (int | None): Ground-truth voxels with this label count as background
            in both maps. Defaults to 255.
        collect_device, prefix, collect_dir: See :class:`mmengine.evaluator.BaseMetric`.

    Data samples: ``pred_sem_seg`` / ``gt_sem_seg`` label maps as :class:`DiceMetric`, and
    the ``spacing`` metainfo ((D, H, W) mm; missing: 1 mm per voxel).
    """

    default_prefix: Optional[str] = 'surface'

    def __init__(self,
                 num_classes: int,
                 ignore_background: bool = True,
                 regions: Optional[Dict[str, Sequence[int]]] = None,
                 percentile: float = 95.0,
                 empty_distance: Union[str, float, None] = 'diagonal',
                 ignore_index: Optional[int] = IGNORE_INDEX,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        if int(num_classes) < (2 if ignore_background else 1):
            raise ValueError(f'SurfaceDistanceMetric: num_classes must be >= 2 with '
                             f'ignore_background, got {num_classes}')
        if not 0 < float(percentile) <= 100:
            raise ValueError(f'SurfaceDistanceMetric: percentile must be in (0, 100], got '
                             f'{percentile}')
        if not (empty_distance is None or empty_distance == 'diagonal' or
                (isinstance(empty_distance, (int, float)) and empty_distance >= 0)):
            raise ValueError(f"SurfaceDistanceMetric: empty_distance must be 'diagonal', a "
                             f'number >= 0 or None, got {empty_distance!r}')
        self.num_classes = int(num_classes)
        first = 1 if ignore_background else 0
        self.targets = OrderedDict((f'class_{c}', (c, )) for c in range(first, self.num_classes))
        for name, labels in (regions or {}).items():
            self.targets[str(name)] = tuple(int(v) for v in labels)
        self.percentile = float(percentile)
        self.empty_distance = empty_distance
        self.ignore_index = ignore_index
        self._warned = False

    def _spacing(self, sample: dict, ndim: int) -> List[float]:
        spacing = sample.get('spacing')
        if spacing is None:
            if not self._warned:
                print_log('SurfaceDistanceMetric: a sample has no spacing: distances in '
                          'voxels (1 mm per voxel)', logger='current', level=30)
                self._warned = True
            return [1.0] * ndim
        spacing = [float(s) for s in spacing][-ndim:]
        if len(spacing) != ndim or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise ValueError(f'SurfaceDistanceMetric: spacing {sample.get("spacing")} does not '
                             f'fit a {ndim}D label map')
        return spacing

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """HD95 and ASSD per target of every sample (NaN where a case is left out)."""
        for sample in data_samples:
            if hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            index = len(self.results)
            pred = np.squeeze(_label_map(sample, _PRED_KEYS, index)).astype(np.int64)
            gt = np.squeeze(_label_map(sample, _GT_KEYS, index)).astype(np.int64)
            if pred.shape != gt.shape:
                raise ValueError(f'SurfaceDistanceMetric: data sample {index}: prediction '
                                 f'shape {pred.shape} != ground truth shape {gt.shape}')
            if self.ignore_index is not None:
                ignored = gt == self.ignore_index
                gt, pred = np.where(ignored, 0, gt), np.where(ignored, 0, pred)
            spacing = self._spacing(sample, pred.ndim)
            diagonal = float(np.sqrt(sum((n * s)**2 for n, s in zip(pred.shape, spacing))))
            row = {}
            for name, labels in self.targets.items():
                p, g = np.isin(pred, labels), np.isin(gt, labels)
                if not p.any() and not g.any():
                    row[name] = (np.nan, np.nan)
                elif not p.any() or not g.any():
                    d = np.nan if self.empty_distance is None else \
                        (diagonal if self.empty_distance == 'diagonal' else
                         float(self.empty_distance))
                    row[name] = (d, d)
                else:
                    dist = surface_distances(p, g, spacing, self.percentile)
                    row[name] = (dist['hd'], dist['assd'])
            self.results.append(row)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Means over the cases (cases left out skipped), then over the targets."""
        metrics = OrderedDict()
        for i, key in enumerate(('hd95', 'assd')):
            values = []
            for name in self.targets:
                col = np.array([r[name][i] for r in results], np.float64)
                v = float(np.nanmean(col)) if np.isfinite(col).any() else float('nan')
                metrics[f'{key}/{name}'] = v
                values.append(v)
            finite = [v for v in values if np.isfinite(v)]
            metrics[f'{key}/mean'] = float(np.mean(finite)) if finite else float('nan')
        print_log(f'SurfaceDistanceMetric over {len(results)} cases: HD95 mean '
                  f'{metrics["hd95/mean"]:.2f} mm, ASSD mean {metrics["assd/mean"]:.2f} mm',
                  logger='current')
        return dict(metrics)
