"""The classification feature extractors: the paper's ResNet-18 / VGG-16 / DenseNet-121
layouts, any torchvision classifier by config, parameter counts per conv type, torchvision
weights, and 2.5D = 2D on depth-constant volumes."""
import pytest
import torch
from torchvision.models import densenet121, vgg16_bn

from acsdet.models.classifiers import VolumeClassifier
from acsdet.models.cls_networks import (ClsDenseNet3D, ClsResNet3D, ClsVGG3D,
                                        TorchvisionClsNetwork)

CONV_TYPES = ('acs', '2.5d', 'mean_acs', 'soft_acs', '3d')


def _params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('cls,flat,three_d,out', [
    (ClsResNet3D, 11_170_240, 33_160_000, 512),
    (ClsVGG3D, 14_721_984, 44_140_608, 512),
    (ClsDenseNet3D, 6_945_536, 11_240_576, 1024),
])
def test_parameter_counts_per_conv_type(cls, flat, three_d, out):
    """ACS = 2.5D = Mean-ACS = the 2D network (2D kernels reused); Soft-ACS adds its view
    logits only; 3D stores K x the spatial kernels."""
    counts = {ct: _params(cls(conv_type=ct)) for ct in ('2d', ) + CONV_TYPES}
    assert counts['2d'] == counts['acs'] == counts['2.5d'] == counts['mean_acs'] == flat
    assert flat < counts['soft_acs'] < flat * 1.01
    assert counts['3d'] == three_d
    assert cls(conv_type='acs').out_channels == out


def test_resnet_layout_is_the_authors():
    """Stride-1 7x7 stem, no max-pool, layer2 / layer4 downsample: 48^3 -> 12^3."""
    net = ClsResNet3D(conv_type='acs').eval()
    assert net.features.conv1.stride == (1, 1, 1) and isinstance(net.features.maxpool,
                                                                 torch.nn.Identity)
    with torch.no_grad():
        assert net(torch.randn(1, 1, 48, 48, 48)).shape == (1, 512, 12, 12, 12)
    with pytest.raises(ValueError, match=r'ClsResNet3D \(acs\): input must be \(B, C, D, H, '
                       r'W\) with every spatial size divisible by 4, got shape '
                       r'\(1, 1, 30, 32, 32\)'):
        net(torch.randn(1, 1, 30, 32, 32))


def test_vgg_and_densenet_layouts_are_the_authors():
    vgg = ClsVGG3D(conv_type='2d')
    pools = [i for i, m in enumerate(vgg.features) if isinstance(m, torch.nn.MaxPool2d)]
    assert pools == [13, 33]
    assert list(vgg.state_dict()) == ['features.' + k for k in vgg16_bn().features.state_dict()]
    with torch.no_grad():
        assert vgg.eval()(torch.randn(1, 1, 24, 24)).shape == (1, 512, 6, 6)
    dense = ClsDenseNet3D(conv_type='2d').eval()
    assert dense.features.conv0.stride == (1, 1)
    assert isinstance(dense.features.pool0, torch.nn.Identity)
    assert isinstance(dense.features.norm5, torch.nn.Identity)
    with torch.no_grad():
        assert dense(torch.randn(1, 1, 32, 32)).shape == (1, 1024, 4, 4)


@pytest.mark.parametrize('arch,out', [('resnet50', 2048), ('densenet121', 1024),
                                      ('mobilenet_v2', 1280), ('regnet_x_400mf', 400),
                                      ('efficientnet_b0', 1280)])
def test_any_torchvision_classifier_converts(arch, out):
    net = TorchvisionClsNetwork(arch, conv_type='acs').eval()
    assert net.out_channels == out
    with torch.no_grad():
        y = net(torch.randn(1, 1, 32, 32, 32))
    assert y.shape[:2] == (1, out) and y.dim() == 5 and torch.isfinite(y).all()


def test_unsupported_torchvision_models_fail_clearly():
    with pytest.raises(ValueError, match=r"'convnext_tiny' \(ConvNeXt\) cannot be converted: "
                       r'its LayerNorm2d permutes'):
        TorchvisionClsNetwork('convnext_tiny')
    with pytest.raises(ValueError, match=r"'googlenet' \(GoogLeNet\) cannot be converted"):
        TorchvisionClsNetwork('googlenet')
    with pytest.raises(ValueError, match=r"'resnet19' is not a torchvision classification "
                       r'model'):
        TorchvisionClsNetwork('resnet19')
    with pytest.raises(ValueError, match=r"'mnasnet0_5' \(MNASNet\) has neither a sequential "
                       r'`features` part nor the ResNet / RegNet layout'):
        TorchvisionClsNetwork('mnasnet0_5')


def test_torchvision_weights_load_by_their_own_names(resnet18_file, tmp_path):
    """ACS: every kernel is torchvision's (the RGB stem summed to 1 channel); 3D p.: I3D."""
    tv, path = resnet18_file
    acs = ClsResNet3D(conv_type='acs', init_cfg=dict(type='Pretrained', checkpoint=path))
    acs.init_weights()
    state = tv.state_dict()
    own = acs.state_dict()
    assert torch.equal(own['features.layer3.1.conv2.weight'], state['layer3.1.conv2.weight'])
    assert torch.allclose(own['features.conv1.weight'], state['conv1.weight'].sum(1, True))
    assert torch.equal(own['features.bn1.running_var'], state['bn1.running_var'])
    i3d = ClsResNet3D(conv_type='3d', init_cfg=dict(type='Pretrained', checkpoint=path))
    i3d.init_weights()
    w = i3d.state_dict()['features.layer1.0.conv1.weight']
    assert w.shape == (64, 64, 3, 3, 3)
    assert torch.allclose(w.sum(2), state['layer1.0.conv1.weight'], atol=1e-6)
    # VGG-16 and DenseNet-121: torchvision's key names, as in their files
    for cls, ref, key in ((ClsVGG3D, vgg16_bn(), 'features.7.weight'),
                          (ClsDenseNet3D, densenet121(),
                           'features.denseblock2.denselayer3.conv2.weight')):
        file = tmp_path / f'{cls.__name__}.pth'
        torch.save(ref.state_dict(), file)
        net = cls(conv_type='acs', init_cfg=dict(type='Pretrained', checkpoint=str(file)))
        net.init_weights()
        assert torch.equal(net.state_dict()[key], ref.state_dict()[key])


def test_2_5d_on_a_depth_constant_volume_equals_the_2d_classifier(randomise_bn):
    torch.manual_seed(0)
    flat = VolumeClassifier(network=dict(type='ClsResNet3D', conv_type='2d')).eval()
    randomise_bn(flat)
    thick = VolumeClassifier(network=dict(type='ClsResNet3D', conv_type='2.5d')).eval()
    thick.load_state_dict(flat.state_dict())  # 2.5D stores the 2D kernels as they are
    image = torch.randn(2, 1, 16, 16)
    volume = image[:, :, None].expand(-1, -1, 8, -1, -1).contiguous()
    with torch.no_grad():
        torch.testing.assert_close(thick(volume), flat(image), rtol=1e-4, atol=1e-5)
