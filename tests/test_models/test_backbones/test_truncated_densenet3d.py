"""TruncatedDenseNet3D: shapes for every conv type, parameter counts, ImageNet weight loading,
freezing, gradient checkpointing and clear errors."""
import pytest
import torch
import torchvision

from acsdet.models.backbones import TruncatedDenseNet3D
from acsdet.models.converters import load_2d_weights, rename_legacy_densenet_keys
from acsdet.models.layers import inflate_2d_weight
from acsdet.registry import MODELS

CONV_TYPES = ['acs', '2.5d', '3d', 'mean_acs', 'soft_acs']


def _n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize('conv_type', CONV_TYPES)
def test_output_shapes_keep_depth(conv_type):
    torch.manual_seed(0)
    net = MODELS.build(dict(type='TruncatedDenseNet3D', conv_type=conv_type, num_slices=3))
    outs = net(torch.randn(1, 1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 3, 8, 8), (1, 512, 3, 4, 4),
                                              (1, 1024, 3, 2, 2)]
    assert net.out_channels == [256, 512, 1024]


def test_out_indices_select_levels():
    net = TruncatedDenseNet3D(conv_type='2.5d', num_slices=1, out_indices=(1, ))
    outs = net(torch.randn(1, 1, 1, 32, 32))
    assert len(outs) == 1 and outs[0].shape == (1, 512, 1, 4, 4)


def test_parameter_counts():
    """ACS and 2.5D store the same 2D kernels; 3D has K x the weights in each K x K conv."""
    nets = {t: TruncatedDenseNet3D(conv_type=t) for t in ('acs', '2.5d', '3d')}
    counts = {t: _n_params(net) for t, net in nets.items()}
    for name in ('conv0', 'denseblock2.denselayer5.conv2', 'denseblock2.denselayer5.conv1'):
        k = {'conv0': 7, 'denseblock2.denselayer5.conv2': 3}.get(name, 1)
        sizes = {t: net.get_submodule(name).weight.numel() for t, net in nets.items()}
        assert sizes['acs'] == sizes['2.5d'] and sizes['3d'] == k * sizes['acs']
    assert counts['acs'] == counts['2.5d'] == 4_261_120
    # 42 dense layers with a 3x3 conv 128 -> 32 and the 7x7 stem 1 -> 64:
    # 3D adds (3 - 1) x 42 x 128 x 32 x 9 + (7 - 1) x 64 x 49 weights.
    assert counts['3d'] - counts['2.5d'] == 2 * 42 * 128 * 32 * 9 + 6 * 64 * 49
    assert counts['3d'] == 7_376_512


def _torchvision_densenet(tmp_path, legacy_keys=False):
    torch.manual_seed(1)
    tv = torchvision.models.densenet121(weights=None).eval()
    with torch.no_grad():  # non-trivial BN statistics so the comparison means something
        for m in tv.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    state = tv.state_dict()
    if legacy_keys:  # the key pattern of torchvision's hub files
        state = {k.replace('.norm1.', '.norm.1.').replace('.conv2.', '.conv.2.'): v
                 for k, v in state.items()}
    path = tmp_path / 'densenet121.pth'
    torch.save(state, path)
    return tv, str(path)


def test_legacy_key_rename():
    keys = {'features.denseblock1.denselayer3.norm.1.running_var': 0,
            'features.denseblock1.denselayer3.conv.2.weight': 1, 'features.conv0.weight': 2}
    assert sorted(rename_legacy_densenet_keys(keys)) == [
        'features.conv0.weight', 'features.denseblock1.denselayer3.conv2.weight',
        'features.denseblock1.denselayer3.norm1.running_var']


