"""Sliding-window inference: window placement, blending weights, exact reassembly."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from acsdet.models.inferers import blend_weights, sliding_window_inference, window_starts
from acsdet.models.segmentors import VolumeSegmentor


def test_window_starts_cover_and_end_flush():
    assert window_starts(10, 4, 0.5) == [0, 2, 4, 6]
    assert window_starts(11, 4, 0.5) == [0, 2, 4, 6, 7]  # last window flush with the end
    assert window_starts(12, 4, 0.0) == [0, 4, 8]
    assert window_starts(3, 4, 0.5) == [0]  # shorter than the window: padded later
    assert window_starts(5, 4, 0.9) == [0, 1]  # step floored at 1
    with pytest.raises(ValueError, match=r'overlap must be in \[0, 1\), got 1.0'):
        window_starts(10, 4, 1.0)


def test_blend_weights():
    assert torch.equal(blend_weights((3, 4, 5)), torch.ones(3, 4, 5))
    g = blend_weights((5, 7), 'gaussian', sigma_scale=0.125)
    assert g.shape == (5, 7)
    assert g.max() == 1 and g[2, 3] == 1  # peak at the centre
    assert g.min() >= 1e-3
    assert torch.allclose(g, g.flip(0)) and torch.allclose(g, g.flip(1))
    with pytest.raises(ValueError, match="blend must be one of"):
        blend_weights((3, ), 'cosine')


@pytest.mark.parametrize('blend', ['constant', 'gaussian'])
@pytest.mark.parametrize('size,window,overlap', [
    ((13, 10, 7), (5, 4, 8), 0.5),      # not divisible; W shorter than the window (padded)
    ((16, 16, 16), (8, 8, 8), 0.0),     # tiling without overlap
    ((9, 11, 12), (4, 6, 5), 0.25),
    ((6, 5, 4), 8, 0.5),                # the volume smaller than the window on every axis
])
def test_identity_model_reassembles_input_exactly(blend, size, window, overlap):
    x = torch.randn((2, 3) + size, dtype=torch.float64)
    calls = []

    def identity(t):
        calls.append(t.shape[0])
        return t.clone()

    out = sliding_window_inference(x, identity, window, overlap, blend, sw_batch_size=3)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x, rtol=0, atol=1e-12)
    assert max(calls) <= 3


def test_per_voxel_model_matches_whole_volume():
    torch.manual_seed(0)
    net = torch.nn.Conv3d(2, 4, 1).double()  # per-voxel: windows cannot change the result
    x = torch.randn(1, 2, 11, 9, 10, dtype=torch.float64)
    with torch.no_grad():
        whole = net(x)
        for blend in ('constant', 'gaussian'):
            out = sliding_window_inference(x, net, (4, 4, 4), 0.5, blend)
            torch.testing.assert_close(out, whole, rtol=0, atol=1e-12)


def test_overlap_is_averaged_with_blend_weights():
    x = torch.zeros(1, 1, 6)
    values = iter([0.0, 1.0])  # the first window predicts 0, the second 1

    def predictor(t):
        return torch.full_like(t, next(values))

    out = sliding_window_inference(x, predictor, 4, overlap=0.5)  # windows [0, 4), [2, 6)
    assert out.flatten().tolist() == [0, 0, 0.5, 0.5, 1, 1]

    values = iter([0.0, 1.0])
    out = sliding_window_inference(x, predictor, 4, overlap=0.5, blend='gaussian')
    w = blend_weights((4, ), 'gaussian').double()
    # voxel 2 is position 2 of window 1 (value 0) and position 0 of window 2 (value 1)
    expected = float(w[0] / (w[2] + w[0]))
    assert out[0, 0, 2].item() == pytest.approx(expected, rel=1e-6)
    assert out[0, 0, 0].item() == 0 and out[0, 0, 5].item() == 1


def test_bad_arguments():
    x = torch.zeros(1, 1, 8, 8, 8)
    with pytest.raises(ValueError, match=r'window \(4, 4\) has 2 axes, inputs have 3'):
        sliding_window_inference(x, lambda t: t, (4, 4))
    with pytest.raises(ValueError, match=r'predictor returned shape \(1, 1, 2, 2, 2\)'):
        sliding_window_inference(x, lambda t: t[:, :, :2, :2, :2], 4)


def _segmentor(test_cfg=None):
    torch.manual_seed(0)
    return VolumeSegmentor(
        network=dict(type='TinyUNet3D', in_channels=1, num_classes=3, base_channels=4,
                      channel_multipliers=(1, 2), kernel_size=1),
        test_cfg=test_cfg).eval()


def test_volume_segmentor_slide_predict():
    whole = _segmentor()
    slide = _segmentor(dict(mode='slide', window=(8, 8, 8), overlap=0.5, blend='gaussian'))
    slide.load_state_dict(whole.state_dict())
    x = torch.randn(1, 1, 12, 10, 9)
    with torch.no_grad():
        ref = whole(x, mode='tensor')
        out = slide(x, [BaseDataElement()], mode='predict')
    # the pointwise network with an even max-pool differs near window borders: compare the
    # prediction with sliding-window logits computed directly
    with torch.no_grad():
        logits = sliding_window_inference(x, slide.network, (8, 8, 8), 0.5, 'gaussian')
    assert out[0].pred_sem_seg.data.shape == (12, 10, 9)
    assert torch.equal(out[0].pred_sem_seg.data, logits.argmax(1)[0])
    assert ref.shape == logits.shape
    with torch.no_grad():  # 'tensor' mode stays whole-volume
        assert torch.equal(slide(x, mode='tensor'), ref)


def test_volume_segmentor_bad_test_cfg():
    with pytest.raises(ValueError, match="test_cfg.mode must be 'whole' or 'slide', got 'tile'"):
        _segmentor(dict(mode='tile'))
    with pytest.raises(ValueError, match="mode 'slide' needs 'window'"):
        _segmentor(dict(mode='slide', overlap=0.5))
    with pytest.raises(ValueError, match='test_cfg.blend must be one of'):
        _segmentor(dict(mode='slide', window=8, blend='box'))
