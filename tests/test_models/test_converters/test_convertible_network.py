"""The shared base of the converted segmentation networks: 2D weights enter through
``init_cfg`` + ``init_weights()`` only (a build never reads the file), the Pretrained entry is
checked, and 3D-only tensors (Soft-ACS view logits) are not asked of a 2D checkpoint."""
import pytest
import torch

from acsdet.models.seg_networks import ConvertedUNet3D, DeepLabV3PlusResNet3D, FCNResNet3D, UNet2D
from acsdet.models.segmentors import VolumeSegmentor
from acsdet.testing import with_2d_weights

UNET = dict(type='UNet2D', in_channels=1, num_classes=3, widths=(4, 8))
NETWORKS = [
    dict(type='ConvertedUNet3D', unet=UNET, conv_type='acs'),
    dict(type='FCNResNet3D', conv_type='acs', channels=16),
    dict(type='DeepLabV3PlusResNet3D', conv_type='acs', depth=18, aspp_channels=8,
         low_level_channels=4, decoder_channels=8),
]


@pytest.mark.parametrize('network', NETWORKS, ids=lambda n: n['type'])
def test_build_never_reads_the_2d_file(network, tmp_path):
    missing = str(tmp_path / 'not_there.pth')
    seg = VolumeSegmentor(network=dict(network, init_cfg=dict(type='Pretrained',
                                                              checkpoint=missing)))
    seg.eval()  # a test / inference build: usable without the file
    assert seg(torch.randn(1, 1, 16, 16, 16)).shape[2:] == (16, 16, 16)
    with pytest.raises(FileNotFoundError, match='not_there.pth'):
        seg.init_weights()  # what training does first


@pytest.mark.parametrize('cls', [FCNResNet3D, DeepLabV3PlusResNet3D])
def test_pretrained_entry_is_checked(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: init_cfg Pretrained takes "
                       r"\['checkpoint', 'skip', 'type'\], got unknown keys \['prefix'\]"):
        cls(conv_type='acs', init_cfg=dict(type='Pretrained', checkpoint='x.pth',
                                           prefix='backbone.'))
    with pytest.raises(ValueError, match=rf'{cls.__name__}: init_cfg has 2 Pretrained'):
        cls(conv_type='acs', init_cfg=[dict(type='Pretrained', checkpoint='a.pth'),
                                       dict(type='Pretrained', checkpoint='b.pth')])
    # checkpoint=None: the "r." models, nothing to load
    model = cls(conv_type='acs', init_cfg=dict(type='Pretrained', checkpoint=None))
    assert model.pretrained_2d is None


def test_soft_acs_view_logits_are_not_asked_of_a_2d_checkpoint(tmp_path):
    torch.manual_seed(0)
    net2d = UNet2D(**{k: v for k, v in UNET.items() if k != 'type'})
    path = str(tmp_path / 'unet2d.pth')
    torch.save(net2d.state_dict(), path)
    model = with_2d_weights(ConvertedUNet3D, path, UNET, conv_type='soft_acs')
    extra = sorted(set(model.state_dict()) - {f'unet.{k}' for k in net2d.state_dict()})
    assert extra and all('logit' in k or 'weight' in k for k in extra)
    assert torch.equal(model.unet.encoder[1][0].weight, net2d.encoder[1][0].weight)


def test_random_3d_kernels_keep_their_bias_too(tmp_path):
    torch.manual_seed(0)
    net2d = UNet2D(**{k: v for k, v in UNET.items() if k != 'type'})
    with torch.no_grad():
        net2d.classifier.bias.fill_(0.5)
    path = str(tmp_path / 'unet2d.pth')
    torch.save(net2d.state_dict(), path)
    torch.manual_seed(1)
    fresh = ConvertedUNet3D(UNET, conv_type='3d', i3d_inflate=False)
    torch.manual_seed(1)
    model = with_2d_weights(ConvertedUNet3D, path, UNET, conv_type='3d', i3d_inflate=False)
    # kernels (and the bias of a kernel) keep the fresh 3D initialisation, BN comes from 2D
    assert torch.equal(model.unet.classifier.weight, fresh.unet.classifier.weight)
    assert torch.equal(model.unet.classifier.bias, fresh.unet.classifier.bias)
    assert torch.equal(model.unet.encoder[0][1].running_var, net2d.encoder[0][1].running_var)
