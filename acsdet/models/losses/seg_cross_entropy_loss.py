"""Cross-entropy over label maps with a ``loss_name``: mmdet's ``CrossEntropyLoss`` underneath.

mmdet's ``CrossEntropyLoss`` already handles logits (B, K, *S) against labels (B, *S) (it calls
``F.cross_entropy``), but it has no ``loss_name``, so :class:`VolumeSegmentor` could only log
it as ``loss_<index>``, and its ``ignore_index`` defaults to PyTorch's -100, not the
:data:`~acsdet.utils.IGNORE_INDEX` (255) of acsdet's label maps, Dice loss and metrics.  This
subclass adds the name and that default (mmseg's CE loss has both, but mmseg is not an acsdet
dependency).
"""
from typing import Optional

from mmdet.models.losses import CrossEntropyLoss

from acsdet.registry import MODELS
from acsdet.utils.segmentation_labels import IGNORE_INDEX

__all__ = ['SegCrossEntropyLoss']


@MODELS.register_module()
class SegCrossEntropyLoss(CrossEntropyLoss):
    """Softmax cross-entropy of segmentation logits, logged under ``loss_name``.

    Args:
        loss_name (str): Key of the loss in :class:`VolumeSegmentor`'s loss dict (and the
            log). Defaults to ``'loss_ce'``.
        loss_weight (float): Defaults to 1.0.
        class_weight (list[float] | None): Per-class weights (length K). Defaults to None.
        ignore_index (int | None): Label of voxels left out of the loss; None: mmdet's
            (PyTorch's) -100. Defaults to :data:`~acsdet.utils.IGNORE_INDEX` (255).
        avg_non_ignore (bool): Divide the sum by the number of non-ignored voxels (as
            ``F.cross_entropy`` without ``class_weight``; with it, that one divides by the
            sum of their weights instead); False divides by all voxels, ignored ones
            included. Defaults to True.

    Shape:
        cls_score (Tensor): (B, K, *S) logits, S = (D, H, W) or (H, W);
        label (Tensor): (B, *S) int64 -> scalar loss.
    """

    def __init__(self,
                 loss_name: str = 'loss_ce',
                 loss_weight: float = 1.0,
                 class_weight=None,
                 ignore_index: Optional[int] = IGNORE_INDEX,
                 avg_non_ignore: bool = True) -> None:
        super().__init__(use_sigmoid=False, use_mask=False, reduction='mean',
                         class_weight=class_weight, ignore_index=ignore_index,
                         loss_weight=loss_weight, avg_non_ignore=avg_non_ignore)
        self.loss_name = loss_name
