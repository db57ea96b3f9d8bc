"""convert_2d_to_3d on torchvision and mmcv/mmdet models."""
import copy
import warnings

import pytest
import torch
import torch.nn as nn
import torchvision

from acsdet.models.converters import ConversionError, convert_2d_to_3d
from acsdet.models.layers import (ACSConv, ChannelLayerNorm3d, Conv2_5d, InflatedConv3d,
                                  MeanACSConv, SoftACSConv, inflate_2d_weight)

CONV_CLASSES = {'acs': ACSConv, '2.5d': Conv2_5d, '3d': InflatedConv3d,
                'mean_acs': MeanACSConv, 'soft_acs': SoftACSConv}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def _randomise_bn(model):
    """Give every BN non-trivial running statistics (fresh ones are 0 / 1)."""
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(7)
    return model


@pytest.mark.parametrize('conv', ['acs', '2.5d', '3d', 'mean_acs', 'soft_acs'])
def test_resnet18_whole_model(conv):
    model2d = _randomise_bn(torchvision.models.resnet18(num_classes=10)).eval()
    reference = copy.deepcopy(model2d)
    model = convert_2d_to_3d(model2d, conv)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 32, 32))
    assert out.shape == (1, 10)
    assert type(model.conv1) is CONV_CLASSES[conv]
    assert type(model.layer1[0].conv1) is CONV_CLASSES[conv]
    assert isinstance(model.bn1, nn.BatchNorm3d) and isinstance(model.maxpool, nn.MaxPool3d)
    assert model.maxpool.kernel_size == (3, 3, 3) and model.avgpool.output_size == (1, 1, 1)
    if conv in ('acs', '2.5d', 'mean_acs'):
        assert n_params(model) == n_params(reference)
    if conv == 'soft_acs':
        n_convs = sum(isinstance(m, nn.Conv2d) for m in reference.modules())
        n_out = sum(m.out_channels for m in reference.modules() if isinstance(m, nn.Conv2d))
        assert n_params(model) == n_params(reference) + 3 * n_out and n_convs == 20
    # BN statistics and affine parameters are the 2D ones
    for (name, buf), (name2d, buf2d) in zip(model.named_buffers(), reference.named_buffers()):
        assert name == name2d
        torch.testing.assert_close(buf, buf2d)
    if conv == '3d':
        torch.testing.assert_close(model.conv1.weight,
                                   inflate_2d_weight(reference.conv1.weight, 7))
    else:
        torch.testing.assert_close(model.conv1.weight, reference.conv1.weight)


def test_resnet18_2_5d_keep_depth_equals_2d_model_per_slice():
    """2.5D with keep_depth never mixes slices: each output slice is the 2D trunk's output."""
    torch.manual_seed(0)
    model2d = _randomise_bn(torchvision.models.resnet18()).eval().double()
    trunk2d = nn.Sequential(*list(model2d.children())[:-2])
    trunk = convert_2d_to_3d(copy.deepcopy(trunk2d), '2.5d', keep_depth=True)
    slices = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        out = trunk(slices.transpose(0, 1).unsqueeze(0))  # (1, 3, D=3, 32, 32)
        expected = trunk2d(slices)  # (D, 512, 1, 1)
    assert out.shape == (1, 512, 3, 1, 1)
    torch.testing.assert_close(out[0].transpose(0, 1), expected)


def test_keep_depth_strides_and_pools():
    model = convert_2d_to_3d(torchvision.models.resnet18(), 'acs', keep_depth=True)
    assert model.conv1.stride == (1, 2, 2) and model.conv1.padding == (3, 3, 3)
    assert model.layer2[0].downsample[0].stride == (1, 2, 2)
    assert model.maxpool.kernel_size == (1, 3, 3) and model.maxpool.stride == (1, 2, 2)
    assert model.maxpool.padding == (0, 1, 1)
    assert model.avgpool.output_size == (None, 1, 1)
    trunk = nn.Sequential(*list(model.children())[:-2]).eval()
    with torch.no_grad():
        assert trunk(torch.randn(1, 3, 5, 64, 64)).shape == (1, 512, 5, 2, 2)


