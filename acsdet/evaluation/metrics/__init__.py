from .binary_cls_metric import BinaryClsMetric
from .dice_metric import DiceMetric
from .froc_metric import FROCMetric
from .poc_table_dice_metric import PocTableDiceMetric, authors_batch_dice
from .region_dice_metric import BRATS_REGIONS, RegionDiceMetric
from .surface_distance_metric import SurfaceDistanceMetric, surface_distances

__all__ = [
    'FROCMetric', 'DiceMetric', 'PocTableDiceMetric', 'authors_batch_dice', 'RegionDiceMetric',
    'BRATS_REGIONS', 'SurfaceDistanceMetric', 'surface_distances', 'BinaryClsMetric'
]
