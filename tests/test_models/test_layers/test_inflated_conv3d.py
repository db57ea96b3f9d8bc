"""InflatedConv3d and I3D inflation of 2D weights."""
import pytest
import torch
import torch.nn as nn

from acsdet.models.layers import InflatedConv3d, inflate_2d_weight


def test_inflate_2d_weight_repeats_and_divides():
    w = torch.randn(4, 3, 3, 3)
    w3 = inflate_2d_weight(w, 5)
    assert w3.shape == (4, 3, 5, 3, 3)
    for d in range(5):
        torch.testing.assert_close(w3[:, :, d], w / 5)
    torch.testing.assert_close(w3.sum(2), w)
    with pytest.raises(ValueError, match=r'expected a 2D kernel \(Cout, Cin, Kh, Kw\), got '
                       r'shape \(3, 3, 3\)'):
        inflate_2d_weight(w[0], 2)


def test_loads_2d_state_dict_with_inflation():
    conv2d = nn.Conv2d(3, 4, 3, padding=1)
    conv = InflatedConv3d(3, 4, 3, padding=1)
    assert conv.weight.shape == (4, 3, 3, 3, 3)
    conv.load_state_dict(conv2d.state_dict())
    torch.testing.assert_close(conv.weight, inflate_2d_weight(conv2d.weight.detach(), 3))
    torch.testing.assert_close(conv.bias, conv2d.bias)
    conv.load_state_dict(conv.state_dict())  # 3D weights load as they are


def test_depth_constant_input_equals_2d_conv_away_from_borders():
    torch.manual_seed(0)
    conv2d = nn.Conv2d(3, 5, 3, stride=2, padding=1, dilation=1).double()
    conv = InflatedConv3d(3, 5, 3, stride=(1, 2, 2), padding=1).double()
    conv.load_state_dict(conv2d.state_dict())
    img = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    out = conv(img.unsqueeze(2).expand(-1, -1, 6, -1, -1))
    assert out.shape == (2, 5, 6, 5, 4)
    for d in range(1, 5):  # the border slices see depth padding
        torch.testing.assert_close(out[:, :, d], conv2d(img))
    assert not torch.allclose(out[:, :, 0], conv2d(img))


def test_2d_style_arguments():
    conv = InflatedConv3d(2, 2, (5, 5), stride=(1, 2, 2), padding=(2, 2, 2))
    assert conv.kernel_size == (5, 5, 5) and conv.stride == (1, 2, 2)
    assert conv(torch.randn(1, 2, 3, 8, 8)).shape == (1, 2, 3, 4, 4)
