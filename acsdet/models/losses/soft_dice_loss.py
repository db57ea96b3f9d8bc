"""Multi-class soft Dice loss (V-Net, Milletari et al. 2016) over label maps of any dimension.

Written here because mmdet's ``DiceLoss`` handles per-instance binary masks (sigmoid, shape
(N, *)) only: it has no softmax over classes, no integer label maps and no ignore index, which
volume segmentation needs; mmseg / MONAI are not dependencies of acsdet.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from acsdet.registry import MODELS
from acsdet.utils.segmentation_labels import IGNORE_INDEX

__all__ = ['SoftDiceLoss', 'soft_dice_loss']


def _one_hot_target(target: torch.Tensor, num_classes: int, ignore_index: Optional[int]):
    """(B, *S) integer labels -> ((B, K, *S) float one-hot, (B, 1, *S) float valid mask)."""
    if target.is_floating_point():
        raise ValueError(f'SoftDiceLoss: a label map target must be an integer tensor, got '
                         f'{target.dtype}')
    valid = torch.ones_like(target, dtype=torch.bool)
    if ignore_index is not None:
        valid = target != ignore_index
    labels = torch.where(valid, target, torch.zeros_like(target))
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f'SoftDiceLoss: target labels must lie in [0, {num_classes}) or equal '
                         f'ignore_index={ignore_index}, got range [{int(labels.min())}, '
                         f'{int(labels.max())}]')
    onehot = F.one_hot(labels.long(), num_classes).movedim(-1, 1)
    valid = valid.unsqueeze(1)
    return onehot.to(torch.float32) * valid, valid.to(torch.float32)


def soft_dice_loss(pred: torch.Tensor,
                   target: torch.Tensor,
                   use_sigmoid: bool = False,
                   smooth: float = 1.0,
                   ignore_background: bool = False,
                   ignore_index: Optional[int] = IGNORE_INDEX,
                   batch_dice: bool = True,
                   class_weight: Optional[Sequence[float]] = None,
                   skip_absent: bool = False) -> torch.Tensor:
    """Soft Dice loss ``1 - (2 |P T| + s) / (|P| + |T| + s)``, averaged over classes.

    Args:
        pred (Tensor): Logits (B, K, *S), S any spatial shape, e.g. (D, H, W) or (H, W).
        target (Tensor): Integer label map (B, *S) with values in [0, K) or ``ignore_index``,
            or a float one-hot / soft target (B, K, *S).
        use_sigmoid (bool): Per-class sigmoid instead of a softmax over K. Defaults to False.
        smooth (float): The ``s`` added to numerator and denominator. Defaults to 1.0.
        ignore_background (bool): Leave class 0 out of the average. Defaults to False.
        ignore_index (int | None): Label of voxels left out entirely (integer targets only);
            None: every label must be a class. Defaults to
            :data:`~acsdet.utils.IGNORE_INDEX` (255).
        batch_dice (bool): Sum over the batch too (one Dice per class) instead of one Dice
            per sample and class averaged over the batch. Defaults to True.
        class_weight (list[float] | None): Per-class weights (length K) of the average.
        skip_absent (bool): Give every class absent from the target (over the batch with
            ``batch_dice``, else per sample) a loss term of 0, still dividing by the number
            of (weighted) classes, as the ACS authors' proof-of-concept loss
            (``mylib/loss.py``) does. Defaults to False.

    Returns:
        Tensor: scalar loss.
    """
    if pred.dim() < 3:
        raise ValueError(f'SoftDiceLoss: pred must be (B, K, *S), got shape {tuple(pred.shape)}')
    num_classes = pred.shape[1]
    if target.shape == pred.shape:
        target_f = target.to(pred.dtype)
        valid = None
    elif target.shape == pred.shape[:1] + pred.shape[2:]:
        target_f, valid = _one_hot_target(target, num_classes, ignore_index)
        target_f = target_f.to(pred.dtype)
    else:
        raise ValueError(f'SoftDiceLoss: target shape {tuple(target.shape)} matches neither '
                         f'pred {tuple(pred.shape)} nor its label map '
                         f'{tuple(pred.shape[:1] + pred.shape[2:])}')
    prob = pred.sigmoid() if use_sigmoid else pred.softmax(dim=1)
    if valid is not None:
        prob = prob * valid.to(prob.dtype)
    dims = (0, ) + tuple(range(2, pred.dim())) if batch_dice else tuple(range(2, pred.dim()))
    inter = (prob * target_f).sum(dims)
    denom = prob.sum(dims) + target_f.sum(dims)
    dice = (2 * inter + smooth) / (denom + smooth)  # (K,) or (B, K)
    loss = 1 - dice
    weight = torch.ones(num_classes, dtype=loss.dtype, device=loss.device)
    if class_weight is not None:
        if len(class_weight) != num_classes:
            raise ValueError(f'SoftDiceLoss: class_weight has {len(class_weight)} entries for '
                             f'{num_classes} classes')
        weight = torch.as_tensor(class_weight, dtype=loss.dtype, device=loss.device)
    if ignore_background:
        if num_classes < 2:
            raise ValueError('SoftDiceLoss: ignore_background needs at least 2 classes')
        weight = weight.clone()
        weight[0] = 0
    if skip_absent:  # an absent class's term is 0; the average stays over every class
        loss = loss * (target_f.sum(dims) > 0).to(loss.dtype)
    loss = (loss * weight).sum(-1) / weight.sum()
    return loss.mean()


@MODELS.register_module()
class SoftDiceLoss(nn.Module):
    """Registered multi-class soft Dice loss; see :func:`soft_dice_loss` for the formula.

    Args:
        use_sigmoid (bool): Defaults to False (softmax over classes).
        smooth (float): Defaults to 1.0.
        ignore_background (bool): Defaults to False.
        ignore_index (int | None): Defaults to :data:`~acsdet.utils.IGNORE_INDEX` (255).
        batch_dice (bool): Defaults to True.
        class_weight (list[float] | None): Defaults to None.
        skip_absent (bool): Defaults to False.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Key of the loss in a segmentor's loss dict. Defaults to
            ``'loss_dice'``.

    Shape:
        pred (Tensor): (B, K, *S) logits; target (Tensor): (B, *S) labels or (B, K, *S).
        Returns a scalar.
    """

    def __init__(self,
                 use_sigmoid: bool = False,
                 smooth: float = 1.0,
                 ignore_background: bool = False,
                 ignore_index: Optional[int] = IGNORE_INDEX,
                 batch_dice: bool = True,
                 class_weight: Optional[Sequence[float]] = None,
                 skip_absent: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        self.use_sigmoid = use_sigmoid
        self.smooth = smooth
        self.ignore_background = ignore_background
        self.ignore_index = ignore_index
        self.batch_dice = batch_dice
        self.class_weight = class_weight
        self.skip_absent = skip_absent
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted loss. pred (B, K, *S), target (B, *S) or (B, K, *S) -> scalar."""
        return self.loss_weight * soft_dice_loss(
            pred, target, self.use_sigmoid, self.smooth, self.ignore_background,
            self.ignore_index, self.batch_dice, self.class_weight, self.skip_absent)