@pytest.mark.parametrize('legacy_keys', [False, True])
def test_pretrained_2_5d_reproduces_torchvision_on_a_grey_slice(tmp_path, legacy_keys):
    """2.5D with D=1 is the 2D network; the RGB stem summed to 1 channel gives, on a grey slice,
    exactly torchvision's response to that slice replicated to RGB."""
    tv, path = _torchvision_densenet(tmp_path, legacy_keys)
    net = TruncatedDenseNet3D(conv_type='2.5d', num_slices=1,
                              init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    net.eval()
    grey = torch.randn(1, 1, 48, 48)
    with torch.no_grad():
        ours = net(grey.unsqueeze(2))
        f = tv.features
        x = f.pool0(f.relu0(f.norm0(f.conv0(grey.expand(-1, 3, -1, -1)))))
        ref = []
        for i in range(1, 4):
            if i > 1:
                x = getattr(f, f'transition{i - 1}')(x)
            x = getattr(f, f'denseblock{i}')(x)
            ref.append(x)
    for a, b in zip(ours, ref):
        assert torch.allclose(a.squeeze(2), b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('conv_type', ['acs', '3d'])
def test_pretrained_weights_land(tmp_path, conv_type):
    tv, path = _torchvision_densenet(tmp_path)
    net = TruncatedDenseNet3D(conv_type=conv_type, num_slices=3,
                              init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    tvs = tv.state_dict()
    w = tvs['features.denseblock3.denselayer24.conv2.weight']
    stem = tvs['features.conv0.weight'].sum(1, keepdim=True)
    ours_w = net.denseblock3.denselayer24.conv2.weight
    ours_stem = net.conv0.weight
    if conv_type == '3d':
        w, stem = inflate_2d_weight(w, 3), inflate_2d_weight(stem, 7)
    assert torch.equal(ours_w, w) and torch.allclose(ours_stem, stem)
    assert torch.equal(net.transition2.norm.running_var,
                       tvs['features.transition2.norm.running_var'])


def test_pretrained_reports_unused_and_missing_keys(tmp_path):
    _, path = _torchvision_densenet(tmp_path)
    net = TruncatedDenseNet3D(conv_type='acs', num_slices=3,
                              init_cfg=dict(type='Pretrained', checkpoint=path))
    report = load_2d_weights(net, path, key_map={'features.': '', '': ''},
                             expected_unused=(r'denseblock4', r'transition3', r'norm5',
                                              r'classifier'))
    assert (report['missing'], report['unexpected'], report['mismatched']) == ([], [], [])
    assert report['loaded'] == sorted(net.state_dict())  # every tensor, BN counters included
    # without the prefix rule every key is unexpected and every target key missing
    report = load_2d_weights(net, path)
    assert 'conv0.weight' in report['missing']
    assert 'features.conv0.weight' in report['unexpected']


def test_frozen_stages_and_norm_eval():
    net = TruncatedDenseNet3D(conv_type='2.5d', num_slices=1, frozen_stages=1, norm_eval=False)
    net.train()
    assert not any(p.requires_grad for p in net.conv0.parameters())
    assert not any(p.requires_grad for p in net.denseblock1.parameters())
    assert all(p.requires_grad for p in net.transition1.parameters())
    assert not net.denseblock1.denselayer1.norm1.training
    assert net.denseblock2.denselayer1.norm1.training
    net = TruncatedDenseNet3D(conv_type='2.5d', num_slices=1, norm_eval=True).train()
    assert not net.denseblock3.denselayer24.norm2.training


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = TruncatedDenseNet3D(conv_type='acs', num_slices=3, out_indices=(0, ))
    cp = TruncatedDenseNet3D(conv_type='acs', num_slices=3, out_indices=(0, ), with_cp=True)
    cp.load_state_dict(plain.state_dict())
    x = torch.randn(1, 1, 3, 16, 16)
    grads = []
    for net in (plain, cp):
        net.train()
        net(x)[0].square().mean().backward()
        grads.append(net.denseblock1.denselayer1.conv1.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


@pytest.mark.parametrize('norm_cfg', [dict(type='GN', num_groups=32),
                                      dict(type='SyncBN')])
def test_other_norms_build(norm_cfg):
    net = TruncatedDenseNet3D(conv_type='acs', num_slices=3, norm_cfg=norm_cfg,
                              out_indices=(0, ))
    assert type(net.norm0).__name__ in ('GroupNorm', 'SyncBatchNorm')
    if norm_cfg['type'] == 'GN':
        assert net(torch.randn(1, 1, 3, 16, 16))[0].shape == (1, 256, 3, 4, 4)


def test_clear_errors():
    with pytest.raises(ValueError, match=r"conv_type must be one of .*got 'acs3d'"):
        TruncatedDenseNet3D(conv_type='acs3d')
    net = TruncatedDenseNet3D(conv_type='2.5d', num_slices=7, out_indices=(0, ))
    with pytest.raises(ValueError, match=r'built for num_slices=7 but the input has D=3'):
        net(torch.randn(1, 1, 3, 16, 16))
    with pytest.raises(ValueError, match=r'expects input \(B, 1, D, H, W\), got \(1, 3, 16, 16\)'):
        net(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match=r'out_indices must be in \[0, 2\], got \(3,\)'):
        TruncatedDenseNet3D(out_indices=(3, ))
