"""Mean-ACS and Soft-ACS convolutions (paper section III-C)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from acsdet.models.layers import MeanACSConv, SoftACSConv


def _views(x, w, padding):
    """The full 2D weight as axial / coronal / sagittal 3D kernels (dense reference)."""
    k = w.shape[-1]
    outs = []
    for axis in (2, 3, 4):
        dense = w.new_zeros(*w.shape[:2], k, k, k)
        index = [slice(None)] * 5
        index[axis] = k // 2
        dense[tuple(index)] = w
        outs.append(F.conv3d(x, dense, None, (1, 2, 1), padding))
    return outs


def test_mean_acs_is_the_mean_of_the_three_views():
    torch.manual_seed(0)
    conv = MeanACSConv(3, 4, 3, stride=(1, 2, 1), padding=(2, 1, 0)).double()
    x = torch.randn(2, 3, 5, 6, 7, dtype=torch.float64)
    a, c, s = _views(x, conv.weight, (2, 1, 0))
    torch.testing.assert_close(conv(x), (a + c + s) / 3 + conv.bias.view(1, -1, 1, 1, 1))
    assert sum(p.numel() for p in conv.parameters()) == 4 * 3 * 9 + 4


def test_soft_acs_starts_as_mean_and_learns_view_weights():
    torch.manual_seed(0)
    soft = SoftACSConv(3, 4, 3, stride=(1, 2, 1), padding=(2, 1, 0)).double()
    mean = MeanACSConv(3, 4, 3, stride=(1, 2, 1), padding=(2, 1, 0)).double()
    mean.load_state_dict(soft.state_dict(), strict=False)
    x = torch.randn(2, 3, 5, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(soft(x), mean(x))
    with torch.no_grad():
        soft.view_logits.copy_(torch.randn(4, 3))
    alpha = soft.view_logits.softmax(1)
    a, c, s = _views(x, soft.weight, (2, 1, 0))
    expected = sum(v * alpha[:, i].view(1, -1, 1, 1, 1) for i, v in enumerate((a, c, s)))
    out = soft(x)
    torch.testing.assert_close(out, expected + soft.bias.view(1, -1, 1, 1, 1))
    out.sum().backward()
    assert soft.view_logits.grad.abs().sum() > 0
    # parameters: the 2D conv's plus Cout x 3 view logits (Table III)
    assert sum(p.numel() for p in soft.parameters()) == 4 * 3 * 9 + 4 + 4 * 3


def test_2d_state_dict_loads_into_soft_acs():
    conv2d = nn.Conv2d(3, 4, 3)
    soft = SoftACSConv(3, 4, 3)
    result = soft.load_state_dict(conv2d.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    torch.testing.assert_close(soft.weight, conv2d.weight)


def test_1x1_kernels_equal_pointwise_conv():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 5, 5, dtype=torch.float64)
    for cls in (MeanACSConv, SoftACSConv):
        conv = cls(3, 4, 1).double()
        torch.testing.assert_close(conv(x), F.conv3d(x, conv.weight[..., None], conv.bias))
