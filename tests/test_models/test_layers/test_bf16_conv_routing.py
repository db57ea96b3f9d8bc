"""CPU bfloat16 routing of the flat-kernel convs (acsdet.models.layers.flat_conv): the folded
2D conv equals the 3D conv, the routing triggers exactly on the CPU in bfloat16, and the
layers under autocast match their float32 results.  Speed: benchmarks/bench_amp.py."""
import importlib

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from acsdet.models.layers import (ACSConv, Conv2_5d, MeanACSConv, SoftACSConv, acs_conv3d,
                                  conv2_5d, flat_conv, view_conv3d)
from acsdet.models.layers.flat_conv import (copy_channels_last_, flat_conv3d, fold_axis,
                                            routes_bf16, unfold_axis)

# by name: the package's ``conv2_5d`` attribute is the function, not the module
acs_module = importlib.import_module('acsdet.models.layers.acs_conv')
conv2_5d_module = importlib.import_module('acsdet.models.layers.conv2_5d')

AXES = (2, 3, 4)
VIEW_OF_AXIS = {2: 'axial', 3: 'coronal', 4: 'sagittal'}


def _dense_kernel(weight, axis):
    """The K x K x K kernel of a view conv: ``weight`` on the centre plane of ``axis``."""
    k = weight.shape[-1]
    w3 = weight.new_zeros(weight.shape[:2] + (k, k, k))
    index = [slice(None)] * 5
    index[axis] = k // 2
    w3[tuple(index)] = weight
    return w3


