"""Conv2_5d: (1, K, K) kernel, K x K x K output shape, per-slice equality with the 2D conv."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from acsdet.models.layers import ACSConv, Conv2_5d


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 4), stride=st.tuples(*[st.integers(1, 2)] * 3),
       padding=st.tuples(*[st.integers(0, 2)] * 3), dilation=st.integers(1, 2),
       depth=st.integers(7, 9))
def test_equals_centre_plane_conv3d(k, stride, padding, dilation, depth):
    """2.5D == a K x K x K conv whose kernel is the 2D one on the centre depth plane ==
    ACS with every channel axial."""
    torch.manual_seed(0)
    conv = Conv2_5d(3, 4, k, stride, padding, dilation).double()
    x = torch.randn(2, 3, depth, 8, 7, dtype=torch.float64, requires_grad=True)
    dense = conv.weight.new_zeros(4, 3, k, k, k)
    dense[:, :, k // 2] = conv.weight
    expected = F.conv3d(x, dense, conv.bias, stride, padding, dilation)
    out = conv(x)
    torch.testing.assert_close(out, expected)
    axial = ACSConv(3, 4, k, stride, padding, dilation, kernel_split=(4, 0, 0)).double()
    axial.load_state_dict(conv.state_dict())
    torch.testing.assert_close(axial(x), out)
    g = torch.randn_like(out)
    torch.testing.assert_close(torch.autograd.grad(out, (x, conv.weight), g),
                               torch.autograd.grad(expected, (x, conv.weight), g))


def test_depth_constant_input_equals_2d_conv_per_slice():
    torch.manual_seed(0)
    conv2d = nn.Conv2d(3, 5, 3, stride=2, padding=1).double()
    conv = Conv2_5d(3, 5, 3, stride=(1, 2, 2), padding=1).double()
    conv.load_state_dict(conv2d.state_dict())
    img = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    out = conv(img.unsqueeze(2).expand(-1, -1, 4, -1, -1))
    for d in range(4):  # 2.5D never mixes slices: every slice, borders included
        torch.testing.assert_close(out[:, :, d], conv2d(img))


def test_varying_slices_stay_independent():
    conv = Conv2_5d(2, 3, 3, padding=1).double()
    x = torch.randn(1, 2, 5, 6, 6, dtype=torch.float64)
    y = x.clone()
    y[:, :, 0] += 1
    assert torch.equal(conv(x)[:, :, 1:], conv(y)[:, :, 1:])


def test_2d_state_dict_and_parameter_count():
    conv2d = nn.Conv2d(4, 6, 3)
    conv = Conv2_5d(4, 6, 3)
    assert conv.load_state_dict(conv2d.state_dict()).missing_keys == []
    assert sum(p.numel() for p in conv.parameters()) == \
        sum(p.numel() for p in conv2d.parameters())
    with pytest.raises(ValueError, match='padding_mode="zeros" only'):
        Conv2_5d(4, 6, 3, padding_mode='circular')
