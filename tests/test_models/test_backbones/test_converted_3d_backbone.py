"""Converted3DBackbone: an mmdet ResNet made ACS / 2.5D / 3D with depth kept and its 2D weights
loaded (the Mask R-CNN on top of it: tests/test_models/test_detectors)."""
import pytest
import torch
import torchvision

from acsdet.apis import register_all_modules
from acsdet.models.layers import inflate_2d_weight
from acsdet.registry import MODELS


@pytest.fixture(scope='module', autouse=True)
def _register():
    register_all_modules(init_default_scope=True)


def _resnet(depth=18, **kw):
    return dict(type='mmdet.ResNet', depth=depth, in_channels=1, out_indices=(0, 1, 2, 3),
                frozen_stages=-1, norm_eval=False, **kw)


@pytest.mark.parametrize('conv_type', ['acs', '2.5d', '3d'])
def test_depth_kept_shapes_and_parameter_counts(conv_type):
    net = MODELS.build(dict(type='Converted3DBackbone', conv_type=conv_type, num_slices=3,
                            backbone=_resnet()))
    outs = net(torch.randn(1, 1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 3, 16, 16), (1, 128, 3, 8, 8),
                                              (1, 256, 3, 4, 4), (1, 512, 3, 2, 2)]
    n = sum(p.numel() for p in net.parameters())
    # ResNet-18 with a 1-channel stem: 11,170,240 weights in 2D (ACS / 2.5D store 2D kernels)
    assert n == {'acs': 11_170_240, '2.5d': 11_170_240, '3d': 33_160_000}[conv_type]


def _save_torchvision_resnet18(tmp_path):
    torch.manual_seed(2)
    tv = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for m in tv.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / 'resnet18.pth'
    torch.save(tv.state_dict(), path)
    return tv.state_dict(), str(path)


def test_pretrained_2_5d_equals_the_2d_resnet_on_a_grey_slice(tmp_path):
    state, path = _save_torchvision_resnet18(tmp_path)
    net = MODELS.build(dict(type='Converted3DBackbone', conv_type='2.5d', num_slices=1,
                            backbone=_resnet(init_cfg=dict(type='Pretrained',
                                                           checkpoint=path))))
    net.init_weights()
    ref = MODELS.build(dict(_resnet(), in_channels=3))
    ref.load_state_dict(state, strict=False)
    net.eval()
    ref.eval()
    grey = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        ours = net(grey.unsqueeze(2))
        theirs = ref(grey.expand(-1, 3, -1, -1))
    for a, b in zip(ours, theirs):
        assert torch.allclose(a.squeeze(2), b, atol=1e-4, rtol=1e-4)


def test_pretrained_3d_is_inflated(tmp_path):
    state, path = _save_torchvision_resnet18(tmp_path)
    net = MODELS.build(dict(type='Converted3DBackbone', conv_type='3d', num_slices=3,
                            init_cfg=dict(type='Pretrained', checkpoint=path),
                            backbone=_resnet()))
    net.init_weights()
    assert torch.allclose(net.backbone.conv1.weight,
                          inflate_2d_weight(state['conv1.weight'].sum(1, keepdim=True), 7))
    assert torch.equal(net.backbone.layer4[1].conv2.weight,
                       inflate_2d_weight(state['layer4.1.conv2.weight'], 3))
    assert torch.equal(net.backbone.layer2[0].downsample[1].running_var,
                       state['layer2.0.downsample.1.running_var'])


def test_clear_errors():
    with pytest.raises(ValueError, match=r"conv_type must be one of .*got 'acs2'"):
        MODELS.build(dict(type='Converted3DBackbone', conv_type='acs2', backbone=_resnet()))
    net = MODELS.build(dict(type='Converted3DBackbone', num_slices=5, backbone=_resnet()))
    with pytest.raises(ValueError, match='built for num_slices=5 but the input has D=3'):
        net(torch.randn(1, 1, 3, 32, 32))
