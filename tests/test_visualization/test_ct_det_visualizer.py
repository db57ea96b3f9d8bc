import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from acsdet.visualization import CTDetLocalVisualizer, apply_window, window_bounds


def test_windows():
    assert window_bounds('soft_tissue') == (-160.0, 240.0)
    assert window_bounds('lung') == (-1350.0, 150.0)
    assert window_bounds((-100, 100)) == (-100.0, 100.0)
    hu = np.array([[-2000, -160, 40, 240, 3000]], np.float32)
    np.testing.assert_array_equal(apply_window(hu, 'soft_tissue'), [[0, 0, 128, 255, 255]])
    with pytest.raises(ValueError, match="unknown CT window 'abdomen'"):
        window_bounds('abdomen')
    with pytest.raises(ValueError, match=r'CT window needs high > low, got \(5.0, 5.0\)'):
        apply_window(hu, (5, 5))


def _near(img, y, x, colour, tol=40):
    """Whether a pixel within 1 px of (y, x) has ``colour`` (lines are anti-aliased)."""
    patch = img[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - colour).max(1) <= tol).any())


def test_draws_windowed_slice_boxes_and_recist(tmp_path):
    hu = np.full((64, 64), -1000, np.float32)
    hu[:, 32:] = 40  # air left, soft tissue right
    sample = DetDataSample()
    gt = InstanceData()
    gt.bboxes = torch.tensor([[4.0, 4.0, 20.0, 20.0]])
    gt.labels = torch.tensor([0])
    gt.recists = torch.tensor([[6.0, 12.0, 18.0, 12.0, 12.0, 8.0, 12.0, 16.0]])
    sample.gt_instances = gt
    pred = InstanceData()
    pred.bboxes = torch.tensor([[36.0, 36.0, 60.0, 60.0], [40.0, 4.0, 50.0, 14.0]])
    pred.scores = torch.tensor([0.9, 0.1])
    pred.labels = torch.tensor([0, 0])
    sample.pred_instances = pred
    vis = CTDetLocalVisualizer(name='test_ct_vis', window='soft_tissue', alpha=1.0,
                               line_width=2)
    vis.add_datasample('s', hu, sample, draw_gt=False, pred_score_thr=0.3)
    img = vis.get_image()
    assert img.shape == (64, 64, 3)
    assert tuple(img[2, 2]) == (0, 0, 0)  # air is black in the soft-tissue window
    assert tuple(img[30, 50]) == (128, 128, 128)  # 40 HU is mid grey
    assert _near(img, 48, 36, (255, 64, 0))  # left edge of the kept box, pred colour
    assert not _near(img, 4, 45, (255, 64, 0), tol=60)  # the 0.1-score box is not drawn
    vis.add_datasample('s', hu, sample, draw_pred=False)
    img = vis.get_image()
    assert not _near(img, 48, 36, (255, 64, 0), tol=60)
    img = vis.get_image()
    assert _near(img, 14, 4, (0, 255, 0))  # ground-truth box
    assert _near(img, 12, 9, (255, 255, 0))  # long RECIST axis
    assert _near(img, 9, 12, (255, 255, 0))  # short RECIST axis
    with pytest.raises(ValueError, match=r'expected an \(H, W\) HU slice'):
        vis.add_datasample('s', np.zeros((2, 2, 2)), sample)
