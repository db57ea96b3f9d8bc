"""PocUNet2D: the ACS authors' proof-of-concept U-Net, its sizes, conversion and init options."""
import math

import pytest
import torch
from mmengine.config import Config

from acsdet.models.layers import ACSConv, Conv2_5d, InflatedConv3d
from acsdet.models.seg_networks import ConvertedUNet3D, PocUNet2D
from acsdet.registry import MODELS


def _n(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_and_fp32_sizes_are_the_papers():
    # the authors' unet.py: 389,187 (3 classes) / 389,286 (6) in 2D, 1,164,582 in 3D
    assert _n(PocUNet2D(num_classes=3)) == 389187
    assert _n(PocUNet2D(num_classes=6)) == 389286
    sizes = {}
    for conv in ('acs', '2.5d', '3d'):
        net = ConvertedUNet3D(unet=dict(type='PocUNet2D', num_classes=6), conv_type=conv,
                              i3d_inflate=False)
        sizes[conv] = round(_n(net) * 4 / 1e6, 2)
    assert _n(ConvertedUNet3D(unet=dict(type='PocUNet2D'), conv_type='3d')) == 1164582
    # Table IV's "1.6 Mb" / "4.7 Mb" in float32 MB
    assert sizes == {'acs': 1.56, '2.5d': 1.56, '3d': 4.66}


def test_layout_shapes_and_features():
    net = PocUNet2D(num_classes=6, widths=(4, 8), decoder_widths=(6, 5)).eval()
    x = torch.randn(2, 1, 16, 12)
    assert net(x).shape == (2, 6, 16, 12)
    f = net.features(x)
    assert f.shape == (2, 5, 8, 6)  # the decoder block at half resolution
    # logits = classifier(upsample(features)): the last upsampling before the 1x1 conv
    torch.testing.assert_close(net(x), net.classifier(net.up(f)))
    # the authors' notebook feature path: nearest inner upsampling differs from bilinear
    assert not torch.allclose(net.features(x, 'nearest'), f)
    with pytest.raises(ValueError, match=r'divisible by 4, got shape \(1, 1, 16, 10\)'):
        net(torch.randn(1, 1, 16, 10))
    with pytest.raises(ValueError, match='two positive channel counts each'):
        PocUNet2D(widths=(4, 8, 16))


@pytest.mark.parametrize('conv,cls', [('acs', ACSConv), ('2.5d', Conv2_5d),
                                      ('3d', InflatedConv3d)])
def test_converts_as_a_whole(conv, cls):
    net = ConvertedUNet3D(unet=dict(type='PocUNet2D', widths=(4, 8), decoder_widths=(6, 5)),
                          conv_type=conv).eval()
    convs = [m for m in net.modules() if isinstance(m, cls)]
    assert len(convs) == 7  # 6 3x3 convs + the 1x1 classifier
    assert net.unet.up.mode == 'trilinear'
    x = torch.randn(1, 1, 8, 12, 16)
    assert net(x).shape == (1, 6, 8, 12, 16)
    assert net.unet.features(x).shape == (1, 5, 4, 6, 8)


def test_3d_r_config_reinitialises_kaiming_uniform_and_acs_r_keeps_torch_default(repo_root):
    """authors_3d_r: fresh kaiming-uniform 3x3x3 kernels (bound sqrt(6 / fan_in)), not the
    I3D inflation of the random 2D net; ACS r.: PyTorch's default (bound 1 / sqrt(fan_in))."""
    from acsdet.apis import register_all_modules
    register_all_modules()
    bounds = {}
    for name in ('authors_3d_r_poc3d', 'authors_acs_r_poc3d'):
        cfg = Config.fromfile(f'{repo_root}/configs/poc/{name}.py')
        cfg.model.network.unet.update(widths=(8, 16), decoder_widths=(8, 4))
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        w = model.network.unet.encoder2[3].weight  # 16 -> 16 conv
        fan_in = w[0].numel()
        bounds[name] = (w.abs().max().item(), fan_in)
        if name == 'authors_3d_r_poc3d':
            assert w.shape == (16, 16, 3, 3, 3)
            # not an inflation: the depth slices of an I3D kernel are equal
            assert not torch.allclose(w[..., 0, :, :], w[..., 1, :, :])
            assert model.network.unet.encoder2[3].bias.abs().max() == 0
    top, fan_in = bounds['authors_3d_r_poc3d']
    assert math.sqrt(6 / fan_in) * 0.9 < top <= math.sqrt(6 / fan_in)
    top, fan_in = bounds['authors_acs_r_poc3d']
    assert 0.9 / math.sqrt(fan_in) < top <= 1 / math.sqrt(fan_in)


def test_p_row_loads_every_2d_tensor_but_the_classifier(tmp_path, repo_root):
    from acsdet.apis import register_all_modules
    register_all_modules()
    torch.manual_seed(1)
    net2d = PocUNet2D(num_classes=3, widths=(4, 8), decoder_widths=(6, 5))
    for m in net2d.modules():  # non-default BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    path = tmp_path / 'best.pth'
    torch.save({'state_dict': {f'network.{k}': v for k, v in net2d.state_dict().items()}},
               path)
    cfg = Config.fromfile(f'{repo_root}/configs/poc/authors_acs_p_poc3d.py')
    cfg.model.network.unet.update(widths=(4, 8), decoder_widths=(6, 5))
    cfg.model.network.init_cfg.checkpoint = str(path)
    model = MODELS.build(cfg.model)
    model.init_weights()
    got = model.network.unet.state_dict()
    for k, v in net2d.state_dict().items():
        if k.startswith('classifier.'):
            assert got[k].shape[0] == 6  # 6 classes, its own initialisation
        else:
            torch.testing.assert_close(got[k], v, msg=k)
