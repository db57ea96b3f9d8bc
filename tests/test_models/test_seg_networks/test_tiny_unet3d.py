"""The tiny 3D U-Net: pointwise + Group Shift (GSP-Conv) versus its 3x3x3 twin."""
import pytest
import torch
import torch.nn as nn

from acsdet.models.layers import GroupShift
from acsdet.models.seg_networks import GS_POSITIONS, SPATIAL_GROUP_PRESETS, GSPUNet3D, TinyUNet3D
from acsdet.registry import MODELS


def conv_weights(model, skip_classifier=False):
    return sum(m.weight.numel() for name, m in model.named_modules()
               if isinstance(m, nn.Conv3d) and not (skip_classifier and name == 'classifier'))


def test_27x_fewer_conv_parameters_than_the_3x3x3_twin():
    gsp = GSPUNet3D(in_channels=4, num_classes=4)
    twin = TinyUNet3D(in_channels=4, num_classes=4)  # kernel 3, no shift, same widths
    assert conv_weights(twin, skip_classifier=True) == 27 * conv_weights(gsp, True)
    assert 26.9 < conv_weights(twin) / conv_weights(gsp) < 27
    # Group Shift adds nothing: the same network without shifts has the same parameters
    no_gs = GSPUNet3D(in_channels=4, num_classes=4, gs_position=None)
    assert sum(p.numel() for p in gsp.parameters()) == sum(p.numel() for p in no_gs.parameters())
    assert 0.2e6 < sum(p.numel() for p in gsp.parameters()) < 0.25e6   # paper: 0.25 M


@pytest.mark.parametrize('position,per_block,up', [('CSC', [True, False], 0),
                                                   ('CCS', [False, True], 0),
                                                   ('CSCS', [True, True], 0),
                                                   ('CSCSUpShift', [True, True], 4)])
def test_insert_positions_and_stage_groups(position, per_block, up):
    groups = SPATIAL_GROUP_PRESETS['ProSGv1']
    net = GSPUNet3D(gs_position=position, spatial_groups='ProSGv1')
    blocks = [(i, b) for i, b in enumerate(net.encoder)] + \
        [(3 - j, b) for j, b in enumerate(net.decoder)]   # decoder runs stages 4, 3, 2, 1
    for stage, block in blocks:
        kinds = [type(m).__name__ for m in block.children()]
        expect = ['ConvModule', 'GroupShift' if per_block[0] else 'Identity',
                  'ConvModule', 'GroupShift' if per_block[1] else 'Identity']
        assert kinds == expect
        for m in block.children():
            if isinstance(m, GroupShift):
                assert m.groups == groups[stage] and m.shift_ratio == 0.5
    ups = [m for m in net.up_shifts if isinstance(m, GroupShift)]
    assert len(ups) == up
    assert [m.groups for m in ups] == ([groups[3], groups[2], groups[1], groups[0]] if up else [])


def test_decoder_only_shift_and_no_shift():
    net = GSPUNet3D(gs_in_encoder=False, spatial_groups='BraTSSG')
    assert not any(isinstance(m, GroupShift) for m in net.encoder.modules())
    assert sum(isinstance(m, GroupShift) for m in net.decoder.modules()) == 4
    assert not any(isinstance(m, GroupShift) for m in TinyUNet3D().modules())


def test_forward_shapes_and_shift_changes_the_output():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 8, 16, 16)
    kwargs = dict(base_channels=16, channel_multipliers=(1, 2, 4),
                  spatial_groups=[(2, 2, 2), (1, 2, 2), (1, 4, 4)])
    gsp = GSPUNet3D(num_classes=3, **kwargs).eval()
    plain = GSPUNet3D(num_classes=3, gs_position=None, **kwargs).eval()
    plain.load_state_dict(gsp.state_dict())   # same weights; GroupShift has none
    assert gsp(x).shape == (2, 3, 8, 16, 16)
    assert not torch.allclose(gsp(x), plain(x))
    # sizes not divisible by the strides or the groups still work
    assert gsp(torch.randn(1, 1, 5, 13, 11)).shape == (1, 3, 5, 13, 11)
    twin = TinyUNet3D(num_classes=3, base_channels=8, channel_multipliers=(1, 2, 4),
                      strides=[(1, 2, 2), 2]).eval()
    assert twin(x).shape == (2, 3, 8, 16, 16)


def test_pointwise_unet_without_shift_is_blind_across_groups_with_shift_it_is_not():
    # one stage pair with stride 1: no pooling, so only Group Shift can move information
    kwargs = dict(base_channels=8, channel_multipliers=(1, 1), strides=[1],
                  spatial_groups=[(1, 2, 2), (1, 2, 2)])
    for position, sees in ((None, False), ('CSC', True)):
        torch.manual_seed(0)
        net = GSPUNet3D(gs_position=position, **kwargs).eval()
        x = torch.randn(1, 1, 2, 4, 4)
        x2 = x.clone()
        x2[..., :2, :2] += 1.0            # change spatial group (0, 0) only
        diff = (net(x2) - net(x)).abs()[0].sum(0)
        assert diff[:, :2, :2].sum() > 0
        assert bool(diff[:, 2:, 2:].sum() > 1e-6) is sees


def test_registry_and_bad_arguments():
    net = MODELS.build(dict(type='GSPUNet3D', num_classes=2, gs_position='CCS'))
    assert isinstance(net, GSPUNet3D) and net.kernel_size == 1 and net.gs_position == 'CCS'
    assert set(GS_POSITIONS) == {'CSC', 'CCS', 'CSCS', 'CSCSUpShift'}
    with pytest.raises(ValueError, match="gs_position must be one of .* got 'SCS'"):
        GSPUNet3D(gs_position='SCS')
    with pytest.raises(ValueError, match="unknown spatial_groups preset 'ProSGv9'"):
        GSPUNet3D(spatial_groups='ProSGv9')
    with pytest.raises(ValueError, match='spatial_groups has 5 stages, the network has 3'):
        GSPUNet3D(channel_multipliers=(1, 2, 4))
    with pytest.raises(ValueError, match=r'stage 1 has 8 channels, shift_ratio 0.5 shifts fewer '
                                         r'than its 8 spatial groups \(2, 2, 2\)'):
        GSPUNet3D(base_channels=8)
    with pytest.raises(ValueError, match=r'expects \(B, C, D, H, W\), got shape \(1, 8, 8\)'):
        TinyUNet3D()(torch.zeros(1, 8, 8))
