"""Dice of label regions (unions of labels), e.g. the BraTS whole tumour / tumour core /
enhancing tumour.  It reuses :class:`DiceMetric`'s Dice global / per case, with one
"class" per region instead of per label (regions may overlap, so they cannot be one label
map)."""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import numpy as np

from acsdet.registry import METRICS
from acsdet.utils.segmentation_labels import IGNORE_INDEX

from .dice_metric import _GT_KEYS, _PRED_KEYS, DiceMetric, _label_map

__all__ = ['RegionDiceMetric', 'BRATS_REGIONS']

# BraTS labels after data_prep/brats18_to_json.py: 1 necrotic / non-enhancing core,
# 2 oedema, 3 enhancing tumour (BraTS 4).
BRATS_REGIONS = OrderedDict(WT=(1, 2, 3), TC=(1, 3), ET=(3, ))


@METRICS.register_module()
class RegionDiceMetric(DiceMetric):
    """Dice global and per case of label regions; keys ``region_dice/global/<name>``,
    ``region_dice/global/mean``, ``region_dice/per_case/<name>``,
    ``region_dice/per_case/mean`` (and ``..._iou/...`` with ``with_iou=True``).

    Args:
        regions (dict[str, Sequence[int]]): Region name -> the labels it unites. Defaults
            to :data:`BRATS_REGIONS` (WT = 1+2+3, TC = 1+3, ET = 3).
        ignore_index (int | None): Ground-truth label left out (None: none).
            Defaults to :data:`~acsdet.utils.IGNORE_INDEX` (255).
        empty_score (float | None): Per-case score of a region absent from both prediction
            and ground truth. Defaults to 1.0.
        with_iou (bool): Also report IoU. Defaults to False.
        case_key (str | None): Groups samples into cases. Defaults to ``'case_id'``.
        **kwargs: ``collect_device``, ``prefix``, ``collect_dir``.

    Data samples as :class:`DiceMetric`: ``pred_sem_seg`` and ``gt_sem_seg`` label maps.
    """

    default_prefix: Optional[str] = 'region_dice'

    def __init__(self, regions: Dict[str, Sequence[int]] = BRATS_REGIONS,
                 ignore_index: Optional[int] = IGNORE_INDEX, empty_score: Optional[float] = 1.0,
                 with_iou: bool = False, case_key: Optional[str] = 'case_id',
                 **kwargs) -> None:
        if not regions:
            raise ValueError('RegionDiceMetric: regions must name at least one region')
        self.regions = OrderedDict((str(k), tuple(int(v) for v in labels))
                                   for k, labels in regions.items())
        super().__init__(num_classes=len(self.regions) + 1, ignore_background=True,
                         ignore_index=ignore_index, empty_score=empty_score,
                         with_iou=with_iou, case_key=case_key, **kwargs)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep per-sample voxel counts per region (index 0 unused)."""
        size = len(self.regions) + 1
        for sample in data_samples:
            if hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            index = len(self.results)
            pred = _label_map(sample, _PRED_KEYS, index).reshape(-1)
            gt = _label_map(sample, _GT_KEYS, index).reshape(-1)
            if pred.shape != gt.shape:
                raise ValueError(f'RegionDiceMetric: data sample {index}: prediction size '
                                 f'{pred.size} != ground truth size {gt.size}')
            if self.ignore_index is not None:
                valid = gt != self.ignore_index
                pred, gt = pred[valid], gt[valid]
            counts = {k: np.zeros(size, np.int64) for k in ('inter', 'pred', 'gt')}
            for i, labels in enumerate(self.regions.values(), 1):
                p, g = np.isin(pred, labels), np.isin(gt, labels)
                counts['inter'][i], counts['pred'][i], counts['gt'][i] = \
                    (p & g).sum(), p.sum(), g.sum()
            case = sample.get(self.case_key) if self.case_key else None
            self.results.append(dict(case=('#sample', index) if case is None else case,
                                     **counts))

    def compute_metrics(self, results):
        """:meth:`DiceMetric.compute_metrics` with ``class_<i>`` renamed to the region."""
        names = {f'class_{i}': name for i, name in enumerate(self.regions, 1)}
        metrics = super().compute_metrics(results)
        return {'/'.join(names.get(p, p) for p in k.split('/')): v for k, v in metrics.items()}
