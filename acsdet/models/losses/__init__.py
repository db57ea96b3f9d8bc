from .seg_cross_entropy_loss import SegCrossEntropyLoss
from .soft_dice_loss import SoftDiceLoss, soft_dice_loss

__all__ = ['SoftDiceLoss', 'soft_dice_loss', 'SegCrossEntropyLoss']
