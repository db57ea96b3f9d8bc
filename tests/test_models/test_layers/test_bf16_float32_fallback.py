"""Under CPU bfloat16 autocast the convs that measured slower in bfloat16 than in float32 run
in float32 (``flat_conv.keeps_float32``): dense 3D kernels, pointwise kernels, small flat
convs; the large flat (2.5D / ACS 3x3) convs keep bfloat16.  The float32 results are the very
float32 ones."""
import pytest
import torch

from acsdet.models.layers import ACSConv, Conv2_5d, InflatedConv3d, flat_conv


@pytest.fixture(autouse=True)
def fallback_on(monkeypatch):
    monkeypatch.setattr(flat_conv, 'BF16_FLOAT32_FALLBACK', True)


def test_conv_macs_counts_output_voxels_times_kernel():
    x = torch.zeros(2, 4, 6, 8, 10)
    # stride (1, 2, 2): 2 * 6 * 4 * 5 outputs, 3 * 4 * 3 * 3 multiply-adds each
    assert flat_conv.conv_macs(x, torch.zeros(3, 4, 3, 3), 1, (1, 2, 2)) == 240 * 108
    assert flat_conv.conv_macs(x, torch.zeros(3, 2, 3, 3, 3), 2) == 960 * 3 * 2 * 27


@pytest.mark.parametrize('cls,kernel,cin,size,float32', [
    (InflatedConv3d, 3, 16, 8, True),       # dense 3x3x3: float32 at any size
    (InflatedConv3d, 1, 16, 8, True),       # pointwise
    (Conv2_5d, 1, 16, 8, True),
    (ACSConv, 1, 16, 8, True),
    (Conv2_5d, 3, 16, 8, True),             # small flat conv: ~0.1 M multiply-adds
    (ACSConv, 3, 16, 8, True),
    (Conv2_5d, 3, 64, 48, False),           # 2 * 48^3 * 64 * 64 * 9 = 8e9: bfloat16
    (ACSConv, 3, 64, 48, False),
])
def test_which_convs_fall_back_to_float32(cls, kernel, cin, size, float32):
    torch.manual_seed(0)
    layer = cls(cin, cin, kernel, padding=kernel // 2)
    x = torch.randn(2, cin, size // 4 if size > 16 else size, size, size)
    with torch.no_grad():
        expected = layer(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert flat_conv.keeps_float32(x, 1, layer.weight) == float32
            out = layer(x)
    if float32:
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
    else:
        assert out.dtype == torch.bfloat16


def test_a_bfloat16_input_is_cast_up_and_gradients_flow():
    torch.manual_seed(0)
    layer = InflatedConv3d(8, 4, 3, padding=1)
    xb = torch.randn(1, 8, 4, 6, 6).to(torch.bfloat16).requires_grad_()
    expected = layer(xb.detach().float())
    (w_grad, ) = torch.autograd.grad(expected.sum(), (layer.weight, ))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer(xb)  # e.g. the output of a bfloat16 conv before it
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    gw, gx = torch.autograd.grad(out.sum(), (layer.weight, xb))
    assert gx.dtype == torch.bfloat16
    torch.testing.assert_close(gw, w_grad, rtol=0, atol=0)  # a float32 weight gradient


def test_no_fallback_without_autocast_or_when_switched_off(monkeypatch):
    layer = InflatedConv3d(8, 4, 3, padding=1)
    x = torch.randn(1, 8, 4, 6, 6)
    assert not flat_conv.keeps_float32(x, 1, layer.weight)  # float32, no autocast
    xb = x.to(torch.bfloat16)
    assert not flat_conv.keeps_float32(xb, 1, layer.weight)  # a bfloat16 model: bfloat16
    assert layer.to(torch.bfloat16)(xb).dtype == torch.bfloat16
    monkeypatch.setattr(flat_conv, 'BF16_FLOAT32_FALLBACK', False)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert not flat_conv.keeps_float32(x, 1, layer.float().weight)
