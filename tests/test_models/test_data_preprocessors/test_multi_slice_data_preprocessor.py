"""MultiSliceDetDataPreprocessor: pads H and W only, stacks (B, 1, D, H, W), sets metainfo."""
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from acsdet.registry import MODELS


def _sample(h, w, n=1):
    s = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    masks = np.zeros((n, h, w), np.uint8)
    masks[:, : h // 2, : w // 2] = 1
    s.gt_instances = InstanceData(bboxes=torch.tensor([[0., 0., w / 2, h / 2]] * n),
                                  labels=torch.zeros(n, dtype=torch.long),
                                  masks=BitmapMasks(masks, h, w))
    return s


def _build(**kw):
    return MODELS.build(dict(type='MultiSliceDetDataPreprocessor', **kw))


def test_pads_height_and_width_never_depth():
    pre = _build(pad_size_divisor=32)
    a, b = torch.rand(1, 5, 30, 40), torch.rand(1, 5, 50, 20)
    out = pre(dict(inputs=[a, b], data_samples=[_sample(30, 40), _sample(50, 20)]),
              training=True)
    x = out['inputs']
    assert x.shape == (2, 1, 5, 64, 64) and x.dtype == torch.float32
    assert torch.equal(x[0, :, :, :30, :40], a) and torch.equal(x[1, :, :, :50, :20], b)
    assert x[0, :, :, 30:].abs().sum() == 0 and x[1, :, :, :, 20:].abs().sum() == 0
    s0, s1 = out['data_samples']
    assert s0.batch_input_shape == (64, 64) == s1.batch_input_shape
    assert s0.pad_shape == (32, 64) and s1.pad_shape == (64, 32)
    # masks padded to the batch shape while training, content kept
    assert s1.gt_instances.masks.masks.shape == (1, 64, 64)
    assert s1.gt_instances.masks.masks[0, :25, :10].all()
    assert s1.gt_instances.masks.masks[0, 50:].sum() == 0


def test_masks_not_padded_at_test_time():
    out = _build()(dict(inputs=[torch.rand(1, 3, 30, 30)], data_samples=[_sample(30, 30)]),
                   training=False)
    assert out['data_samples'][0].gt_instances.masks.masks.shape == (1, 30, 30)


def test_mean_std_normalise_every_slice():
    pre = _build(mean=[10.], std=[2.], pad_size_divisor=1)
    x = torch.full((1, 3, 4, 4), 14.)
    assert torch.allclose(pre(dict(inputs=[x]))['inputs'], torch.full((1, 1, 3, 4, 4), 2.))


def test_batched_tensor_input_and_uint8():
    pre = _build(pad_size_divisor=8)
    out = pre(dict(inputs=torch.ones(2, 1, 7, 10, 12, dtype=torch.uint8)))
    assert out['inputs'].shape == (2, 1, 7, 16, 16) and out['inputs'].dtype == torch.float32


def test_bad_inputs_fail_clearly():
    pre = _build()
    with pytest.raises(ValueError, match=r'same \(C, D\), got \[\(1, 5\), \(1, 3\)\]'):
        pre(dict(inputs=[torch.rand(1, 5, 8, 8), torch.rand(1, 3, 8, 8)]))
    with pytest.raises(ValueError, match=r'sample 0 has shape \(1, 8, 8\), expected '
                                         r'\(C, D, H, W\)'):
        pre(dict(inputs=[torch.rand(1, 8, 8)]))
