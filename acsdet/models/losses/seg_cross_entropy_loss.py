"""Cross-entropy over label maps with a ``loss_name``: mmdet's ``CrossEntropyLoss`` underneath.

mmdet's ``CrossEntropyLoss`` already handles logits (B, K, *S) against labels (B, *S) (it calls
``F.cross_entropy``), but it has no ``loss_name``, so :class:`VolumeSegmentor` could only log
it as ``loss_<index>``.  This subclass only adds the name (mmseg's CE loss has one, but mmseg
is not an acsdet dependency).
"""
from mmdet.models.losses import CrossEntropyLoss

from acsdet.registry import MODELS

__all__ = ['SegCrossEntropyLoss']


@MODELS.register_module()
class SegCrossEntropyLoss(CrossEntropyLoss):
    """Softmax cross-entropy of segmentation logits, logged under ``loss_name``.

    Args:
        loss_name (str): Key of the loss in :class:`VolumeSegmentor`'s loss dict (and the
            log). Defaults to ``'loss_ce'``.
        loss_weight (float): Defaults to 1.0.
        class_weight (list[float] | None): Per-class weights (length K). Defaults to None.
        ignore_index (int | None): Label ignored in the loss. Defaults to None (mmdet's
            -100).
        avg_non_ignore (bool): Average over non-ignored voxels only. Defaults to False.

    Shape:
        cls_score (Tensor): (B, K, *S) logits, S = (D, H, W) or (H, W);
        label (Tensor): (B, *S) int64 -> scalar loss.
    """

    def __init__(self,
                 loss_name: str = 'loss_ce',
                 loss_weight: float = 1.0,
                 class_weight=None,
                 ignore_index=None,
                 avg_non_ignore: bool = False) -> None:
        super().__init__(use_sigmoid=False, use_mask=False, reduction='mean',
                         class_weight=class_weight, ignore_index=ignore_index,
                         loss_weight=loss_weight, avg_non_ignore=avg_non_ignore)
        self.loss_name = loss_name
