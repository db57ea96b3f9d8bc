import math

import pytest
import torch
import torch.nn.functional as F

from acsdet.models.losses import SoftDiceLoss, soft_dice_loss
from acsdet.registry import MODELS


def _logits(probs):
    """(B, K, *S) probabilities -> logits whose softmax gives them back."""
    return torch.tensor(probs, dtype=torch.float64).log()


# two voxels: softmax probs (0.8, 0.2) and (0.25, 0.75), labels 0 and 1
PRED = _logits([[[0.8, 0.25], [0.2, 0.75]]])     # (1, 2, 2)
TARGET = torch.tensor([[0, 1]])                   # (1, 2)


def test_hand_computed_values():
    # class 0: 2 * 0.8 / (1.05 + 1); class 1: 2 * 0.75 / (0.95 + 1)
    d0, d1 = 1.6 / 2.05, 1.5 / 1.95
    assert soft_dice_loss(PRED, TARGET, smooth=0).item() == pytest.approx(1 - (d0 + d1) / 2)
    s0, s1 = 2.6 / 3.05, 2.5 / 2.95
    assert soft_dice_loss(PRED, TARGET, smooth=1).item() == pytest.approx(1 - (s0 + s1) / 2)
    assert soft_dice_loss(PRED, TARGET, smooth=0,
                          ignore_background=True).item() == pytest.approx(1 - d1)
    assert soft_dice_loss(PRED, TARGET, smooth=0, class_weight=[1, 3]).item() == \
        pytest.approx(1 - (d0 + 3 * d1) / 4)


def test_ignore_index_voxels_do_not_count():
    pred = torch.cat([PRED, _logits([[[0.5], [0.5]]])], dim=2)    # a third voxel
    target = torch.tensor([[0, 1, 255]])
    assert soft_dice_loss(pred, target, smooth=0).item() == pytest.approx(
        soft_dice_loss(PRED, TARGET, smooth=0).item())
    pred2 = pred.clone()
    pred2[..., 2] = torch.tensor([5.0, -5.0], dtype=pred.dtype)
    assert soft_dice_loss(pred2, target).item() == pytest.approx(
        soft_dice_loss(pred, target).item())
    # without an ignore index, label 255 is out of range
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 2\) or equal '
                                         r'ignore_index=None, got range \[0, 255\]'):
        soft_dice_loss(pred, target, ignore_index=None)


def test_batch_dice_versus_per_sample():
    # sample 1 perfect (class 0 only), sample 2 as PRED/TARGET
    perfect = _logits([[[1.0, 1.0], [1e-300, 1e-300]]])
    pred = torch.cat([perfect, PRED])
    target = torch.tensor([[0, 0], [0, 1]])
    d0, d1 = 1.6 / 2.05, 1.5 / 1.95
    # per sample: sample 1 has class 0 dice 1, class 1 dice (0 + 1) / (0 + 1) = 1 with smooth
    per_sample = soft_dice_loss(pred, target, smooth=1e-9, batch_dice=False).item()
    assert per_sample == pytest.approx((0 + (1 - (d0 + d1) / 2)) / 2, abs=1e-6)
    # batch: class 0: I = 2 + 0.8, P = 2 + 1.05, T = 3; class 1: I = 0.75, P = 0.95, T = 1
    batch = soft_dice_loss(pred, target, smooth=0, batch_dice=True).item()
    assert batch == pytest.approx(1 - (5.6 / 6.05 + 1.5 / 1.95) / 2, abs=1e-9)


def test_one_hot_target_and_3d_shapes_and_perfect_prediction():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (2, 4, 5, 6))
    onehot = F.one_hot(labels, 3).movedim(-1, 1).float()
    logits = torch.randn(2, 3, 4, 5, 6)
    assert soft_dice_loss(logits, labels).item() == pytest.approx(
        soft_dice_loss(logits, onehot).item(), rel=1e-6)
    assert soft_dice_loss(onehot * 100, labels, smooth=0).item() == pytest.approx(0, abs=1e-6)
    assert soft_dice_loss(-onehot * 100, labels, smooth=0).item() > 0.99


def test_sigmoid_binary():
    logit = torch.tensor([[[math.log(0.8 / 0.2), math.log(0.25 / 0.75)]]])   # (1, 1, 2)
    target = torch.tensor([[[1.0, 0.0]]])
    # p = (0.8, 0.25): I = 0.8, P = 1.05, T = 1
    assert soft_dice_loss(logit, target, use_sigmoid=True, smooth=0).item() == \
        pytest.approx(1 - 1.6 / 2.05)


def test_module_registered_weighted_and_differentiable():
    loss = MODELS.build(dict(type='SoftDiceLoss', smooth=0, loss_weight=2.0))
    assert isinstance(loss, SoftDiceLoss) and loss.loss_name == 'loss_dice'
    pred = PRED.clone().requires_grad_()
    value = loss(pred, TARGET)
    assert value.item() == pytest.approx(2 * soft_dice_loss(PRED, TARGET, smooth=0).item())
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_bad_inputs():
    with pytest.raises(ValueError, match=r'target shape \(1, 3\) matches neither pred '
                                         r'\(1, 2, 2\) nor its label map \(1, 2\)'):
        soft_dice_loss(PRED, torch.tensor([[0, 1, 1]]))
    with pytest.raises(ValueError, match='a label map target must be an integer tensor'):
        soft_dice_loss(PRED, TARGET.float())
    with pytest.raises(ValueError, match='class_weight has 3 entries for 2 classes'):
        soft_dice_loss(PRED, TARGET, class_weight=[1, 1, 1])
    with pytest.raises(ValueError, match=r'pred must be \(B, K, \*S\), got shape \(2, 2\)'):
        soft_dice_loss(torch.zeros(2, 2), TARGET)


def test_skip_absent_gives_absent_classes_zero_and_keeps_the_class_count():
    """The ACS authors' POC loss (mylib/loss.py): classes absent from the batch's target add
    0, the sum is still divided by every class."""
    torch.manual_seed(0)
    pred = torch.randn(2, 4, 5, 5)
    target = torch.randint(0, 2, (2, 5, 5))  # classes 2 and 3 absent
    full = soft_dice_loss(pred, target, smooth=1e-2, batch_dice=True)
    skip = soft_dice_loss(pred, target, smooth=1e-2, batch_dice=True, skip_absent=True)
    prob = pred.softmax(1)
    onehot = torch.nn.functional.one_hot(target, 4).movedim(-1, 1).float()
    per_class = 1 - (2 * (prob * onehot).sum((0, 2, 3)) + 1e-2) / (
        prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1e-2)
    torch.testing.assert_close(full, per_class.mean())
    torch.testing.assert_close(skip, per_class[:2].sum() / 4)
    # the module passes it on
    module = SoftDiceLoss(smooth=1e-2, skip_absent=True)
    torch.testing.assert_close(module(pred, target), skip)
