"""FCNResNet3D (the ACS paper's LIDC ResNet-18 FCN): conversion, sizes, 2D weight transfer."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from acsdet.models.backbones import ResNetBody
from acsdet.models.converters import load_2d_weights
from acsdet.models.layers import ACSConv, Conv2_5d, InflatedConv3d, MeanACSConv, SoftACSConv
from acsdet.models.seg_networks import FCNResNet3D
from acsdet.models.segmentors import VolumeSegmentor
from acsdet.testing import with_2d_weights


@pytest.mark.parametrize('conv_type,cls', [('acs', ACSConv), ('2.5d', Conv2_5d),
                                           ('3d', InflatedConv3d), ('mean_acs', MeanACSConv),
                                           ('soft_acs', SoftACSConv)])
def test_output_size_equals_input_size(conv_type, cls):
    model = FCNResNet3D(num_classes=3, conv_type=conv_type).eval()
    # 1 stem + 16 block convs + 3 projections + 2 fusions + 2 head convs
    assert sum(isinstance(m, cls) for m in model.modules()) == 24
    assert not any(type(m) in (torch.nn.Conv2d, torch.nn.BatchNorm2d) for m in model.modules())
    with torch.no_grad():
        assert model(torch.randn(1, 1, 8, 4, 12)).shape == (1, 3, 8, 4, 12)


def test_stride_1_stem_no_maxpool_and_gradients():
    model = FCNResNet3D(conv_type='2.5d')
    assert model.backbone.conv1.stride == (1, 1, 1)
    assert isinstance(model.backbone.maxpool, torch.nn.Identity)
    # authors' layout: layer2 and layer4 downsample, layer1 / layer3 keep the size
    assert [getattr(model.backbone, f'layer{i}')[0].stride for i in range(1, 5)] == [1, 2, 1, 2]
    out = model(torch.randn(2, 1, 4, 8, 8))
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_parameter_counts_match_the_paper_sizes():
    count = {ct: sum(p.numel() for p in FCNResNet3D(conv_type=ct).parameters())
             for ct in ('2d', 'acs', '2.5d', '3d')}
    # paper section IV-B: "ACS model 49.8 Mb, 2.5D 49.8 Mb, 3D 142.5 Mb"
    assert count['acs'] == count['2.5d'] == count['2d'] == 12_383_170  # 49.5 MB fp32
    assert count['3d'] == 35_552_578  # 142.2 MB fp32: 3x3 kernels x3, the 7x7 stem x7
    assert round(count['3d'] / count['acs'], 3) == 2.871


def test_resnet_body_is_torchvision_resnet_and_stem_sum_rule(resnet18_file):
    tv, path = resnet18_file
    rgb = ResNetBody(18, in_channels=3)
    grey = ResNetBody(18, in_channels=1)
    assert load_2d_weights(rgb, path, {'': ''}, require='parts')['parts'] == ['']
    load_2d_weights(grey, path, {'': ''}, require='parts')
    rgb.eval(), grey.eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        ref = tv.layer4(tv.layer3(tv.layer2(tv.layer1(tv.maxpool(tv.relu(tv.bn1(tv.conv1(
            x.expand(2, 3, 32, 32)))))))))
        torch.testing.assert_close(rgb(x.expand(2, 3, 32, 32))[-1], ref)
        # the 1-channel stem is the RGB kernel summed: a grey image as 3 equal channels
        torch.testing.assert_close(grey(x)[-1], ref, rtol=1e-4, atol=1e-5)


def test_2d_weights_land_acs_shared_3d_inflated(resnet18_file):
    tv, path = resnet18_file
    acs = with_2d_weights(FCNResNet3D, path, conv_type='acs')
    w2d = tv.layer3[1].conv2.weight
    assert torch.equal(acs.backbone.layer3[1].conv2.weight, w2d)
    assert torch.equal(acs.backbone.layer2[0].bn1.running_var, tv.layer2[0].bn1.running_var)
    torch.testing.assert_close(acs.backbone.conv1.weight, tv.conv1.weight.sum(1, keepdim=True))
    inflated = with_2d_weights(FCNResNet3D, path, conv_type='3d')
    w3d = inflated.backbone.layer3[1].conv2.weight
    assert w3d.shape == (256, 256, 3, 3, 3)
    torch.testing.assert_close(w3d.sum(2), w2d)  # I3D: repeated over depth, divided by 3
    stem = inflated.backbone.conv1.weight
    assert stem.shape == (64, 1, 7, 7, 7)
    torch.testing.assert_close(stem.sum(2), tv.conv1.weight.sum(1, keepdim=True))


def test_whole_network_2d_checkpoint(tmp_path, randomise_bn):
    torch.manual_seed(4)
    net2d = FCNResNet3D(conv_type='2d')
    randomise_bn(net2d)
    path = tmp_path / 'fcn2d.pth'
    torch.save(net2d.state_dict(), path)
    # the mmengine checkpoint of a VolumeSegmentor trained with the 2D FCN ('backbone.' keys)
    seg_path = tmp_path / 'seg2d.pth'
    torch.save(dict(meta=dict(epoch=3), state_dict={f'backbone.{k}': v for k, v in
                                                    net2d.state_dict().items()}), seg_path)
    for file in (path, seg_path):
        acs = with_2d_weights(FCNResNet3D, str(file), conv_type='acs')
        for name in ('backbone.layer2.1.conv2.weight', 'fuse1.weight', 'fuse2.weight',
                     'head.0.weight', 'head.1.running_var', 'head.3.bias'):
            assert torch.equal(acs.state_dict()[name], net2d.state_dict()[name]), name


def test_2_5d_equals_2d_per_slice(resnet18_file, randomise_bn):
    _, path = resnet18_file
    models = {}
    for ct in ('2d', '2.5d'):
        torch.manual_seed(3)  # same random decoder in both
        models[ct] = with_2d_weights(FCNResNet3D, path, conv_type=ct)
        randomise_bn(models[ct].head, seed=2)
        models[ct].eval()
    img = torch.randn(1, 1, 16, 12)
    vol = img[:, :, None].expand(1, 1, 4, 16, 12).contiguous()  # constant along depth
    with torch.no_grad():
        ref, out = models['2d'](img), models['2.5d'](vol)
    assert out.shape == (1, 2, 4, 16, 12)
    for d in range(4):  # 1x7x7 / 1x3x3 kernels, depth strides on equal slices
        torch.testing.assert_close(out[:, :, d], ref, rtol=1e-4, atol=1e-4)


def test_weights_survive_segmentor_init_weights(resnet18_file):
    tv, path = resnet18_file
    seg = VolumeSegmentor(network=dict(type='FCNResNet3D', conv_type='acs',
                                       init_cfg=dict(type='Pretrained', checkpoint=path)))
    seg.init_weights()  # as the Runner does
    assert torch.equal(seg.network.backbone.layer4[0].conv1.weight, tv.layer4[0].conv1.weight)
    losses = seg(torch.randn(2, 1, 4, 4, 4),
                 [BaseDataElement(gt_sem_seg=torch.randint(0, 2, (4, 4, 4))) for _ in range(2)],
                 mode='loss')
    assert set(losses) == {'loss_dice'} and losses['loss_dice'].requires_grad


def test_errors(tmp_path, resnet18_file):
    tv, _ = resnet18_file
    with pytest.raises(ValueError, match=r"FCNResNet3D: conv_type must be one of \['2d', "
                       r"'acs', '2.5d', '3d', 'mean_acs', 'soft_acs'\], got '4d'"):
        FCNResNet3D(conv_type='4d')
    with pytest.raises(ValueError, match=r'FCNResNet3D \(acs\): input must be \(B, C, D, H, W\) '
                       r'with every spatial size divisible by 4, got shape \(1, 1, 8, 6, 8\)'):
        FCNResNet3D(conv_type='acs')(torch.randn(1, 1, 8, 6, 8))
    partial = {k: v for k, v in tv.state_dict().items() if not k.startswith('layer4.')}
    bad = tmp_path / 'partial.pth'
    torch.save(partial, bad)
    with pytest.raises(KeyError, match=r"partial.pth: not a 2D checkpoint of FCNResNet3D "
                       r"\(parts \['backbone.', 'fuse', 'head.'\]\): missing keys "
                       r"\['backbone.layer4"):
        with_2d_weights(FCNResNet3D, str(bad), conv_type='acs')
    torch.save({'meta': {}}, bad)
    with pytest.raises(KeyError, match=r'partial.pth: not a 2D checkpoint of FCNResNet3D .*'
                       r'missing keys \[\]'):
        with_2d_weights(FCNResNet3D, str(bad), conv_type='acs')
