"""acsdet.utils.IGNORE_INDEX is the one ignore_index default of segmentation losses and
metrics."""
import inspect

import pytest

from acsdet.evaluation.metrics import DiceMetric, RegionDiceMetric
from acsdet.models.losses import SegCrossEntropyLoss, SoftDiceLoss, soft_dice_loss
from acsdet.utils import IGNORE_INDEX, segmentation_labels


def test_ignore_index_is_mmseg_255_and_exported():
    assert IGNORE_INDEX == 255 and segmentation_labels.IGNORE_INDEX is IGNORE_INDEX


@pytest.mark.parametrize('build', [
    SoftDiceLoss, SegCrossEntropyLoss, lambda: DiceMetric(num_classes=3), RegionDiceMetric
], ids=['SoftDiceLoss', 'SegCrossEntropyLoss', 'DiceMetric', 'RegionDiceMetric'])
def test_losses_and_metrics_default_to_it(build):
    assert build().ignore_index == IGNORE_INDEX


@pytest.mark.parametrize('func', [soft_dice_loss, SoftDiceLoss, SegCrossEntropyLoss,
                                  DiceMetric, RegionDiceMetric])
def test_signature_defaults(func):
    assert inspect.signature(func).parameters['ignore_index'].default == IGNORE_INDEX