@pytest.mark.parametrize('conv', ['acs', '3d'])
def test_densenet121_trunk_and_whole_model(conv):
    model2d = torchvision.models.densenet121(num_classes=5).eval()
    n2d = n_params(model2d)
    model = convert_2d_to_3d(model2d, conv)
    x = torch.randn(1, 3, 32, 32, 32)
    with torch.no_grad():
        feats = model.features(x)
        assert feats.shape == (1, 1024, 1, 1, 1)
        assert model(x).shape == (1, 5)  # DenseNet's functional forward, made 3D
    assert isinstance(model.features.transition1.pool, nn.AvgPool3d)
    if conv == 'acs':
        assert n_params(model) == n2d


def test_vgg11():
    model2d = torchvision.models.vgg11(num_classes=4).eval()
    n2d = n_params(model2d)
    model = convert_2d_to_3d(model2d, 'acs')
    assert model.avgpool.output_size == (1, 7, 7)  # the classifier keeps its input size
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32, 32)).shape == (1, 4)
    assert n_params(model) == n2d


def test_deeplabv3_mobilenet():
    seg = torchvision.models.segmentation
    model2d = seg.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None,
                                               num_classes=3, aux_loss=True).eval()
    n2d = n_params(model2d)
    model = convert_2d_to_3d(model2d, '2.5d')
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 32, 32))
    assert out['out'].shape == out['aux'].shape == (1, 3, 16, 32, 32)
    assert n_params(model) == n2d


def test_training_mode_and_frozen_parameters_preserved():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3))
    model[0].weight.requires_grad_(False)
    model[1].eval()
    conv_weight = model[2].weight
    model = convert_2d_to_3d(model, 'acs')
    assert not model[0].weight.requires_grad and model[2].weight.requires_grad
    assert model.training and model[0].training and not model[1].training
    assert model[2].weight is conv_weight  # the very same Parameter: optimisers keep working


def test_other_layers():
    model = nn.Sequential(
        nn.ConvTranspose2d(4, 4, 3, 2, 1, 1), nn.Upsample(scale_factor=2, mode='bilinear'),
        nn.Dropout2d(0.1), nn.ReflectionPad2d(1), nn.AdaptiveMaxPool2d(3), nn.GroupNorm(2, 4),
        nn.InstanceNorm2d(4, affine=True), nn.SyncBatchNorm(4))
    ln = torchvision.models.convnext.LayerNorm2d(4)
    model.append(ln)
    model = convert_2d_to_3d(model, '3d', keep_depth=True)
    assert isinstance(model[0], nn.ConvTranspose3d) and model[0].stride == (1, 2, 2)
    assert model[1].mode == 'trilinear' and model[1].scale_factor == (1.0, 2.0, 2.0)
    assert isinstance(model[2], nn.Dropout3d) and isinstance(model[3], nn.ReflectionPad3d)
    assert model[3].padding == (1, 1, 1, 1, 0, 0)
    assert isinstance(model[6], nn.InstanceNorm3d) and isinstance(model[8], ChannelLayerNorm3d)
    assert model[8].weight is ln.weight
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 4, 3, 4, 4)).shape == (2, 4, 3, 3, 3)
    with pytest.raises(ConversionError, match=r'cannot convert 0 \(ConvTranspose2d\) with '
                       r"conv='acs'"):
        convert_2d_to_3d(nn.Sequential(nn.ConvTranspose2d(2, 2, 2, 2)), 'acs')


def test_transposed_conv_3d_is_inflated():
    up = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)
    up3 = convert_2d_to_3d(nn.Sequential(copy.deepcopy(up)), '3d')[0]
    assert up3.stride == (2, 2, 2) and up3.output_padding == (1, 1, 1)
    torch.testing.assert_close(up3.weight, inflate_2d_weight(up.weight.detach(), 3))
    assert up3(torch.randn(1, 2, 3, 4, 4)).shape == (1, 3, 6, 8, 8)


def test_unconvertible_modules_are_named_and_model_unchanged():
    model = nn.Sequential(nn.Conv2d(3, 4, 3),
                          nn.Sequential(nn.Conv2d(4, 4, (1, 3)), nn.PixelShuffle(2)))
    with pytest.raises(ConversionError) as err:
        convert_2d_to_3d(model, 'acs')
    assert 'cannot convert 1.0 (Conv2d): kernel_size must be an int K or a square pair' \
        in str(err.value)
    assert 'cannot convert 1.1 (PixelShuffle): no 3D counterpart' in str(err.value)
    assert type(model[0]) is nn.Conv2d  # nothing was replaced
    with pytest.raises(ValueError, match=r"convert_2d_to_3d: conv_type must be one of "
                       r"\['acs', '2.5d', '3d', 'mean_acs', 'soft_acs'\], got 'acs3d'"):
        convert_2d_to_3d(model, 'acs3d')


