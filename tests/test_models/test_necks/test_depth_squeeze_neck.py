"""DepthSqueezeNeck: depth squeeze modes, top-down decoder, output shapes, depth check."""
import pytest
import torch
import torch.nn.functional as F

from acsdet.models.necks import DepthSqueezeNeck
from acsdet.registry import MODELS


def _feats(d, chans=(8, 16, 32), size=16, b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, c, d, size // 2**i, size // 2**i, generator=g)
            for i, c in enumerate(chans)]


def test_registered_and_paper_output_shape():
    neck = MODELS.build(dict(type='DepthSqueezeNeck', in_channels=[8, 16, 32], num_slices=3,
                             out_channels=12))
    outs = neck(_feats(3))
    assert len(outs) == 1 and outs[0].shape == (2, 12, 16, 16)


@pytest.mark.parametrize('num_outs, sizes', [(2, [16, 8]), (3, [16, 8, 4]),
                                             (5, [16, 8, 4, 2, 1])])
def test_fpn_style_outputs(num_outs, sizes):
    neck = DepthSqueezeNeck([8, 16, 32], num_slices=5, out_channels=6, num_outs=num_outs,
                            smooth=True)
    outs = neck(_feats(5))
    assert [tuple(o.shape) for o in outs] == [(2, 6, s, s) for s in sizes]


@pytest.mark.parametrize('mode', ['mean', 'max', 'center'])
def test_parameter_free_squeeze(mode):
    neck = DepthSqueezeNeck([4], num_slices=5, out_channels=4, squeeze=mode)
    x = torch.randn(1, 4, 5, 6, 6)
    ref = {'mean': x.mean(2), 'max': x.max(2).values, 'center': x[:, :, 2]}[mode]
    assert torch.allclose(neck.squeeze_depth(x, 0), ref)


def test_conv_squeeze_can_pick_the_centre_slice():
    """A (D,1,1) kernel that is the identity on the centre slice reproduces 'center'."""
    neck = DepthSqueezeNeck([4, 4], num_slices=3, out_channels=4, squeeze='conv')
    centre = DepthSqueezeNeck([4, 4], num_slices=3, out_channels=4, squeeze='center')
    centre.lateral_convs.load_state_dict(neck.lateral_convs.state_dict())
    with torch.no_grad():
        for conv in neck.squeeze_convs:
            conv.weight.zero_()
            conv.bias.zero_()
            conv.weight[:, :, 1, 0, 0] = torch.eye(4)
    feats = _feats(3, chans=(4, 4), size=8)
    assert torch.allclose(neck(feats)[0], centre(feats)[0], atol=1e-6)


def test_top_down_sum_matches_manual_decoder():
    neck = DepthSqueezeNeck([3, 5, 7], num_slices=2, out_channels=4, squeeze='mean')
    feats = _feats(2, chans=(3, 5, 7), size=12)
    lat = [conv(f.mean(2)) for conv, f in zip(neck.lateral_convs, feats)]
    p4 = lat[2]
    p3 = lat[1] + F.interpolate(p4, size=lat[1].shape[-2:], mode='nearest')
    p2 = lat[0] + F.interpolate(p3, size=lat[0].shape[-2:], mode='nearest')
    assert torch.allclose(neck(feats)[0], p2, atol=1e-6)


def test_odd_sizes_are_upsampled_to_the_finer_map():
    neck = DepthSqueezeNeck([2, 2], num_slices=1, out_channels=3, squeeze='center')
    outs = neck([torch.randn(1, 2, 1, 13, 11), torch.randn(1, 2, 1, 7, 6)])
    assert outs[0].shape == (1, 3, 13, 11)


def test_wrong_depth_names_expected_and_actual():
    neck = DepthSqueezeNeck([8, 16, 32], num_slices=7)
    with pytest.raises(ValueError, match=r'num_slices=7 but level 0 has shape '
                                         r'\(2, 8, 3, 16, 16\)'):
        neck(_feats(3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="squeeze must be one of .* got 'median'"):
        DepthSqueezeNeck(squeeze='median')
    with pytest.raises(ValueError, match='expects 3 levels, got 2'):
        DepthSqueezeNeck([8, 16, 32], num_slices=3)(_feats(3)[:2])
