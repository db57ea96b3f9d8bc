"""The label convention of acsdet's segmentation label maps, shared by losses and metrics.

A label map (one integer per voxel / pixel) holds the class index ``0 .. K-1`` (0 the
background) or :data:`IGNORE_INDEX` for a voxel that no loss or metric may count (unlabelled,
padding, an uncertain border), the convention of mmseg. It is the one default of
``ignore_index`` in :class:`~acsdet.models.losses.SoftDiceLoss`,
:class:`~acsdet.models.losses.SegCrossEntropyLoss`,
:class:`~acsdet.evaluation.metrics.DiceMetric` and
:class:`~acsdet.evaluation.metrics.RegionDiceMetric`, so a voxel ignored by one is ignored
by all. 255 fits a uint8 label map and lies above any class index (K <= 255).
"""

__all__ = ['IGNORE_INDEX']

#: Label of a voxel left out of every segmentation loss and metric.
IGNORE_INDEX = 255
