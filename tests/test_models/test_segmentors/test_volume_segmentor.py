import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement

from acsdet.evaluation.metrics import DiceMetric
from acsdet.models.segmentors import VolumeSegmentor
from acsdet.registry import MODELS


def _batch(n=2, size=(8, 16, 16), seed=0):
    """Noisy volumes with one bright box each; label 1 inside the box."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(n):
        label = torch.zeros(size, dtype=torch.long)
        d0, h0, w0 = (int(torch.randint(0, s // 2, (1, ), generator=g)) for s in size)
        label[d0:d0 + size[0] // 2, h0:h0 + size[1] // 2, w0:w0 + size[2] // 2] = 1
        inputs.append(label[None].float() + 0.5 * torch.randn((1, ) + size, generator=g))
        samples.append(BaseDataElement(gt_sem_seg=BaseDataElement(data=label),
                                       case_id=f'case{seed}_{i}'))
    return dict(inputs=inputs, data_samples=samples)


def _model(network_type='GSPUNet3D'):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='VolumeSegmentor',
        network=dict(type=network_type, num_classes=2, base_channels=8,
                      channel_multipliers=(1, 2, 4),
                      spatial_groups=[(1, 2, 2), (2, 2, 2), (1, 2, 2)]),
        loss=dict(type='SoftDiceLoss', ignore_background=True)))


def test_training_steps_decrease_the_dice_loss():
    model = _model()
    assert isinstance(model, VolumeSegmentor)
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=0.05))
    data = _batch()
    model.train()
    losses = [model.train_step(data, optim)['loss_dice'].item() for _ in range(12)]
    assert losses[-1] < 0.5 * losses[0], losses
    model.eval()
    outputs = model.val_step(data)
    assert [tuple(o.pred_sem_seg.data.shape) for o in outputs] == [(8, 16, 16)] * 2
    metric = DiceMetric(num_classes=2)
    metric.process(data, [o.to_dict() for o in outputs])
    dice = metric.compute_metrics(metric.results)
    assert dice['global/class_1'] > 0.5


def test_tensor_mode_and_errors():
    model = _model('TinyUNet3D').eval()
    data = _batch(n=1)
    logits = model(torch.stack(data['inputs']), mode='tensor')
    assert logits.shape == (1, 2, 8, 16, 16)
    preds = model(data['inputs'], mode='predict')
    assert torch.equal(preds[0].pred_sem_seg.data, logits[0].argmax(0))
    with pytest.raises(ValueError, match="mode must be 'tensor', 'loss' or 'predict', got 'x'"):
        model(data['inputs'], mode='x')
    with pytest.raises(ValueError, match='inputs of one batch must share a shape'):
        model([torch.zeros(1, 8, 16, 16), torch.zeros(1, 8, 16, 8)])
    bad = [BaseDataElement(gt_sem_seg=torch.zeros(2, 8, 16, 16))]
    with pytest.raises(ValueError, match=r'gt_sem_seg of data sample 0 must be \(D, H, W\) or '
                                         r'\(1, D, H, W\), got shape \(2, 8, 16, 16\)'):
        model(data['inputs'], bad, mode='loss')
