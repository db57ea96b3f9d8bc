"""GroupShift against a direct per-voxel transcription of formulas (1)-(8) of the GSP-Conv paper."""
import importlib
import itertools

import pytest
import torch
from mmengine.registry import MODELS

from acsdet.models.layers.group_shift import (GroupShift, clear_group_shift_cache, group_shift,
                                              group_shift_index)


def reference_group_shift(x, groups, shift_channels, remainder='pad'):
    """Slow scatter F_s(x', y', z', c') = F(x, y, z, c), one voxel at a time (formulas (1)-(8))."""
    B, C, D, H, W = x.shape
    gd, gh, gw = groups
    G = gd * gh * gw
    cg = shift_channels // G
    if remainder == 'pad':
        d, h, w = -(-D // gd), -(-H // gh), -(-W // gw)
        out = x.clone()
        out[:, :shift_channels] = 0  # positions fed by the zero padding stay 0
    else:
        d, h, w = D // gd, H // gh, W // gw
        out = x.clone()  # voxels outside the grouped block stay in place
    for c in range(shift_channels):
        for xx, yy, zz in itertools.product(range(gd * d), range(gh * h), range(gw * w)):
            if xx >= D or yy >= H or zz >= W:
                continue  # a padding voxel carries 0
            cur_ind = xx // d + (yy // h) * gd + (zz // w) * gd * gh        # (2)
            sft_step = c // cg                                              # (3)
            sfted_ind = (cur_ind + sft_step) % G                            # (4)
            x2 = (sfted_ind % gd) * d + xx % d                              # (5)
            y2 = ((sfted_ind % (gd * gh)) // gd) * h + yy % h               # (6)
            z2 = (sfted_ind // (gd * gh)) * w + zz % w                      # (7)
            if x2 < D and y2 < H and z2 < W:
                out[:, c, x2, y2, z2] = x[:, c, xx, yy, zz]                 # (1), (8)
    return out


@pytest.mark.parametrize('size,groups,channels,ratio', [
    ((4, 4, 4), (2, 2, 2), 16, 0.5),
    ((2, 8, 8), (1, 4, 4), 32, 0.5),
    ((4, 8, 8), (2, 4, 4), 64, 0.5),
    ((4, 6, 4), (2, 3, 1), 13, 1.0),
    ((2, 4, 6), (1, 2, 3), 7, 0.9),
])
def test_matches_formulas_divisible(size, groups, channels, ratio):
    torch.manual_seed(0)
    x = torch.randn(2, channels, *size)
    G = groups[0] * groups[1] * groups[2]
    cs = int(channels * ratio) // G * G
    y = GroupShift(groups, shift_ratio=ratio)(x)
    assert torch.equal(y, reference_group_shift(x, groups, cs))
    assert torch.equal(y[:, cs:], x[:, cs:])  # C_k channels untouched


@pytest.mark.parametrize('size,groups', [((3, 5, 7), (2, 2, 3)), ((1, 6, 5), (2, 4, 4)),
                                         ((5, 3, 4), (5, 2, 2))])
@pytest.mark.parametrize('remainder', ['pad', 'keep'])
def test_matches_formulas_not_divisible(size, groups, remainder):
    if remainder == 'keep' and any(s < g for s, g in zip(size, groups)):
        with pytest.raises(ValueError, match=r'smaller than the groups .* use remainder="pad"'):
            GroupShift(groups, remainder=remainder)(torch.zeros(1, 64, *size))
        return
    torch.manual_seed(1)
    G = groups[0] * groups[1] * groups[2]
    x = torch.randn(1, 2 * G + 3, *size)
    y = GroupShift(groups, shift_ratio=0.5, remainder=remainder)(x)
    assert torch.equal(y, reference_group_shift(x, groups, (x.shape[1] // 2) // G * G, remainder))


def test_figure_1c_every_group_receives_one_channel_group_of_every_other():
    groups = (2, 2, 2)
    G = 8
    x = torch.zeros(1, 2 * G, 4, 4, 4)
    # value of a voxel = flattened spatial group index of formula (2), depth fastest
    for i, j, k in itertools.product(range(2), repeat=3):
        x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 2 * k:2 * k + 2] = i + 2 * j + 4 * k
    y = GroupShift(groups, shift_ratio=0.5)(x)
    for m in range(G):  # spatial group m of the output
        i, j, k = m % 2, (m // 2) % 2, m // 4
        block = y[0, :G, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 2 * k:2 * k + 2]
        got = block.flatten(1)
        assert torch.all(got == got[:, :1])
        # channel group c (C_g = 1) holds spatial group (m - c) mod G
        assert got[:, 0].tolist() == [float((m - c) % G) for c in range(G)]
        assert sorted(got[:, 0].tolist()) == [float(v) for v in range(G)]


@pytest.mark.parametrize('size,groups,remainder', [((4, 8, 8), (2, 4, 4), 'pad'),
                                                   ((5, 7, 6), (2, 3, 4), 'keep')])
def test_is_a_permutation(size, groups, remainder):
    torch.manual_seed(2)
    gs = GroupShift(groups, shift_ratio=0.75, remainder=remainder)
    x = torch.randn(2, 48, *size)
    y = gs(x)
    assert not torch.equal(x, y)
    assert torch.equal(gs.inverse(y), x)
    assert torch.equal(gs(gs.inverse(x)), x)
    assert torch.allclose(y.norm(), x.norm())
    for b, c in itertools.product(range(2), range(48)):  # a permutation inside each channel
        assert torch.equal(y[b, c].flatten().sort().values, x[b, c].flatten().sort().values)
    src, src_valid, dst, dst_valid = group_shift_index(size, groups, remainder)
    assert src_valid is None and dst_valid is None
    for k in range(src.shape[0]):
        assert torch.equal(src[k].sort().values, torch.arange(src.shape[1]))
        assert torch.equal(src[k][dst[k]], torch.arange(src.shape[1]))


def test_pad_mode_is_a_partial_permutation():
    gs = GroupShift((2, 2, 2), shift_ratio=1.0, remainder='pad')
    x = torch.randn(1, 8, 3, 3, 3)
    y = gs(x)
    assert y.norm() < x.norm()
    # every nonzero output value is an input value of the same channel
    for c in range(8):
        vals = set(x[0, c].flatten().tolist())
        assert all(v in vals for v in y[0, c].flatten().tolist() if v != 0)


@pytest.mark.parametrize('size,remainder', [((4, 4, 4), 'pad'), ((3, 5, 3), 'pad'),
                                            ((3, 5, 3), 'keep')])
def test_gradient_is_the_inverse_shift(size, remainder):
    gs = GroupShift((2, 2, 1), shift_ratio=0.5, remainder=remainder)
    x = torch.randn(1, 8, *size, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(gs, (x, ))
    assert torch.autograd.gradgradcheck(gs, (x, ))
    g = torch.randn(1, 8, *size, dtype=torch.double)
    gs(x).backward(g)
    if remainder == 'keep':
        assert torch.equal(x.grad, gs.inverse(g))


def test_parameter_free_and_registered():
    gs = MODELS.build(dict(type='GroupShift', groups=(1, 8, 8), shift_ratio=0.5))
    assert isinstance(gs, GroupShift)
    assert sum(p.numel() for p in gs.parameters()) == 0
    gs(torch.randn(1, 128, 2, 16, 16))  # caches tables, still nothing in the state dict
    assert len(gs.state_dict()) == 0
    assert gs.groups == (1, 8, 8) and gs.num_groups == 64


def test_functional_and_identity_cases():
    x = torch.randn(2, 16, 4, 4, 4)
    assert torch.equal(group_shift(x, (2, 2, 2), 0.5), GroupShift((2, 2, 2), 0.5)(x))
    assert torch.equal(group_shift(x, 1, 0.5), x)  # one group: no shift
    assert torch.equal(group_shift(x, (2, 2, 2), 0.0), x)
    y = group_shift(x, 2, 0.5)
    assert torch.equal(group_shift(y, 2, 0.5, inverse=True), x)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'expects \(B, C, D, H, W\), got shape \(2, 4, 4\)'):
        GroupShift()(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match='4 channels x shift_ratio 0.5 gives fewer shifted'):
        GroupShift((2, 2, 2))(torch.zeros(1, 4, 4, 4, 4))
    with pytest.raises(ValueError, match="remainder must be one of .* got 'crop'"):
        GroupShift(remainder='crop')
    with pytest.raises(ValueError, match=r'shift_ratio must be in \[0, 1\], got 1.5'):
        GroupShift(shift_ratio=1.5)
    with pytest.raises(ValueError, match=r'groups must be a positive int or \(g_d, g_h, g_w\)'):
        GroupShift(groups=(2, 0, 2))


def test_index_tables_are_shared_and_clearable():
    # the package attribute `group_shift` is the function, so fetch the module itself
    gs_module = importlib.import_module('acsdet.models.layers.group_shift')
    clear_group_shift_cache()
    a, b = GroupShift((1, 2, 2)), GroupShift((1, 2, 2))
    x = torch.randn(1, 8, 2, 4, 4)
    assert torch.equal(a(x), b(x))
    assert len(gs_module._TABLE_CACHE) == 1           # one table pair for both layers
    GroupShift((1, 2, 2))(torch.randn(1, 8, 2, 4, 6))
    assert len(gs_module._TABLE_CACHE) == 2
    clear_group_shift_cache()
    assert len(gs_module._TABLE_CACHE) == 0