def _rel(a, b):
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@settings(max_examples=40, deadline=None)
@given(axis=st.sampled_from(AXES), k=st.integers(1, 4), groups=st.sampled_from([1, 2, 3]),
       stride=st.tuples(*[st.integers(1, 3)] * 3), padding=st.tuples(*[st.integers(0, 3)] * 3),
       dilation=st.tuples(*[st.integers(1, 2)] * 3),
       size=st.tuples(*[st.integers(1, 9)] * 3), bias=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_fold_equals_conv3d(axis, k, groups, stride, padding, dilation, size, bias, dtype):
    """flat_conv3d (the flat axis folded into the batch, F.conv2d) == F.conv3d with the
    centre-plane kernel: every view axis, strides, paddings, dilations, groups, odd sizes,
    planes that only read padding."""
    torch.manual_seed(0)
    cin, cout = 2 * groups, 3 * groups
    x = torch.randn((2, cin) + size, dtype=dtype)
    w = torch.randn(cout, 2, k, k, dtype=dtype)
    b = torch.randn(cout, dtype=dtype) if bias else None
    try:
        expected = F.conv3d(x, _dense_kernel(w, axis), b, stride, padding, dilation, groups)
    except RuntimeError:  # input smaller than the dense kernel: no valid conv
        return
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else {}
    torch.testing.assert_close(flat_conv3d(x, w, axis, b, stride, padding, dilation, groups),
                               expected, **tol)


@pytest.mark.parametrize('axis', AXES)
@pytest.mark.parametrize('stride,padding,dilation,groups', [
    ((1, 1, 1), (1, 1, 1), (1, 1, 1), 1),
    ((2, 1, 2), (1, 2, 0), (1, 2, 1), 2),
    ((1, 2, 1), (0, 0, 2), (2, 1, 1), 1),
    ((3, 1, 1), (3, 1, 1), (1, 1, 1), 4),  # planes reading only padding hold the bias
])
def test_fold_gradcheck(axis, stride, padding, dilation, groups):
    torch.manual_seed(0)
    x = torch.randn(1, 4, 5, 5, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 4 // groups, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: flat_conv3d(x, w, axis, b, stride, padding, dilation, groups),
        (x, w, b))


@pytest.mark.parametrize('axis', AXES)
@pytest.mark.parametrize('stride', [(1, 1, 1), (2, 2, 2)])
def test_fold_bf16_within_bf16_tolerance(axis, stride):
    """bfloat16 tensors through the fold == float32 F.conv3d within bfloat16 rounding;
    gradients too (input gradient back in the input's dtype and layout)."""
    torch.manual_seed(0)
    x = torch.randn(2, 32, 7, 12, 11)
    w = torch.randn(16, 32, 3, 3) / 10
    b = torch.randn(16)
    xb = x.to(torch.bfloat16).requires_grad_()
    wb = w.to(torch.bfloat16).requires_grad_()
    bb = b.to(torch.bfloat16).requires_grad_()
    out = flat_conv3d(xb, wb, axis, bb, stride, 1)
    x32, w32, b32 = (t.detach().float().requires_grad_() for t in (xb, wb, bb))
    ref = F.conv3d(x32, _dense_kernel(w32, axis), b32, stride, 1)
    assert out.dtype == torch.bfloat16 and out.shape == ref.shape
    assert _rel(out, ref) < 1e-2
    g = torch.randn(ref.shape)
    out.backward(g.to(torch.bfloat16))
    ref.backward(g)
    assert xb.grad.dtype == torch.bfloat16 and xb.grad.is_contiguous()
    for got, exp in ((xb.grad, x32.grad), (wb.grad, w32.grad), (bb.grad, b32.grad)):
        assert _rel(got, exp) < 1e-2


@pytest.mark.parametrize('axis', AXES)
@pytest.mark.parametrize('add', [False, True])
def test_fold_unfold_and_channels_last_copy(axis, add):
    x = torch.randn(2, 5, 3, 4, 6)
    folded = fold_axis(x, axis)
    n = x.shape[axis]
    assert folded.shape[0] == 2 * n and folded.shape[1] == 5
    assert folded.is_contiguous(memory_format=torch.channels_last)
    back = unfold_axis(folded, 2, axis)
    assert torch.equal(back, x)
    # into a strided target (a channel slice, every other plane), with a cast
    big = torch.randn(2, 9, 7, 4, 6, dtype=torch.float64)
    expected = big.clone()
    target = big[:, 2:7, ::2][:, :, :3]
    part = expected[:, 2:7, ::2][:, :, :3]
    part.add_(x.double()) if add else part.copy_(x.double())
    copy_channels_last_(target, back, add=add)
    assert torch.equal(big, expected)


def test_routing_triggers_exactly_on_cpu_bfloat16(monkeypatch):
    x32 = torch.randn(1, 2, 3, 4, 4)
    xb = x32.to(torch.bfloat16)
    assert not routes_bf16(x32)
    assert routes_bf16(xb)  # a bfloat16 model without autocast
    assert not routes_bf16(x32.double())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert routes_bf16(x32) and routes_bf16(xb)
        assert not routes_bf16(x32.double())  # autocast leaves float64 alone
    with torch.autocast('cpu', dtype=torch.float16):
        assert not routes_bf16(x32)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=False):
        assert not routes_bf16(x32)
    monkeypatch.setattr(flat_conv, 'BF16_ROUTING', False)
    assert not routes_bf16(xb)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert not routes_bf16(x32)


def _spy(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize('amp', [False, True])
def test_layers_take_the_fold_only_in_bfloat16(monkeypatch, amp):
    """fp32: the F.conv3d paths as before (no fold call); autocast bf16: every flat-kernel
    conv of Conv2_5d, ACSConv (K = 3 and K = 1) and the view convs of Mean-ACS."""
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 6, 6)
    conv2_5d_calls = _spy(monkeypatch, conv2_5d_module, 'flat_conv3d')
    acs_calls = _spy(monkeypatch, acs_module, 'flat_conv3d')
    folded_acs = _spy(monkeypatch, acs_module, '_acs_forward_folded')
    layers = [Conv2_5d(4, 6, 3, padding=1), ACSConv(4, 6, 3, padding=1), ACSConv(4, 6, 1),
              MeanACSConv(4, 6, 3, padding=1)]
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
        for layer in layers:
            layer(x).float().sum().backward()
    if amp:
        assert len(conv2_5d_calls) == 1  # Conv2_5d
        assert len(folded_acs) == 1  # ACSConv K = 3: every segment folded
        assert len(acs_calls) == 4  # ACSConv K = 1, the three Mean-ACS views
    else:
        assert not conv2_5d_calls and not folded_acs and not acs_calls


