"""CPUAmpOptimWrapper: bfloat16 autocast in the training forward pass, float32 weights."""
import pytest
import torch
import torch.nn as nn

from acsdet.apis import register_all_modules
from acsdet.engine.optimizers import CPUAmpOptimWrapper
from acsdet.registry import MODELS


@pytest.fixture(autouse=True)
def _scope():
    register_all_modules()


def _wrapper(model, **kw):
    return CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), **kw)


def test_forward_runs_in_bfloat16_and_weights_stay_float32():
    model = nn.Linear(4, 3)
    wrapper = _wrapper(model)
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32 and model.weight.grad is None  # zero_grad'ed
    assert not torch.equal(model.weight, before)
    assert model(torch.randn(2, 4)).dtype == torch.float32  # outside the context: fp32


@pytest.mark.parametrize('fallback', [False, True])
@pytest.mark.parametrize('conv_type', ['acs', '2.5d', '3d'])
def test_3d_backbones_train_under_bfloat16_autocast(conv_type, fallback, monkeypatch):
    """Under the wrapper the convs run in bfloat16, except, with the float32 fallback of
    ``flat_conv`` (the shipped default), the shapes that measured slower in bfloat16: at this
    tiny size the dense layer's 3x3 conv is one of them."""
    from acsdet.models.layers import flat_conv
    monkeypatch.setattr(flat_conv, 'BF16_FLOAT32_FALLBACK', fallback)
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='TruncatedDenseNet3D', conv_type=conv_type,
                                 num_slices=3, out_indices=(0, )))
    wrapper = _wrapper(backbone)
    x = torch.randn(1, 1, 3, 32, 32)
    conv_dtypes = []
    backbone.denseblock1.denselayer1.conv2.register_forward_hook(
        lambda m, i, o: conv_dtypes.append(o.dtype))
    with wrapper.optim_context(backbone):
        feat = backbone(x)[0]
    # the convolutions run in bfloat16 (the dense concatenations promote to the widest input)
    assert conv_dtypes == [torch.float32 if fallback else torch.bfloat16]
    assert feat.shape == (1, 256, 3, 8, 8)
    loss = feat.float().pow(2).mean()
    loss.backward()
    grad = backbone.conv0.weight.grad
    assert grad is not None and grad.dtype == torch.float32 and torch.isfinite(grad).all()
    # bfloat16 forward stays close to the float32 one (8 mantissa bits, 40+ layers deep)
    with torch.no_grad():
        ref = backbone(x)[0]
    rel = (feat.detach().float() - ref).norm() / ref.norm()
    assert rel < 0.1, rel


def test_bad_dtype():
    with pytest.raises(ValueError, match="CPUAmpOptimWrapper: dtype must be 'bfloat16'"):
        _wrapper(nn.Linear(2, 2), dtype='int8')


class _Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(1, 4, 3)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        feat = self.backbone(x)
        self.feat_dtype = feat.dtype
        return self.head(feat)


def test_only_the_feature_extractor_is_autocast():
    # mmcv's CPU ops (nms, RoIAlign) take float32 only: the heads must see float32 features
    model = _Detector()
    inner = []
    model.backbone.register_forward_hook(lambda m, i, o: inner.append(o.dtype))
    wrapper = _wrapper(model)
    num_hooks = len(model.backbone._forward_hooks)
    with wrapper.optim_context(model):
        out = model(torch.randn(1, 1, 8, 8))
    assert inner == [torch.bfloat16]          # the backbone's conv ran in bfloat16
    assert model.feat_dtype == torch.float32  # ... its output was cast back
    assert out.dtype == torch.float32         # the head ran in float32
    # the autocast hooks are removed after the step
    assert len(model.backbone._forward_hooks) == num_hooks
    assert not model.backbone._forward_pre_hooks
