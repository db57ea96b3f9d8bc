from .froc_metric import FROCMetric

__all__ = ['FROCMetric']
from .dice_metric import DiceMetric  # noqa: E402

__all__ += ['DiceMetric']
from .region_dice_metric import BRATS_REGIONS, RegionDiceMetric  # noqa: E402

__all__ += ['RegionDiceMetric', 'BRATS_REGIONS']
