"""A small HU volume and a ``detections.json``-like result with known findings."""
import numpy as np
import pytest

from acsdet.apis import recist_from_mask

SPACING = (0.7, 0.8, 2.0)


def _rle(mask):
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')}


def make_detection(shape, box, score, spacing=SPACING):
    """A detection dict as tools/infer.py writes it, with an elliptic mask filling ``box``."""
    h, w = shape
    x1, y1, x2, y2 = box
    yy, xx = np.mgrid[:h, :w]
    cx, cy, rx, ry = (x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5, (x2 - x1) / 2, (y2 - y1) / 2
    mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    det = dict(bbox=[float(v) for v in box],
               bbox_mm=[x1 * spacing[0], y1 * spacing[1], x2 * spacing[0], y2 * spacing[1]],
               score=float(score), label=0, mask_rle=_rle(mask),
               area_mm2=float(mask.sum()) * spacing[0] * spacing[1])
    det.update(recist_from_mask(mask, spacing[:2]))
    return det


@pytest.fixture
def ct_result():
    """(hu (4, 96, 80), result): 5 findings on slices 1..3, one grouped 3D candidate."""
    hu = np.full((4, 96, 80), -1000, np.float32)
    hu[:, 20:80, 10:70] = 40
    hu[1:4, 40:52, 30:46] = 150
    shape = hu.shape[1:]
    slices = [
        dict(slice_index=0, slice_number=0, detections=[]),
        dict(slice_index=1, slice_number=1, detections=[
            make_detection(shape, (30, 40, 46, 52), 0.9), make_detection(shape, (0, 0, 8, 10),
                                                                         0.2)]),
        dict(slice_index=2, slice_number=2, detections=[
            make_detection(shape, (29, 39, 47, 53), 0.95),
            make_detection(shape, (60, 70, 78, 94), 0.5)]),
        dict(slice_index=3, slice_number=3, detections=[make_detection(shape, (31, 41, 45, 51),
                                                                       0.7)]),
    ]
    result = dict(input='/data/<script>alert(1)</script>scan.nii.gz', input_type='nifti',
                  shape_zyx=list(hu.shape), spacing_xyz_mm=list(SPACING),
                  config='configs/demo&.py', checkpoint='ckpt"<b>.pth', slices=slices,
                  lesions_3d=[dict(slices=[1, 3], num_slices=3, max_score=0.95,
                                   volume_mm3=1234.5, members=[[1, 0], [2, 0], [3, 0]])])
    return hu, result
