"""ACSConv: equality with the block-sparse dense Conv3d, kernel split, groups, memory."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from acsdet.models.layers import ACSConv, acs_conv3d, acs_conv3d_reference, acs_kernel_split


def dense_acs_kernel(weight: torch.Tensor, split) -> torch.Tensor:
    """The K x K x K kernel of an ACS conv: each view's 2D kernel on its centre plane."""
    k = weight.shape[-1]
    a, c, _ = split
    dense = weight.new_zeros(*weight.shape[:2], k, k, k)
    dense[:a, :, k // 2] = weight[:a]
    dense[a:a + c, :, :, k // 2] = weight[a:a + c]
    dense[a + c:, :, :, :, k // 2] = weight[a + c:]
    return dense


@st.composite
def acs_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 5))  # odd and not-divisible-by-3 counts included
    k = draw(st.integers(1, 4))
    triple = lambda lo, hi: tuple(draw(st.integers(lo, hi)) for _ in range(3))  # noqa: E731
    stride, padding, dilation = triple(1, 3), triple(0, 3), triple(1, 2)
    size = triple(1, 7)
    for n, p, d, s in zip(size, padding, dilation, stride):  # a valid dense conv
        if n + 2 * p - d * (k - 1) - 1 < 0:
            size = tuple(max(n_, d_ * (k - 1) + 1) for n_, d_ in zip(size, dilation))
            break
    return dict(groups=groups, cin=cin, cout=cout, k=k, stride=stride, padding=padding,
                dilation=dilation, size=size, batch=draw(st.integers(1, 2)),
                bias=draw(st.booleans()))


@settings(max_examples=40, deadline=None)
@given(acs_cases())
def test_acs_equals_block_sparse_conv3d(case):
    torch.manual_seed(0)
    x = torch.randn(case['batch'], case['cin'], *case['size'], dtype=torch.float64,
                    requires_grad=True)
    w = torch.randn(case['cout'], case['cin'] // case['groups'], case['k'], case['k'],
                    dtype=torch.float64, requires_grad=True)
    b = torch.randn(case['cout'], dtype=torch.float64, requires_grad=True) \
        if case['bias'] else None
    args = (case['stride'], case['padding'], case['dilation'], case['groups'])
    expected = F.conv3d(x, dense_acs_kernel(w, acs_kernel_split(case['cout'])), b, *args)
    out = acs_conv3d(x, w, b, *args)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(expected)
    inputs = (x, w) if b is None else (x, w, b)
    torch.testing.assert_close(torch.autograd.grad(out, inputs, grad),
                               torch.autograd.grad(expected, inputs, grad))


@settings(max_examples=25, deadline=None)
@given(acs_cases())
def test_reference_algorithm_equals_acs(case):
    """Algorithm 1 (three conv3d + cat) gives the same result where it applies."""
    groups, cout = case['groups'], case['cout']
    split = acs_kernel_split(cout)
    opg = cout // groups
    x = torch.randn(case['batch'], case['cin'], *case['size'], dtype=torch.float64)
    w = torch.randn(cout, case['cin'] // groups, case['k'], case['k'], dtype=torch.float64)
    args = (None, case['stride'], case['padding'], case['dilation'], groups)
    if groups > 1 and any(n % opg for n in split):
        with pytest.raises(ValueError, match='every view to hold whole groups'):
            acs_conv3d_reference(x, w, *args)
        return
    torch.testing.assert_close(acs_conv3d_reference(x, w, *args), acs_conv3d(x, w, *args))


@pytest.mark.parametrize('cout,expected', [(3, (1, 1, 1)), (4, (2, 1, 1)), (5, (2, 2, 1)),
                                           (64, (22, 21, 21)), (1, (1, 0, 0)),
                                           (2, (1, 1, 0))])
def test_kernel_split_convention(cout, expected):
    assert acs_kernel_split(cout) == expected
    assert ACSConv(2, cout, 3).kernel_split == expected


def test_user_split_and_channel_order():
    """Output channels come in (axial, coronal, sagittal) order with the given split."""
    torch.manual_seed(0)
    conv = ACSConv(2, 4, 3, padding=1, bias=False, kernel_split=(0, 1, 3)).double()
    x = torch.randn(1, 2, 5, 6, 7, dtype=torch.float64)
    w = conv.weight
    torch.testing.assert_close(conv(x)[:, :1], F.conv3d(x, w[:1].unsqueeze(3), None, 1,
                                                         (1, 0, 1)))
    torch.testing.assert_close(conv(x)[:, 1:], F.conv3d(x, w[1:].unsqueeze(4), None, 1,
                                                         (1, 1, 0)))
    with pytest.raises(ValueError, match=r'kernel_split must be three non-negative ints .* '
                       r'summing to out_channels=4, got \(1, 1, 1\)'):
        ACSConv(2, 4, 3, kernel_split=(1, 1, 1))


def test_depthwise_and_stride_1_2_2():
    torch.manual_seed(0)
    conv = ACSConv(7, 7, 3, stride=(1, 2, 2), padding=1, groups=7).double()
    x = torch.randn(2, 7, 5, 9, 8, dtype=torch.float64)
    expected = F.conv3d(x, dense_acs_kernel(conv.weight, conv.kernel_split), conv.bias,
                        (1, 2, 2), 1, 1, 7)
    out = conv(x)
    assert out.shape == (2, 7, 5, 5, 4) == nn.Conv3d(7, 7, 3, (1, 2, 2), 1, groups=7)(
        x.float()).shape
    torch.testing.assert_close(out, expected)


def test_2d_state_dict_loads_unchanged():
    conv2d = nn.Conv2d(4, 6, 3, padding=1)
    acs = ACSConv(4, 6, 3, padding=1)
    assert acs.load_state_dict(conv2d.state_dict()).missing_keys == []
    assert acs.weight.shape == (6, 4, 3, 3)
    torch.testing.assert_close(acs.weight, conv2d.weight)


def test_bad_inputs_have_clear_errors():
    conv = ACSConv(4, 6, 3)
    with pytest.raises(ValueError, match=r'expected input of shape \(B, C, D, H, W\), got '
                       r'\(1, 4, 5, 5\)'):
        conv(torch.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match='expected 4 input channels, got 3'):
        conv(torch.randn(1, 3, 5, 5, 5))
    with pytest.raises(ValueError, match=r'kernel_size must be an int K or a square pair'):
        ACSConv(4, 6, (1, 3))
    with pytest.raises(ValueError, match=r'stride must be an int or a 3-tuple'):
        ACSConv(4, 6, 3, stride=(1, 2))
    with pytest.raises(ValueError, match='padding_mode="zeros" only'):
        ACSConv(4, 6, 3, padding_mode='reflect')
    with pytest.raises(ValueError, match='input size 2 is too small for kernel 5'):
        conv.__class__(4, 6, 5)(torch.randn(1, 4, 2, 8, 8))


def _saved_bytes(fn, *inputs):
    """Bytes autograd keeps for backward while ``fn(*inputs)`` is alive (shared storage
    counted once)."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*inputs)
    return out, sum(seen.values())


def test_saves_only_input_and_weight_for_backward():
    """The memory-lean ACS keeps the input and weight only; Algorithm 1 with non-"same"
    padding keeps a padded input copy per view."""
    x = torch.randn(1, 8, 6, 10, 10, requires_grad=True)
    w = torch.randn(9, 8, 3, 3, requires_grad=True)
    nbytes = x.untyped_storage().nbytes() + w.untyped_storage().nbytes()
    out, saved = _saved_bytes(lambda a, b: acs_conv3d(a, b, None, 1, 2), x, w)
    assert saved == nbytes
    ref, saved_ref = _saved_bytes(lambda a, b: acs_conv3d_reference(a, b, None, 1, 2), x, w)
    assert saved_ref > 2 * x.untyped_storage().nbytes()
    torch.testing.assert_close(out, ref)


def test_autocast_bfloat16_cpu():
    torch.manual_seed(0)
    conv = ACSConv(4, 5, 3, padding=1)
    x = torch.randn(1, 4, 4, 6, 6, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert x.grad.dtype == torch.float32 and conv.weight.grad.dtype == torch.float32
    torch.testing.assert_close(out.float(), conv(x), atol=0.1, rtol=0.05)


def test_channels_last_input_gives_channels_last_output():
    conv = ACSConv(4, 5, 3, padding=1).double()
    x = torch.randn(2, 4, 4, 6, 6, dtype=torch.float64)
    out = conv(x.contiguous(memory_format=torch.channels_last_3d))
    assert out.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(out, conv(x))


def test_registered_for_build_conv_layer():
    cnn = pytest.importorskip('mmcv.cnn')
    from acsdet.models.layers import CONV_TYPES
    for cls in CONV_TYPES.values():
        layer = cnn.build_conv_layer(dict(type=cls.__name__), 4, 6, 3, stride=(1, 2, 2),
                                     padding=1)
        assert type(layer) is cls
        assert layer(torch.randn(1, 4, 3, 8, 8)).shape == (1, 6, 3, 4, 4)


@pytest.mark.parametrize('shape', [(1, 64, 8, 48, 5), (2, 40, 3, 5, 6), (1, 48, 4, 6, 5)])
def test_input_gradient_paths(shape):
    """Both input-gradient paths (channel slabs; one convolution_backward when the view's
    gradient is small and the input is not) match the dense Conv3d."""
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, shape[1], 3, 3, dtype=torch.float64, requires_grad=True)
    out = acs_conv3d(x, w, None, (1, 2, 1), 1)
    expected = F.conv3d(x, dense_acs_kernel(w, acs_kernel_split(7)), None, (1, 2, 1), 1)
    g = torch.randn_like(out)
    torch.testing.assert_close(torch.autograd.grad(out, (x, w), g),
                               torch.autograd.grad(expected, (x, w), g))
