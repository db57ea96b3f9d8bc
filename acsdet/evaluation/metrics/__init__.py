from .dice_metric import DiceMetric
from .froc_metric import FROCMetric
from .region_dice_metric import BRATS_REGIONS, RegionDiceMetric

__all__ = ['FROCMetric', 'DiceMetric', 'RegionDiceMetric', 'BRATS_REGIONS']
