"""VolumeClassifier: loss / predict / tensor modes, the head's in_channels from the network,
one real training step, clear errors."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from acsdet.apis import register_all_modules
from acsdet.models.classifiers import VolumeClassifier

NET = dict(type='TorchvisionClsNetwork', arch='resnet18', conv_type='acs')


@pytest.fixture(autouse=True, scope='module')
def _registered():
    register_all_modules()


def _samples(labels):
    return [BaseDataElement(gt_label=torch.tensor([c])) for c in labels]


def test_modes_and_the_head_width():
    torch.manual_seed(0)
    model = VolumeClassifier(network=NET)
    assert model.head.in_channels == 512 and model.head.num_classes == 2
    x = [torch.randn(1, 16, 16, 16) for _ in range(3)]
    assert model(x, mode='tensor').shape == (3, 2)
    losses = model(x, _samples([0, 1, 1]), mode='loss')
    assert set(losses) == {'loss_cls'} and losses['loss_cls'].requires_grad
    model.eval()
    out = model(x, _samples([0, 1, 1]), mode='predict')
    for sample in out:
        assert sample.pred_score.shape == (2, )
        torch.testing.assert_close(sample.pred_score.sum(), torch.tensor(1.0))
        assert int(sample.pred_label) == int(sample.pred_score.argmax())
        assert int(sample.gt_label) in (0, 1)


def test_a_training_step_lowers_the_loss_on_its_batch():
    torch.manual_seed(0)
    model = VolumeClassifier(network=dict(NET, arch='resnet18'))
    optim = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.randn(4, 1, 16, 16, 16)
    x[2:] += 2.0  # a separable batch
    samples = _samples([0, 0, 1, 1])
    first = None
    for _ in range(5):
        loss = model(x, samples, mode='loss')['loss_cls']
        optim.zero_grad()
        loss.backward()
        optim.step()
        first = loss.item() if first is None else first
    assert model(x, samples, mode='loss')['loss_cls'].item() < first


def test_errors_name_the_problem():
    model = VolumeClassifier(network=NET)
    x = torch.randn(2, 1, 16, 16, 16)
    with pytest.raises(KeyError, match='data sample 1 has no gt_label'):
        model(x, [BaseDataElement(gt_label=torch.tensor([0])), BaseDataElement()], mode='loss')
    with pytest.raises(ValueError, match=r'gt_label outside 0..1: \[0, 2\]'):
        model(x, _samples([0, 2]), mode='loss')
    with pytest.raises(ValueError, match='loss mode needs one data sample per input'):
        model(x, _samples([0]), mode='loss')
    with pytest.raises(ValueError, match=r'inputs of one batch must share a shape'):
        model([torch.randn(1, 16, 16, 16), torch.randn(1, 8, 16, 16)])
    with pytest.raises(ValueError, match="mode must be 'tensor', 'loss' or 'predict'"):
        model(x, mode='train')
