"""PooledLinearClsHead: global average pool + linear, cross entropy."""
import pytest
import torch
import torch.nn.functional as F

from acsdet.apis import register_all_modules
from acsdet.models.cls_heads import PooledLinearClsHead


@pytest.fixture(autouse=True, scope='module')
def _registered():
    register_all_modules()


def test_pool_linear_and_loss_are_cross_entropy():
    torch.manual_seed(0)
    head = PooledLinearClsHead(num_classes=3, in_channels=4)
    feats = torch.randn(2, 4, 3, 5, 2)
    logits = head(feats)
    expected = F.linear(feats.mean(dim=(2, 3, 4)), head.fc.weight, head.fc.bias)
    torch.testing.assert_close(logits, expected)
    # 2D features work the same (the 2D network of conv_type '2d')
    assert head(torch.randn(2, 4, 6, 6)).shape == (2, 3)
    labels = torch.tensor([2, 0])
    loss = head.loss(feats, labels)['loss_cls']
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels))


def test_bad_settings_and_inputs():
    with pytest.raises(ValueError, match='num_classes must be >= 2'):
        PooledLinearClsHead(num_classes=1, in_channels=4)
    with pytest.raises(ValueError, match=r'dropout must be in \[0, 1\), got 1.0'):
        PooledLinearClsHead(in_channels=4, dropout=1.0)
    with pytest.raises(ValueError, match='in_channels is None; build the head inside a '
                       'VolumeClassifier'):
        PooledLinearClsHead()
    head = PooledLinearClsHead(in_channels=4)
    with pytest.raises(ValueError, match=r'features must be \(B, 4, \*spatial\), got shape '
                       r'\(2, 3, 5, 5, 5\)'):
        head(torch.randn(2, 3, 5, 5, 5))
