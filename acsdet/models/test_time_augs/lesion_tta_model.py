"""``LesionDetTTAModel``: mmdet's detection TTA merge, extended to instance masks."""
from typing import List, Optional

import torch
from mmcv.ops import batched_nms
from mmdet.models.test_time_augs import DetTTAModel
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from acsdet.registry import MODELS

__all__ = ['LesionDetTTAModel', 'unflip_masks']

_FLIP_DIMS = {'horizontal': (-1,), 'vertical': (-2,), 'diagonal': (-2, -1)}


def unflip_masks(masks: Tensor, flip: bool, direction: str) -> Tensor:
    """Undo a flip of (N, H, W) masks predicted on a flipped view.

    Args:
        masks (Tensor): (N, H, W) bool / float masks in the view's (flipped) frame, at the
            original image size (the detectors rescale their masks to ``ori_shape``).
        flip (bool): Whether the view was flipped.
        direction (str): ``'horizontal'``, ``'vertical'`` or ``'diagonal'``.

    Returns:
        Tensor: (N, H, W) in the original frame.
    """
    if not flip:
        return masks
    if direction not in _FLIP_DIMS:
        raise ValueError(f'unflip_masks: unknown flip direction {direction!r}, expected one '
                         f'of {sorted(_FLIP_DIMS)}')
    return masks.flip(_FLIP_DIMS[direction])


@MODELS.register_module()
class LesionDetTTAModel(DetTTAModel):
    """Test-time augmentation for the lesion detectors: boxes and masks of every view mapped
    back to the original frame, pooled, and reduced by class-wise NMS.

    mmdet's :class:`~mmdet.models.test_time_augs.DetTTAModel` merges boxes only and refuses
    instance masks (``'TTA of instance segmentation does not support now.'``); this subclass
    keeps its box merge (``bbox_flip`` back to ``ori_shape``, ``batched_nms`` with
    ``tta_cfg.nms``, ``tta_cfg.max_per_img``) and carries each kept detection's mask along,
    un-flipped by :func:`unflip_masks`.  Multi-scale views need nothing more: the detectors
    return boxes and masks at ``ori_shape`` already.  RECIST measurements are derived from
    the merged masks downstream (:func:`acsdet.apis.recist_from_mask`), so they follow.

    Config (``tools/test.py --tta`` uses the config's ``tta_model`` / ``tta_pipeline``)::

        tta_model = dict(type='LesionDetTTAModel',
                         tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                                      max_per_img=50))

    Args:
        tta_cfg (dict): ``nms`` (an mmcv NMS config) and ``max_per_img``.
        **kwargs: :class:`~mmengine.model.BaseTTAModel` arguments (``module``).
    """

    def __init__(self, tta_cfg: Optional[dict] = None, **kwargs):
        missing = [k for k in ('nms', 'max_per_img') if k not in (tta_cfg or {})]
        if missing:
            raise ValueError(f'LesionDetTTAModel: tta_cfg needs {missing}, got {tta_cfg!r} '
                             "(e.g. dict(nms=dict(type='nms', iou_threshold=0.5), "
                             'max_per_img=50))')
        super().__init__(tta_cfg=ConfigDict(tta_cfg), **kwargs)

    def _merge_single_sample(self, data_samples: List[DetDataSample]) -> DetDataSample:
        """Merge the views of one image.

        Args:
            data_samples (list[DetDataSample]): One per view; ``pred_instances`` with
                ``bboxes`` (N_v, 4), ``scores`` (N_v,), ``labels`` (N_v,) and optionally
                ``masks`` (N_v, H, W) at ``ori_shape``.

        Returns:
            DetDataSample: The first view's sample with the merged ``pred_instances``
            (at most ``max_per_img``, by decreasing score).
        """
        with_masks = data_samples[0].pred_instances.get('masks', None) is not None
        if with_masks and any(s.pred_instances.get('masks', None) is None
                              for s in data_samples):
            raise ValueError('LesionDetTTAModel: some views predicted masks and some did not')
        metas = [s.metainfo for s in data_samples]
        bboxes, scores = self.merge_aug_bboxes(
            [s.pred_instances.bboxes for s in data_samples],
            [s.pred_instances.scores for s in data_samples], metas)
        labels = torch.cat([s.pred_instances.labels for s in data_samples])
        merged = data_samples[0]
        if bboxes.numel() == 0:
            return merged
        dets, keep = batched_nms(bboxes, scores, labels, self.tta_cfg.nms)
        keep = keep[:self.tta_cfg.max_per_img]
        results = InstanceData()
        results.bboxes = dets[:self.tta_cfg.max_per_img, :-1]
        results.scores = dets[:self.tta_cfg.max_per_img, -1]
        results.labels = labels[keep]
        if with_masks:
            masks = torch.cat([
                unflip_masks(s.pred_instances.masks, m.get('flip', False),
                             m.get('flip_direction', None))
                for s, m in zip(data_samples, metas)])
            results.masks = masks[keep]
        merged.pred_instances = results
        return merged
