"""SurfaceDistanceMetric: HD95 / ASSD in mm (MONAI's), spacing honoured, empty conventions."""
import math

import numpy as np
import pytest

from acsdet.evaluation.metrics import BRATS_REGIONS, SurfaceDistanceMetric, surface_distances


def _cube(shape, lo, hi, label=1):
    out = np.zeros(shape, np.int64)
    out[tuple(slice(a, b) for a, b in zip(lo, hi))] = label
    return out


def _run(metric, pairs):
    metric.process(None, [dict(pred_sem_seg=p, gt_sem_seg=g, **({'spacing': s} if s else {}))
                          for p, g, s in pairs])
    return metric.compute_metrics(metric.results)


def test_single_voxels_k_apart_anisotropic_spacing():
    """Two one-voxel objects k voxels apart along an axis of spacing s: every surface
    distance is k * s, so HD95 = ASSD = k * s."""
    shape = (6, 8, 10)
    for axis, spacing in ((0, (3.0, 0.5, 0.7)), (2, (3.0, 0.5, 0.7)), (1, (1.0, 2.0, 1.0))):
        p, g = np.zeros(shape, bool), np.zeros(shape, bool)
        p[1, 1, 1] = True
        idx = [1, 1, 1]
        idx[axis] += 4
        g[tuple(idx)] = True
        d = surface_distances(p, g, spacing)
        assert d['hd'] == pytest.approx(4 * spacing[axis])
        assert d['assd'] == pytest.approx(4 * spacing[axis])


def test_cube_shifted_by_k_voxels():
    """A 4^3 cube and its copy shifted by k along W: the Hausdorff distance (100th percentile)
    is k * spacing_w; identical cubes give 0."""
    shape = (12, 12, 16)
    gt = _cube(shape, (4, 4, 4), (8, 8, 8)).astype(bool)
    for k, sw in ((1, 1.0), (2, 1.0), (3, 0.5)):
        pred = _cube(shape, (4, 4, 4 + k), (8, 8, 8 + k)).astype(bool)
        d = surface_distances(pred, gt, (2.0, 1.5, sw), percentile=100)
        assert d['hd'] == pytest.approx(k * sw)
        assert 0 < d['assd'] < k * sw  # faces parallel to the shift are at distance 0
    d = surface_distances(gt, gt, (1.0, 1.0, 1.0))
    assert d['hd'] == 0 and d['assd'] == 0


def test_metric_keys_means_and_empty_conventions():
    shape = (8, 8, 8)
    spacing = (2.0, 1.0, 1.0)
    gt = _cube(shape, (2, 2, 2), (3, 3, 3))          # class 1: one voxel
    pred = _cube(shape, (2, 2, 5), (3, 3, 6))        # 3 voxels away along W (1 mm)
    gt2 = gt.copy()
    gt2[6, 6, 6] = 2                                 # class 2 missed by the prediction
    diagonal = math.sqrt(16**2 + 8**2 + 8**2)
    m = _run(SurfaceDistanceMetric(num_classes=3), [(pred, gt, spacing), (pred, gt2, spacing)])
    assert m['hd95/class_1'] == pytest.approx(3.0) and m['assd/class_1'] == pytest.approx(3.0)
    # case 1: class 2 empty in both (left out); case 2: missed -> the diagonal
    assert m['hd95/class_2'] == pytest.approx(diagonal)
    assert m['hd95/mean'] == pytest.approx((3.0 + diagonal) / 2)
    # a fixed penalty, or leave such cases out
    m = _run(SurfaceDistanceMetric(num_classes=3, empty_distance=100.0), [(pred, gt2, spacing)])
    assert m['hd95/class_2'] == 100.0
    m = _run(SurfaceDistanceMetric(num_classes=3, empty_distance=None), [(pred, gt2, spacing)])
    assert math.isnan(m['hd95/class_2']) and m['hd95/mean'] == pytest.approx(3.0)


def test_regions_and_missing_spacing():
    shape = (6, 6, 6)
    gt = _cube(shape, (1, 1, 1), (3, 3, 3), label=3)  # enhancing tumour only
    pred = _cube(shape, (1, 1, 1), (3, 3, 3), label=1)
    m = _run(SurfaceDistanceMetric(num_classes=4, regions=BRATS_REGIONS), [(pred, gt, None)])
    # WT and TC: the same voxels (0 mm); ET: predicted nowhere -> the diagonal in voxels
    assert m['hd95/WT'] == 0 and m['hd95/TC'] == 0
    assert m['hd95/ET'] == pytest.approx(math.sqrt(3 * 36))
    assert math.isnan(m['hd95/class_2'])  # oedema: in neither


def test_bad_options_and_inputs():
    with pytest.raises(ValueError, match='num_classes must be >= 2'):
        SurfaceDistanceMetric(num_classes=1)
    with pytest.raises(ValueError, match=r'percentile must be in \(0, 100\], got 0'):
        SurfaceDistanceMetric(num_classes=2, percentile=0)
    with pytest.raises(ValueError, match="empty_distance must be 'diagonal'"):
        SurfaceDistanceMetric(num_classes=2, empty_distance='max')
    m = SurfaceDistanceMetric(num_classes=2)
    with pytest.raises(ValueError, match=r'spacing \[0.0, 1.0, 1.0\] does not fit'):
        m.process(None, [dict(pred_sem_seg=np.ones((2, 2, 2)), gt_sem_seg=np.ones((2, 2, 2)),
                              spacing=[0.0, 1.0, 1.0])])


@pytest.mark.parametrize('base,regions', [('brats18', True), ('promise12_prostate', False),
                                          ('lits_liver_tumor', False), ('lidc_nodules', False)])
def test_real_data_configs_report_surface_distances(repo_root, base, regions):
    from mmengine.config import Config

    from acsdet.apis import register_all_modules
    from acsdet.registry import METRICS
    register_all_modules()
    cfg = Config.fromfile(f'{repo_root}/configs/_base_/datasets/{base}.py')
    metrics = [METRICS.build(e) for e in cfg.val_evaluator]
    surface = [m for m in metrics if isinstance(m, SurfaceDistanceMetric)]
    assert len(surface) == 1 and surface[0].num_classes == cfg.num_classes
    assert ('WT' in surface[0].targets) == regions
    # one perfect case: every reported distance 0
    gt = np.zeros((4, 6, 6), np.int64)
    gt[1:3, 1:4, 1:4] = 1
    out = _run(surface[0], [(gt, gt, (2.5, 0.8, 0.8))])
    assert out['hd95/class_1'] == 0 and out['assd/class_1'] == 0
