"""SegCrossEntropyLoss: voxels labelled IGNORE_INDEX are left out and the mean is over the
others, as with SoftDiceLoss and the Dice metrics."""
import warnings

import pytest
import torch
import torch.nn.functional as F

from acsdet.models.losses import SegCrossEntropyLoss
from acsdet.registry import MODELS
from acsdet.utils import IGNORE_INDEX


def _data(seed=0):
    """(2, 4, 3, 5, 6) logits, labels with about a third of the voxels ignored."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 4, 3, 5, 6, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (2, 3, 5, 6), generator=g)
    ignored = torch.rand(labels.shape, generator=g) < 0.3
    return logits, labels.masked_fill(ignored, IGNORE_INDEX), ~ignored


def _kept(logits, labels, valid):
    """The non-ignored voxels only: (N, K) logits, (N,) labels."""
    return logits.movedim(1, -1)[valid], labels[valid]


def test_ignored_voxels_left_out_mean_over_the_rest():
    logits, labels, valid = _data()
    assert 0 < valid.sum() < valid.numel()
    loss = MODELS.build(dict(type='SegCrossEntropyLoss'))
    value = loss(logits, labels)
    assert torch.isfinite(value)
    torch.testing.assert_close(value, F.cross_entropy(*_kept(logits, labels, valid)))
    # what is predicted on an ignored voxel does not matter
    other = logits.clone()
    other.movedim(1, -1)[~valid] = 100 * torch.randn(int((~valid).sum()), 4,
                                                     dtype=torch.float64)
    torch.testing.assert_close(loss(other, labels), value)
    # class weights: mean of the weighted per-voxel losses over the non-ignored voxels
    weights = [1.0, 2.0, 1.0, 3.0]
    weighted = SegCrossEntropyLoss(loss_weight=0.5, class_weight=weights)
    torch.testing.assert_close(weighted(logits, labels), 0.5 * F.cross_entropy(
        *_kept(logits, labels, valid), weight=torch.tensor(weights, dtype=torch.float64),
        reduction='none').mean())


def test_no_ignored_voxel_is_plain_cross_entropy_without_warning():
    logits, labels, _ = _data(1)
    labels = labels.clamp(max=3)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no mmdet "avg_non_ignore is False" warning
        loss = SegCrossEntropyLoss()
    torch.testing.assert_close(loss(logits, labels), F.cross_entropy(logits, labels))


def test_explicit_ignore_index_and_avg_non_ignore_false():
    logits, labels, valid = _data(2)
    labels = labels.masked_fill(~valid, 7)
    loss = SegCrossEntropyLoss(ignore_index=7)
    torch.testing.assert_close(loss(logits, labels),
                               F.cross_entropy(*_kept(logits, labels, valid)))
    # avg_non_ignore=False (mmdet's default): the sum over kept voxels / all voxels
    with pytest.warns(UserWarning, match='avg_non_ignore'):
        loss = SegCrossEntropyLoss(ignore_index=7, avg_non_ignore=False)
    torch.testing.assert_close(loss(logits, labels), F.cross_entropy(
        *_kept(logits, labels, valid), reduction='sum') / labels.numel())