def test_fp32_path_unchanged():
    """With routing on or off, float32 results are bitwise the same (the F.conv3d path)."""
    torch.manual_seed(0)
    x = torch.randn(2, 8, 5, 9, 9)
    w = torch.randn(6, 8, 3, 3)
    results = []
    for routing in (True, False):
        flat_conv.BF16_ROUTING = routing
        try:
            results.append((acs_conv3d(x, w, None, (1, 2, 2), 1),
                            conv2_5d(x, w, None, 1, 1), view_conv3d(x, w, 'coronal', 1, 1)))
        finally:
            flat_conv.BF16_ROUTING = True
    for a, b in zip(*results):
        assert torch.equal(a, b)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 4), groups=st.sampled_from([1, 2, 3]),
       stride=st.tuples(*[st.integers(1, 2)] * 3), padding=st.tuples(*[st.integers(0, 2)] * 3),
       dilation=st.integers(1, 2), size=st.tuples(*[st.integers(3, 8)] * 3),
       split=st.sampled_from([None, (1, 0, 2), (0, 3, 0)]))
def test_acs_folded_function_equals_conv3d_path(k, groups, stride, padding, dilation, size,
                                                split):
    """The ACS autograd Function with every segment folded (the bf16 path, run here in float64
    by forcing the routing) == the F.conv3d path: outputs and all gradients."""
    torch.manual_seed(0)
    cin, cout = 2 * groups, 3 * groups
    if split is not None:
        split = tuple(s * groups for s in split)
    x = torch.randn((2, cin) + size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(cout, 2, k, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True)
    try:
        ref = acs_conv3d(x, w, b, stride, padding, dilation, groups, split)
    except (RuntimeError, ValueError):
        return
    g = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, (x, w, b), g)
    original = acs_module.routes_bf16
    acs_module.routes_bf16 = lambda t: True
    try:
        out = acs_conv3d(x, w, b, stride, padding, dilation, groups, split)
    finally:
        acs_module.routes_bf16 = original
    torch.testing.assert_close(out, ref)
    for got, exp in zip(torch.autograd.grad(out, (x, w, b), g), ref_grads):
        torch.testing.assert_close(got, exp)


@pytest.mark.parametrize('cls', [Conv2_5d, ACSConv, MeanACSConv, SoftACSConv])
@pytest.mark.parametrize('kernel,stride,padding', [(3, 1, 1), (3, (1, 2, 2), 1), (1, 2, 0),
                                                   (7, (1, 2, 2), 3)])
def test_layers_under_autocast_match_fp32(cls, kernel, stride, padding):
    """A small layer forward+backward under CPU bf16 autocast == its float32 result within
    bfloat16 tolerance (output, input, weight and bias gradients)."""
    torch.manual_seed(0)
    layer = cls(16, 12, kernel, stride=stride, padding=padding)
    x = torch.randn(2, 16, 5, 13, 12, requires_grad=True)
    g = None
    results = []
    for amp in (False, True):
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
            out = layer(x)
        if cls in (Conv2_5d, ACSConv):  # Mean/Soft-ACS add a float32 bias: float32 out
            assert out.dtype == (torch.bfloat16 if amp else torch.float32)
        g = torch.randn(out.shape) if g is None else g
        out.backward(g.to(out.dtype))
        results.append([out.detach().float(), x.grad.clone(), layer.weight.grad.clone(),
                        layer.bias.grad.clone()])
        assert x.grad.dtype == torch.float32 and x.grad.is_contiguous()
        x.grad = None
        layer.zero_grad()
    for got, exp in zip(results[1], results[0]):
        assert got.shape == exp.shape
        assert _rel(got, exp) < 2e-2


@pytest.mark.parametrize('cls', [Conv2_5d, ACSConv, MeanACSConv])
def test_one_channel_stem_stays_float32_under_autocast(cls):
    """A float32 input with <= 3 channels (the stems) runs in float32 under autocast: the
    very float32 result, gradients included."""
    torch.manual_seed(0)
    layer = cls(1, 8, 7, stride=(1, 2, 2), padding=3, bias=False)
    x = torch.randn(2, 1, 3, 16, 16)
    expected = layer(x)
    (w_grad, ) = torch.autograd.grad(expected.sum(), (layer.weight, ))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert flat_conv.keeps_float32(x)
        out = layer(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), (layer.weight, ))[0], w_grad)
    assert not flat_conv.keeps_float32(x.to(torch.bfloat16))  # a bfloat16 model: the fold
