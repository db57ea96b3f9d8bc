import numpy as np
import pytest

from acsdet.apis import group_detections_3d, slice_stack
from acsdet.fileio import CTVolume


def _volume(interval):
    hu = np.stack([np.full((4, 5), 100.0 * k - 1000, np.float32) for k in range(8)])
    return CTVolume(hu=hu, spacing=(0.7, 0.7, interval))


def test_slice_stack_resamples_to_2mm_with_edge_replication():
    low, high = -1024.0, 2050.0
    norm = lambda v: (v - low) / (high - low)  # noqa: E731
    stack = slice_stack(_volume(1.0), 3, num_slices=3, target_interval=2.0)
    assert stack.shape == (4, 5, 3) and stack.dtype == np.float32
    np.testing.assert_allclose(stack[0, 0], norm(np.array([100.0, 300, 500]) - 1000), atol=1e-6)
    # 5 mm slices: neighbours at +-0.4 slice, linearly interpolated
    stack = slice_stack(_volume(5.0), 3, num_slices=3)
    np.testing.assert_allclose(stack[0, 0], norm(np.array([260.0, 300, 340]) - 1000), atol=1e-5)
    # first slice: the missing neighbour replicates the edge
    stack = slice_stack(_volume(2.0), 0, num_slices=5)
    np.testing.assert_allclose(stack[0, 0], norm(np.array([0.0, 0, 0, 100, 200]) - 1000),
                               atol=1e-6)


def _det(box, score, area=10.0):
    return dict(bbox=box, bbox_mm=box, score=score, area_mm2=area)


def test_group_detections_3d_links_overlapping_boxes_on_consecutive_slices():
    res = [
        dict(slice_index=4, detections=[_det([10, 10, 20, 20], 0.9), _det([50, 50, 60, 60], 0.8)]),
        dict(slice_index=5, detections=[_det([11, 11, 21, 21], 0.7), _det([80, 80, 90, 90], 0.6)]),
        dict(slice_index=6, detections=[_det([12, 12, 22, 22], 0.95, 20.0),
                                        _det([12, 12, 22, 22], 0.2)]),
        dict(slice_index=8, detections=[_det([12, 12, 22, 22], 0.9)]),  # gap: new lesion
    ]
    lesions = group_detections_3d(res, slice_interval=2.0, score_thr=0.5)
    assert [(c['slices'], c['max_score']) for c in lesions] == [
        ([4, 6], 0.95), ([8, 8], 0.9), ([4, 4], 0.8), ([5, 5], 0.6)]
    assert lesions[0]['members'] == [[4, 0], [5, 0], [6, 0]]
    assert lesions[0]['volume_mm3'] == pytest.approx((10 + 10 + 20) * 2.0)
