"""UNet2D and its whole-network conversion to ACS / 2.5D / 3D, with 2D weight transfer."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from acsdet.models.layers import ACSConv, Conv2_5d, InflatedConv3d
from acsdet.models.seg_networks import ConvertedUNet3D, UNet2D
from acsdet.models.segmentors import VolumeSegmentor
from acsdet.testing import with_2d_weights

UNET = dict(type='UNet2D', in_channels=1, num_classes=3, widths=(4, 8, 12))


def _randomise_bn(model):
    """Non-trivial BN statistics / affine so that eval-mode equivalence means something."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.fixture
def unet2d_ckpt(tmp_path):
    torch.manual_seed(0)
    net = UNet2D(**{k: v for k, v in UNET.items() if k != 'type'})
    _randomise_bn(net)
    path = tmp_path / 'unet2d.pth'
    torch.save(net.state_dict(), path)
    return net.eval(), str(path)


def test_unet2d_shapes_and_size_check():
    net = UNet2D(in_channels=2, num_classes=5, widths=(4, 8, 16))
    assert net(torch.randn(2, 2, 16, 12)).shape == (2, 5, 16, 12)
    with pytest.raises(ValueError, match=r'divisible by 4, got shape \(1, 2, 16, 10\)'):
        net(torch.randn(1, 2, 16, 10))
    with pytest.raises(ValueError, match='needs at least 2 stages'):
        UNet2D(widths=(8, ))


@pytest.mark.parametrize('conv_type,cls,kernel', [('acs', ACSConv, (3, 3)),
                                                  ('2.5d', Conv2_5d, (3, 3)),
                                                  ('3d', InflatedConv3d, (3, 3, 3))])
def test_conversion_layers_shapes_and_grad(conv_type, cls, kernel):
    model = ConvertedUNet3D(UNET, conv_type=conv_type)
    convs = [m for m in model.modules() if isinstance(m, cls)]
    assert len(convs) == 2 * 3 + 2 * 2 + 1  # 2 per encoder / decoder stage + classifier
    assert tuple(model.unet.encoder[0][0].weight.shape[2:]) == kernel
    assert not any(type(m) in (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.MaxPool2d)
               for m in model.modules())
    x = torch.randn(2, 1, 8, 12, 8)
    out = model(x)
    assert out.shape == (2, 3, 8, 12, 8)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_parameter_counts():
    n2d = sum(p.numel() for p in UNet2D(**{k: v for k, v in UNET.items() if k != 'type'})
              .parameters())
    count = {ct: sum(p.numel() for p in ConvertedUNet3D(UNET, ct).parameters())
             for ct in ('acs', '2.5d', '3d')}
    assert count['acs'] == count['2.5d'] == n2d  # ACS / 2.5D reuse the 2D weights
    assert count['3d'] > 2.5 * n2d  # 3x3x3 kernels


def test_2d_weights_transfer_2_5d_equals_2d_per_slice(unet2d_ckpt):
    net2d, path = unet2d_ckpt
    model = with_2d_weights(ConvertedUNet3D, path, UNET, conv_type='2.5d').eval()
    img = torch.randn(1, 1, 8, 12)
    vol = img[:, :, None].expand(1, 1, 4, 8, 12).contiguous()  # constant along depth
    with torch.no_grad():
        ref, out = net2d(img), model(vol)
    for d in range(4):  # 1x3x3 kernels, depth pools of equal slices: every slice is the 2D net
        torch.testing.assert_close(out[:, :, d], ref, rtol=1e-5, atol=1e-5)


def test_2d_weights_transfer_acs_and_3d(unet2d_ckpt):
    net2d, path = unet2d_ckpt
    w2d = net2d.encoder[1][3].weight
    acs = with_2d_weights(ConvertedUNet3D, path, UNET, conv_type='acs')
    assert torch.equal(acs.unet.encoder[1][3].weight, w2d)
    assert torch.equal(acs.unet.encoder[1][4].running_var, net2d.encoder[1][4].running_var)
    inflated = with_2d_weights(ConvertedUNet3D, path, UNET, conv_type='3d')
    w3d = inflated.unet.encoder[1][3].weight
    assert w3d.shape == w2d.shape[:2] + (3, 3, 3)
    torch.testing.assert_close(w3d.sum(2), w2d)  # I3D: repeated over depth, divided by 3
    random3d = with_2d_weights(ConvertedUNet3D, path, UNET, conv_type='3d', i3d_inflate=False)
    assert not torch.allclose(random3d.unet.encoder[1][3].weight.sum(2), w2d)


def test_2d_checkpoint_of_a_segmentor_and_bad_checkpoint(tmp_path, unet2d_ckpt):
    net2d, _ = unet2d_ckpt
    # an mmengine checkpoint of a VolumeSegmentor trained with the 2D UNet ('backbone.' keys)
    path = tmp_path / 'seg2d.pth'
    torch.save(dict(meta=dict(epoch=1),
                    state_dict={f'backbone.{k}': v for k, v in net2d.state_dict().items()}),
               path)
    seg = VolumeSegmentor(network=dict(type='ConvertedUNet3D', unet=UNET, conv_type='acs',
                                       init_cfg=dict(type='Pretrained',
                                                     checkpoint=str(path))))
    seg.init_weights()  # as the Runner does: the transferred weights must survive it
    assert torch.equal(seg.network.unet.classifier.weight, net2d.classifier.weight)
    assert torch.equal(seg.network.unet.decoder[1][3].weight, net2d.decoder[1][3].weight)

    bad = tmp_path / 'other.pth'
    torch.save(UNet2D(widths=(4, 8)).state_dict(), bad)
    with pytest.raises(KeyError, match=r'other.pth: not a 2D checkpoint of ConvertedUNet3D: '
                       r"missing keys \['unet.encoder.2.0.weight', .*other shapes "
                       r"\['unet.decoder.0.0.weight: \(4, 12, 3, 3\) -> \(8, 20, 3, 3\)'"):
        with_2d_weights(ConvertedUNet3D, str(bad), UNET, conv_type='acs')


def test_bad_conv_type_and_segmentor_build():
    with pytest.raises(ValueError, match=r"conv_type must be one of \['acs', '2.5d', '3d', "
                       r"'mean_acs', 'soft_acs'\], got '4d'"):
        ConvertedUNet3D(UNET, conv_type='4d')
    seg = VolumeSegmentor(network=dict(type='ConvertedUNet3D', unet=UNET, conv_type='acs'))
    losses = seg(torch.randn(1, 1, 8, 8, 8),
                 [BaseDataElement(gt_sem_seg=torch.randint(0, 3, (8, 8, 8)))], mode='loss')
    assert set(losses) == {'loss_dice'} and losses['loss_dice'].requires_grad
