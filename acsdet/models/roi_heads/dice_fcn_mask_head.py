"""mmdet's FCN mask head with a per-instance loss such as Dice (the ACS paper's mask loss)."""
from typing import List

import torch
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from torch import Tensor

from acsdet.registry import MODELS

__all__ = ['DiceFCNMaskHead']


@MODELS.register_module()
class DiceFCNMaskHead(FCNMaskHead):
    """:class:`mmdet.FCNMaskHead` whose loss gets the mask of each RoI's own class.

    Why this exists: ``FCNMaskHead.loss_and_target`` calls
    ``loss_mask(mask_preds, mask_targets, labels)``, which suits ``CrossEntropyLoss(use_mask=
    True)`` (its third argument is the label), but :class:`mmdet.DiceLoss` takes the third
    argument as a per-instance *weight*: with one foreground class every label is 0, so a
    Dice loss plugged into the stock head is identically zero and the mask branch never
    learns.  Here the predicted mask of each positive RoI's class is selected first, and the
    loss is called as ``loss_mask(pred (N, h, w), target (N, h, w))``.

    Args: as :class:`mmdet.models.roi_heads.FCNMaskHead`; ``loss_mask`` defaults to
        ``dict(type='DiceLoss', use_sigmoid=True, activate=True, loss_weight=1.0)``.

    Shapes:
        - mask_preds (Tensor): (N, num_classes or 1, h, w) logits.
        - mask_targets: (N, h, w) binary.
    """

    def __init__(self, *args,
                 loss_mask: dict = dict(type='DiceLoss', use_sigmoid=True, activate=True,
                                        loss_weight=1.0),
                 **kwargs):
        super().__init__(*args, loss_mask=loss_mask, **kwargs)

    def loss_and_target(self, mask_preds: Tensor, sampling_results: List[SamplingResult],
                        batch_gt_instances: InstanceList,
                        rcnn_train_cfg: ConfigDict) -> dict:
        """The mask loss of the positive RoIs and their targets (see the class doc)."""
        mask_targets = self.get_targets(sampling_results=sampling_results,
                                        batch_gt_instances=batch_gt_instances,
                                        rcnn_train_cfg=rcnn_train_cfg)
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        if mask_preds.size(0) == 0:
            loss_mask = mask_preds.sum()
        else:
            channel = torch.zeros_like(pos_labels) if self.class_agnostic else pos_labels
            pred = mask_preds[torch.arange(mask_preds.size(0), device=mask_preds.device),
                              channel]
            loss_mask = self.loss_mask(pred, mask_targets)
        return dict(loss_mask=dict(loss_mask=loss_mask), mask_targets=mask_targets)
