"""The pinned stack is installed and mmcv's compiled ops run on this machine."""
import mmcv
import mmdet
import mmengine
import torch
import torchvision


def test_pinned_versions():
    assert torch.__version__.split('+')[0] == '2.14.1'
    assert torchvision.__version__.split('+')[0] == '0.29.1'
    assert mmcv.__version__ == '2.1.0'
    assert mmengine.__version__ == '0.10.7'
    assert mmdet.__version__ == '3.3.0'


def test_mmcv_ops_run_on_cpu():
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.9, 0.7]))

    feat = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    roi_align = RoIAlign(output_size=2, spatial_scale=1.0, sampling_ratio=1, aligned=True)
    out = roi_align(feat, torch.tensor([[0., 0., 0., 4., 4.]]))
    # aligned RoIAlign of the whole 4x4 map into 2x2 bins samples each bin centre
    assert torch.allclose(out, torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