def test_failure_found_only_during_conversion_is_raised_and_undone(monkeypatch):
    """A module the dry run passes but the real pass cannot convert: the error is raised
    (it used to be collected and dropped, leaving a half-converted model) and every module
    replaced or class-swapped before it is put back."""
    import importlib

    from torchvision.models.segmentation.deeplabv3 import ASPPPooling
    module = importlib.import_module('acsdet.models.converters.convert_2d_to_3d')
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), ASPPPooling(4, 4),
                          nn.Conv2d(4, 4, 3, padding=1))
    before = [type(m) for m in model.modules()]
    real_conv2d = module._Converter.conv2d

    def conv2d(self, m, path):
        if path == '3':
            raise ConversionError(f'cannot convert {path} (Conv2d): planted failure')
        return real_conv2d(self, m, path)

    monkeypatch.setattr(module._Converter, 'conv2d', conv2d)
    with pytest.raises(ConversionError, match=r'cannot convert 3 \(Conv2d\): planted failure '
                       r'\(found during conversion; the model was left unchanged\)'):
        convert_2d_to_3d(model, 'acs')
    assert [type(m) for m in model.modules()] == before
    assert type(model[2]) is ASPPPooling


def test_custom_conv_forward_warns():

    class PaddedConv(nn.Conv2d):

        def forward(self, x):
            return super().forward(nn.functional.pad(x, (1, 1, 1, 1)))

    with pytest.warns(UserWarning, match=r'custom forward of these Conv2d subclasses is '
                      r'replaced by ACSConv: 0 \(PaddedConv\)'):
        convert_2d_to_3d(nn.Sequential(PaddedConv(2, 2, 3)), 'acs')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        convert_2d_to_3d(nn.Sequential(nn.Conv2d(2, 2, 3)), 'acs')


def test_root_conv_and_1x1():
    conv = convert_2d_to_3d(nn.Conv2d(2, 3, 1, stride=2), 'acs')
    assert isinstance(conv, ACSConv) and conv.stride == (2, 2, 2)
    x = torch.randn(1, 2, 4, 4, 4)
    torch.testing.assert_close(conv(x), nn.functional.conv3d(x, conv.weight[..., None],
                                                             conv.bias, 2))


def test_mmdet_resnet_and_conv_module():
    pytest.importorskip('mmdet.models')
    from mmcv.cnn import ConvModule
    from mmdet.models.backbones import ResNet
    backbone = ResNet(18, out_indices=(0, 1, 2, 3), frozen_stages=1)
    backbone.eval()
    n2d = n_params(backbone)
    backbone = convert_2d_to_3d(backbone, 'acs', keep_depth=True)
    backbone.train()  # mmdet's train() re-freezes stage 1 and keeps BN3d in eval if norm_eval
    assert not backbone.conv1.weight.requires_grad
    assert n_params(backbone) == n2d
    outs = backbone(torch.randn(1, 3, 3, 64, 64))
    assert [o.shape[1:3] for o in outs] == [(64, 3), (128, 3), (256, 3), (512, 3)]
    assert outs[-1].shape[-2:] == (2, 2)
    block = convert_2d_to_3d(ConvModule(4, 8, 3, padding=1, norm_cfg=dict(type='BN')), 'acs')
    assert isinstance(block.conv, ACSConv) and isinstance(block.bn, nn.BatchNorm3d)
    assert block(torch.randn(1, 4, 3, 6, 6)).shape == (1, 8, 3, 6, 6)


def test_string_padding_and_errors_for_even_same():
    model = convert_2d_to_3d(nn.Sequential(nn.Conv2d(2, 3, 3, padding='same', dilation=2),
                                           nn.Conv2d(3, 3, 3, padding='valid')), 'acs')
    assert model[0].padding == (2, 2, 2) and model[1].padding == (0, 0, 0)
    assert model(torch.randn(1, 2, 7, 7, 7)).shape == (1, 3, 5, 5, 5)
    with pytest.raises(ConversionError, match=r"cannot convert 0 \(Conv2d\): padding='same' "
                       'with an even kernel'):
        convert_2d_to_3d(nn.Sequential(nn.Conv2d(2, 3, 2, padding='same')), 'acs')
