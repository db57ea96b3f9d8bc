"""FROC table and plot."""
import matplotlib.image as mpimg
import numpy as np

from acsdet.evaluation.functional import (Detections, LesionGT, evaluate_froc, format_froc_table,
                                          plot_froc_curves, resample_curve, sensitivity_at)


def _result():
    gt = LesionGT([0, 1], np.array([[0, 0, 10, 10], [0, 0, 30, 30.]]), [0, 1],
                  lesion_type=[4, 5], long_diameter_mm=[5.0, 40.0], slice_interval=[1.0, 5.0])
    dets = Detections(np.array([[0, 0, 10, 10], [60, 60, 70, 70], [0, 0, 30, 30.]]),
                      [0.9, 0.7, 0.5], [0, 1, 1])
    return evaluate_froc(gt, dets)


def test_table_lists_every_stratum_with_counts():
    lines = format_froc_table(_result()).splitlines()
    assert lines[0].startswith('FROC: 2 images, 2 lesions, 3 detections (1 FP), 0 ignore '
                               'regions; hit: iou >= 0.5')
    assert lines[1].split() == ['stratum', 'lesions', '@0.5', '@1', '@2', '@4', '@8', '@16',
                                'mean@0.5,1,2,4']
    rows = {ln.split()[0]: ln.split()[1:] for ln in lines[3:]}
    assert rows['all'] == ['2'] + ['100.00'] * 7
    assert rows['type/lung'] == ['1'] + ['100.00'] * 7
    assert set(rows) == {'all', 'type/liver', 'type/lung', 'size/<10mm', 'size/>30mm',
                         'interval/<=2mm', 'interval/>=5mm'}


def test_plot_writes_png(tmp_path):
    res = _result()
    out = tmp_path / 'sub' / 'froc.png'
    image = plot_froc_curves([('run', res.overall), ('liver', res.strata['type']['liver'])],
                             out_file=str(out), dpi=50)
    assert image.shape == (250, 350, 3) and image.dtype == np.uint8
    saved = mpimg.imread(str(out))
    assert saved.shape[:2] == (250, 350)
    assert image.std() > 10  # not a blank canvas
    assert [p.name for p in out.parent.iterdir()] == ['froc.png']  # no temp file left


def test_resample_keeps_the_curve_on_its_grid():
    rng = np.random.default_rng(0)
    fps = np.concatenate([[0], np.sort(rng.integers(0, 400, 3000)) / 100])
    sens = np.concatenate([[0], np.sort(rng.random(3000))])
    res = _result()
    curve = res.overall
    curve.fps_per_image, curve.sensitivity = fps, sens
    small = resample_curve(curve, num=64)
    assert len(small.fps_per_image) == 65 and small.fps_per_image[-1] == fps[-1]
    np.testing.assert_allclose(small.sensitivity,
                               sensitivity_at(fps, sens, small.fps_per_image))
    np.testing.assert_array_equal(small.sens_at, curve.sens_at)
