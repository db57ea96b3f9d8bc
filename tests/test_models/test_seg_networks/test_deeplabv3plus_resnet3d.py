"""DeepLabV3PlusResNet3D (the ACS paper's LiTS DeepLabv3+): geometry, conversion, sizes,
2D weight transfer.  Small widths / ResNet-18 keep the 3D forwards fast; the ResNet-101
sizes are checked in 2D and ACS (no forward)."""
import pytest
import torch
from torchvision.models import resnet18, resnet50

from acsdet.models.layers import ACSConv, Conv2_5d, InflatedConv3d, MeanACSConv, SoftACSConv
from acsdet.models.seg_networks import DeepLabV3PlusResNet3D
from acsdet.testing import with_2d_weights

SMALL = dict(depth=18, aspp_channels=16, low_level_channels=8, decoder_channels=16)


@pytest.mark.parametrize('output_stride,dilate', [(8, [False, True, True]),
                                                  (16, [False, False, True])])
def test_encoder_geometry_is_torchvision_dilated_resnet(output_stride, dilate):
    ours = DeepLabV3PlusResNet3D(depth=50, output_stride=output_stride, conv_type='2d').backbone
    ref = resnet50(weights=None, replace_stride_with_dilation=dilate)
    convs = [(n, m) for n, m in ours.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 53
    for name, conv in convs:
        other = ref.get_submodule(name)
        assert (conv.stride, conv.dilation, conv.padding) == \
            (other.stride, other.dilation, other.padding), name


@pytest.mark.parametrize('conv_type,cls', [('acs', ACSConv), ('2.5d', Conv2_5d),
                                           ('3d', InflatedConv3d), ('mean_acs', MeanACSConv),
                                           ('soft_acs', SoftACSConv)])
def test_output_size_equals_input_size(conv_type, cls):
    model = DeepLabV3PlusResNet3D(num_classes=3, conv_type=conv_type, **SMALL).eval()
    assert not any(type(m) in (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.MaxPool2d)
                   for m in model.modules())
    assert model.aspp.convs[1][0].dilation == (6, 6, 6)
    with torch.no_grad():
        assert model(torch.randn(1, 1, 16, 32, 16)).shape == (1, 3, 16, 32, 16)


def test_training_step_output_stride_8():
    model = DeepLabV3PlusResNet3D(num_classes=2, conv_type='acs', output_stride=8, **SMALL)
    out = model(torch.randn(2, 1, 8, 16, 16))  # batch 2: BN of the ASPP pooling branch
    assert out.shape == (2, 2, 8, 16, 16)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_resnet101_parameter_counts():
    n2d = sum(p.numel() for p in DeepLabV3PlusResNet3D(conv_type='2d').parameters())
    acs = DeepLabV3PlusResNet3D(conv_type='acs')
    assert sum(p.numel() for p in acs.parameters()) == n2d == 59_333_411  # 237.3 MB fp32
    encoder = sum(p.numel() for p in acs.backbone.parameters())
    # paper appendix: "the DeepLabv3+ decoder (ASPP) represents 27.5% parameters"
    assert round(1 - encoder / n2d, 3) == 0.284


def test_3d_parameter_factor():
    count = {ct: sum(p.numel() for p in DeepLabV3PlusResNet3D(conv_type=ct, **SMALL)
                     .parameters()) for ct in ('acs', '2.5d', '3d')}
    assert count['acs'] == count['2.5d'] == 11_415_683
    assert count['3d'] == 33_859_331  # x2.966: 3x3 kernels x3, the 7x7 stem x7


def test_2d_weights_land_and_2_5d_equals_2d_per_slice(resnet18_file, randomise_bn):
    tv, path = resnet18_file
    acs = with_2d_weights(DeepLabV3PlusResNet3D, path, conv_type='acs', **SMALL)
    assert torch.equal(acs.backbone.layer4[1].conv1.weight, tv.layer4[1].conv1.weight)
    torch.testing.assert_close(acs.backbone.conv1.weight, tv.conv1.weight.sum(1, keepdim=True))
    inflated = with_2d_weights(DeepLabV3PlusResNet3D, path, conv_type='3d', **SMALL)
    torch.testing.assert_close(inflated.backbone.layer4[1].conv1.weight.sum(2),
                               tv.layer4[1].conv1.weight)

    models = {}
    for ct in ('2d', '2.5d'):
        torch.manual_seed(3)  # same random ASPP / decoder in both
        models[ct] = with_2d_weights(DeepLabV3PlusResNet3D, path, conv_type=ct, **SMALL)
        randomise_bn(models[ct].aspp, seed=2)
        models[ct].eval()
    img = torch.randn(1, 1, 32, 48)
    vol = img[:, :, None].expand(1, 1, 16, 32, 48).contiguous()  # constant along depth
    with torch.no_grad():
        ref, out = models['2d'](img), models['2.5d'](vol)
    for d in (0, 7, 15):  # trilinear = bilinear on equal slices; ASPP pooling: same mean
        torch.testing.assert_close(out[:, :, d], ref, rtol=1e-4, atol=1e-4)


def test_torchvision_deeplabv3_checkpoint_fills_encoder_and_aspp(tmp_path, randomise_bn):
    """A torchvision DeepLabV3 state dict (here on a ResNet-18 body, the layout of
    ``deeplabv3_resnet101``'s file: ``backbone.*``, ASPP in ``classifier.0.*``, the DeepLabHead
    convs and ``aux_classifier.*``): encoder and ASPP load, the v3+ decoder stays random."""
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3
    from torchvision.models.segmentation.fcn import FCNHead
    torch.manual_seed(5)
    body = IntermediateLayerGetter(resnet18(weights=None), {'layer3': 'aux', 'layer4': 'out'})
    tv = DeepLabV3(body, DeepLabHead(512, 21), FCNHead(256, 21))
    randomise_bn(tv)
    path = tmp_path / 'deeplabv3.pth'
    torch.save(tv.state_dict(), path)
    model = with_2d_weights(DeepLabV3PlusResNet3D, str(path), conv_type='acs', output_stride=8,
                            depth=18, aspp_channels=256, low_level_channels=8,
                            decoder_channels=16)
    aspp = tv.classifier[0]
    assert torch.equal(model.aspp.convs[2][0].weight, aspp.convs[2][0].weight)
    assert torch.equal(model.aspp.convs[4][2].running_var, aspp.convs[4][2].running_var)
    assert torch.equal(model.aspp.project[0].weight, aspp.project[0].weight)
    assert torch.equal(model.backbone.layer3[0].conv1.weight, tv.backbone.layer3[0].conv1.weight)
    torch.testing.assert_close(model.backbone.conv1.weight,
                               tv.backbone.conv1.weight.sum(1, keepdim=True))
    assert model.classifier.weight.shape == (3, 16, 1, 1)  # v3+ decoder: not in the file


def test_errors():
    with pytest.raises(ValueError, match='output_stride must be 8 or 16, got 32'):
        DeepLabV3PlusResNet3D(output_stride=32, **SMALL)
    with pytest.raises(ValueError, match=r"conv_type must be one of \['2d', 'acs', '2.5d', "
                       r"'3d', 'mean_acs', 'soft_acs'\], got 'acs3d'"):
        DeepLabV3PlusResNet3D(conv_type='acs3d', **SMALL)
    with pytest.raises(ValueError, match=r'DeepLabV3PlusResNet3D \(2d\): input must be \(B, C, '
                       r'H, W\) with every spatial size divisible by 16, got shape '
                       r'\(1, 1, 16, 16, 16\)'):
        DeepLabV3PlusResNet3D(conv_type='2d', **SMALL)(torch.randn(1, 1, 16, 16, 16))
