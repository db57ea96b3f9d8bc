"""Volume geometry (issue 18, class 1): the same anatomy stored axial, with a flipped axis
(negative-determinant direction), RAS-like, slice order reversed, as a sagittal or coronal
acquisition, and as a DICOM series gives the same detections in patient coordinates; bad
DICOM slice positions, NaN voxels, oblique volumes and non-axial slices are one-line errors
before any model work; in-plane anisotropic spacing is resampled for the model only.

Two detectors: a stand-in that boxes the bright nodule of the key slice (fast; its boxes have
a known true patient position, so the coordinates are checked against the phantom, not only
against each other) and, marked slow, the random-init demo detector at score threshold 0
(its scores and centres must agree between the layouts).
"""
import os.path as osp

import cv2
import numpy as np
import pytest
import SimpleITK as sitk
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from acsdet.apis import (check_detection_geometry, infer_volume, load_detector,
                         register_all_modules)
from acsdet.fileio import CTVolume, read_volume
from acsdet.testing.ct_files import (ORIGIN, SPACING, asymmetric_phantom, phantom,
                                     write_dicom_series, write_nifti)

CONFIG = 'configs/acs_maskrcnn_deeplesion_demo.py'
# the demo config's LoadDeepLesionSlices window (read from the config, so the stand-in's HU
# threshold follows it)
HU_RANGE = tuple(Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), CONFIG)).test_pipeline[0].hu_range)

# name -> (write_nifti's permute, flip, read with orient=True): the same anatomy, another layout
NIFTI_LAYOUTS = {
    'axial': (None, None, False),
    'flipped_rows': (None, (False, True, False), False),      # det -1: rows posterior -> anterior
    'slices_superior_to_inferior': (None, (False, False, True), False),  # det -1
    'ras_like': (None, (True, True, False), False),           # as many NIfTI writers store it
    'rows_and_columns_swapped': ((1, 0, 2), None, False),     # 'PLS', det -1
    'flipped_rows_oriented': (None, (False, True, False), True),
    'sagittal': ((1, 2, 0), (False, True, False), True),      # 'PIL': slices along L-R
    'coronal': ((0, 2, 1), (False, True, False), True),       # 'LIP': slices along A-P
}


def _nodule_centres(slices, spacing=SPACING, origin=ORIGIN):
    """True patient centres (mm) of the box around phantom()'s nodule (rows 40-49, columns
    30-43) on each of its axial slices."""
    return np.array([[origin[0] + 36.5 * spacing[0], origin[1] + 44.5 * spacing[1],
                      origin[2] + k * spacing[2]] for k in slices])


class BrightSpotDetector(torch.nn.Module):
    """Stands in for the detector: one detection (score 1) whose mask is the key slice's
    pixels above ``hu_thr`` and whose box bounds them, on the stack's original size
    (``ori_shape``), as mmdet's rescaled predictions are.  Records what the model saw."""

    def __init__(self, hu_thr: float) -> None:
        super().__init__()
        self.thr = (hu_thr - HU_RANGE[0]) / (HU_RANGE[1] - HU_RANGE[0])
        self.seen, self.inputs = [], []

    def test_step(self, data):
        outs = []
        for x, sample in zip(data['inputs'], data['data_samples']):
            key = x[0, x.shape[1] // 2].float().numpy()  # (H', W') resized key slice
            h0, w0 = sample.metainfo['ori_shape']
            mask = cv2.resize(key, (w0, h0), interpolation=cv2.INTER_LINEAR) > self.thr
            inst = InstanceData()
            if mask.any():
                ys, xs = np.nonzero(mask)
                box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                inst.bboxes = torch.tensor([box], dtype=torch.float32)
                inst.scores = torch.ones(1)
                inst.labels = torch.zeros(1, dtype=torch.long)
                inst.masks = torch.from_numpy(mask[None])
            else:
                inst.bboxes = torch.zeros((0, 4))
                inst.scores = torch.zeros(0)
                inst.labels = torch.zeros(0, dtype=torch.long)
                inst.masks = torch.zeros((0, h0, w0), dtype=torch.bool)
            self.seen.append(((h0, w0), [b.tolist() for b in inst.bboxes]))
            self.inputs.append(x[0].float().numpy())  # (D, H', W')
            sample.pred_instances = inst
            outs.append(sample)
        return outs


@pytest.fixture(scope='module')
def demo_cfg(repo_root):
    register_all_modules()
    return Config.fromfile(osp.join(repo_root, CONFIG))


def _layout_volume(tmp_path, name, hu):
    if name.startswith('dicom'):
        if name == 'dicom_files_reversed':  # file k holds the (D-1-k)th slice: GDCM sorts
            z = [ORIGIN[2] + k * SPACING[2] for k in range(hu.shape[0])][::-1]
            return read_volume(write_dicom_series(str(tmp_path / name), hu[::-1], z_positions=z))
        return read_volume(write_dicom_series(str(tmp_path / name), hu))
    permute, flip, orient = NIFTI_LAYOUTS[name]
    path = write_nifti(str(tmp_path / f'{name}.nii.gz'), hu, permute=permute, flip=flip)
    return read_volume(path, orient=orient)


def _check_on_volume_grid(volume, results):
    """Every output refers to ``volume``'s own grid: boxes inside the slice, masks of its
    size, centres = index_to_physical of the box centre, z of the slice."""
    h, w = volume.hu.shape[1:]
    for res in results:
        k = res['slice_index']
        np.testing.assert_allclose(res['z_patient_mm'], volume.index_to_physical([0, 0, k]))
        for det in res['detections']:
            x1, y1, x2, y2 = det['bbox']
            assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h
            assert det['mask_rle']['size'] == [h, w]
            np.testing.assert_allclose(
                det['centre_patient_mm'],
                volume.index_to_physical([(x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5, k]),
                atol=1e-6)


@pytest.mark.parametrize('name', [*NIFTI_LAYOUTS, 'dicom', 'dicom_files_reversed'])
def test_every_layout_finds_the_nodule_at_its_true_patient_position(tmp_path, demo_cfg, name):
    hu = phantom()  # nodule on axial slices 2-4
    volume = _layout_volume(tmp_path, name, hu)
    model = BrightSpotDetector(hu_thr=80)
    results = infer_volume(model, demo_cfg, volume, progress=False)
    _check_on_volume_grid(volume, results)
    # the model saw the same stacks as for the axial file (radiological view, slices
    # inferior -> superior in the stack), whatever the layout
    axial = BrightSpotDetector(hu_thr=80)
    infer_volume(axial, demo_cfg, _layout_volume(tmp_path, 'axial', hu), progress=False)
    order = [volume.index_to_physical([0, 0, r['slice_index']])[2] for r in results]
    seen = [model.inputs[i] for i in np.argsort(order, kind='stable')]
    for got, want in zip(seen, axial.inputs):
        np.testing.assert_array_equal(got, want)
    found = sorted((d['centre_patient_mm'] for r in results for d in r['detections']),
                   key=lambda c: c[2])
    # within a voxel in-plane (the key slice goes through the pipeline's Resize and back)
    np.testing.assert_allclose(found, _nodule_centres([2, 3, 4]), atol=max(SPACING[:2]))
    areas = [d['area_mm2'] for r in results for d in r['detections']]
    np.testing.assert_allclose(areas, 10 * 14 * SPACING[0] * SPACING[1], rtol=0.2)


def test_non_axial_slices_are_refused_unless_oriented(tmp_path):
    path = write_nifti(str(tmp_path / 'sag.nii.gz'), phantom(), permute=(1, 2, 0),
                       flip=(False, True, False))
    volume = read_volume(path)
    assert volume.orientation == 'PIL' and volume.hu.shape == (80, 6, 96)
    with pytest.raises(ValueError) as err:
        check_detection_geometry(volume)
    assert str(err.value) == (
        f'{path}: the slices are sagittal (orientation PIL); detection runs on axial slices: '
        'read the volume with read_volume(..., orient=True) (or pass it through '
        'acsdet.fileio.orient_axial) first')
    oriented = read_volume(path, orient=True)
    assert oriented.orientation == 'LPS'
    np.testing.assert_array_equal(oriented.hu, phantom())
    np.testing.assert_allclose(oriented.origin, ORIGIN, atol=1e-4)
    check_detection_geometry(oriented)


def test_oblique_volume_is_refused(tmp_path):
    img = sitk.GetImageFromArray(phantom())
    img.SetSpacing(SPACING)
    angle = np.radians(10.0)  # a 10 degree gantry-like tilt about the x axis
    img.SetDirection((1, 0, 0, 0, np.cos(angle), -np.sin(angle), 0, np.sin(angle),
                      np.cos(angle)))
    path = str(tmp_path / 'tilted.nii.gz')
    sitk.WriteImage(img, path)
    direction = np.round(read_volume(path).direction, 4).ravel().tolist()
    message = (f'{path}: oblique volume: index axis y (rows) is 10.0 degrees off the nearest '
               f'patient axis (direction {direction}), over the 1 degree tolerance: oblique '
               'volumes are not reoriented; resample it onto an axial grid first')
    with pytest.raises(ValueError) as err:
        read_volume(path, orient=True)
    assert str(err.value) == message
    with pytest.raises(ValueError) as err:
        check_detection_geometry(read_volume(path))
    assert str(err.value) == message


def _series(tmp_path, name, z):
    return write_dicom_series(str(tmp_path / name), phantom(depth=len(z), height=16, width=12),
                              z_positions=z)


@pytest.mark.parametrize('name, z, message', [
    ('missing', [20, 25, 30, 40, 45, 50],
     'missing slice: a 10.000 mm gap between slice_002.dcm (30.000 mm) and slice_003.dcm '
     '(40.000 mm) (slices 2 and 3 of 6), 2.0x the median step 5.000 mm: about 1 slice(s) '
     'missing'),
    ('duplicated', [20, 25, 30, 35, 35, 40],
     'duplicated slice: slice_003.dcm and slice_004.dcm (slices 3 and 4 of 6) are both at '
     '35.000 mm along the slice normal; remove one of them'),
    ('uneven', [20, 25, 31, 35, 40, 45],
     'uneven slice spacing: slice_002.dcm (slice 2 of 6) is at 31.000 mm, +1.000 mm off the '
     'uniform 5.000 mm grid from 20.000 to 45.000 mm (steps 4.000 to 6.000 mm, tolerance '
     '0.050 mm)'),
])
def test_bad_dicom_slice_positions_are_one_line_before_the_pixels(tmp_path, capfd, name, z,
                                                                  message):
    folder = _series(tmp_path, name, z)
    capfd.readouterr()
    with pytest.raises(ValueError) as err:
        read_volume(folder)
    assert str(err.value) == f'{folder}: {message}'
    assert 'WARNING' not in capfd.readouterr().err  # refused before SimpleITK's series read
    # the check can be skipped (SimpleITK's uniform grid, as before)
    assert read_volume(folder, check_slices=False).hu.shape == (6, 16, 12)


def test_nan_voxels_are_counted_in_one_line(tmp_path):
    hu = phantom().astype(np.float32)
    hu[1, 2, 3:6] = np.nan
    hu[4, 5, 6] = np.inf
    hu[0, 0, 0] = -np.inf
    path = write_nifti(str(tmp_path / 'nan.nii.gz'), hu)
    message = (f'{path}: volume holds NaN or infinite values (3 NaN and 2 infinite of '
               f'{hu.size} voxels)')
    with pytest.raises(ValueError) as err:
        read_volume(path, orient=True)
    assert str(err.value) == message
    with pytest.raises(ValueError) as err:  # also for a volume built in memory
        check_detection_geometry(CTVolume(hu=hu, spacing=SPACING, path='mem'))
    assert str(err.value) == 'mem: volume holds NaN or infinite values (3 NaN and 2 ' \
                             f'infinite of {hu.size} voxels)'


def test_anisotropic_in_plane_spacing_is_resampled_for_the_model(tmp_path, demo_cfg):
    """sx = 0.5, sy = 1.0 mm: a round 16 mm nodule is 32 x 16 pixels in the file; the model
    sees square 0.5 mm pixels (twice the rows, the nodule round), and the detection comes
    back on the file's grid with the true mm."""
    spacing, origin = (0.5, 1.0, 2.0), (10.0, -20.0, 0.0)
    hu = np.full((3, 40, 60), -1000, np.int16)
    hu[:, 5:35, 5:55] = 40
    yy, xx = np.mgrid[:40, :60]
    centre = (30.0, 20.0)  # (x, y) pixel centre of the nodule
    hu[1][((xx - centre[0]) * spacing[0]) ** 2 + ((yy - centre[1]) * spacing[1]) ** 2 <= 64] = 200
    volume = read_volume(write_nifti(str(tmp_path / 'aniso.nii.gz'), hu, spacing, origin))
    model = BrightSpotDetector(hu_thr=120)
    results = infer_volume(model, demo_cfg, volume, slices=[1], progress=False)
    (shape, boxes), = model.seen
    assert shape == (80, 60)  # rows resampled to 0.5 mm
    (x1, y1, x2, y2), = boxes
    assert abs((x2 - x1) - (y2 - y1)) <= 2  # round on the model's grid
    _check_on_volume_grid(volume, results)
    det, = results[0]['detections']
    bx1, by1, bx2, by2 = det['bbox_mm']
    np.testing.assert_allclose([bx2 - bx1, by2 - by1], [16.0, 16.0], atol=1.5)
    np.testing.assert_allclose(det['long_diameter_mm'], 16.0, atol=1.5)
    np.testing.assert_allclose(det['centre_patient_mm'],
                               [origin[0] + centre[0] * spacing[0],
                                origin[1] + centre[1] * spacing[1], origin[2] + spacing[2]],
                               atol=spacing[1])


@pytest.fixture(scope='module')
def random_detector(repo_root, tmp_path_factory):
    """The demo config's random-init detector saved as a checkpoint and loaded back at score
    threshold 0 (keeping the 20 best per slice, for speed)."""
    config = osp.join(repo_root, CONFIG)
    torch.manual_seed(0)
    model, _ = load_detector(config, None)
    ckpt = str(tmp_path_factory.mktemp('ckpt') / 'random_init.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    cfg = Config.fromfile(config)
    cfg.model.test_cfg.rcnn.max_per_img = 20
    return load_detector(cfg, ckpt, score_thr=0)


@pytest.mark.slow
def test_random_detector_gives_the_same_detections_in_patient_space(tmp_path, random_detector):
    model, cfg = random_detector
    hu = asymmetric_phantom(depth=6)
    axial_z = [ORIGIN[2] + k * SPACING[2] for k in (2, 3)]
    found = {}
    for name in ('axial', 'flipped_rows', 'sagittal', 'dicom'):
        volume = _layout_volume(tmp_path, name, hu)
        slices = [int(round(volume.physical_to_index([ORIGIN[0], ORIGIN[1], z])[2]))
                  for z in axial_z]
        results = infer_volume(model, cfg, volume, slices=sorted(slices), progress=False)
        _check_on_volume_grid(volume, results)
        dets = sorted((round(d['centre_patient_mm'][2], 2), -d['score'], *d['centre_patient_mm'])
                      for r in results for d in r['detections'])
        found[name] = np.array(dets)
    ref = found['axial']
    assert len(ref) == 40
    for name, dets in found.items():
        assert dets.shape == ref.shape, name
        np.testing.assert_allclose(dets[:, 1], ref[:, 1], atol=1e-5, err_msg=name)  # scores
        np.testing.assert_allclose(dets[:, 2:], ref[:, 2:], atol=1e-3, err_msg=name)  # mm


def test_segment_volume_orient_option_maps_the_labels_back(tmp_path):
    """``segment_volume(..., orient=True)`` runs the network on the axial 'LPS' array and gives
    the labels back on the file's grid; the default keeps the file's voxel order (as the
    segmentors are trained)."""
    from mmengine.registry import DefaultScope
    from mmengine.structures import BaseDataElement

    from acsdet.apis import segment_volume

    class Threshold(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv3d(1, 2, 1)
            self.seen = []

        def test_step(self, data):
            x = data['inputs'][0]
            self.seen.append(x[0].numpy().copy())
            out = data['data_samples'][0]
            out.pred_sem_seg = BaseDataElement(data=(x[0] > 100).long())
            return [out]

    hu = asymmetric_phantom(depth=5, height=12, width=10)
    path = write_nifti(str(tmp_path / 'sag.nii.gz'), hu, permute=(1, 2, 0),
                       flip=(False, True, False))
    volume = read_volume(path)
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        pipeline=[dict(type='LoadVolumeFromFile'), dict(type='PackVolumeInputs')]))))
    model = Threshold()
    with DefaultScope.overwrite_default_scope('acsdet'):
        as_stored = segment_volume(model, cfg, volume)
        oriented = segment_volume(model, cfg, volume, orient=True)
    np.testing.assert_array_equal(model.seen[0], volume.hu)
    np.testing.assert_array_equal(model.seen[1], hu)  # the axial anatomy
    np.testing.assert_array_equal(oriented, as_stored)  # back on the file's grid
    np.testing.assert_array_equal(oriented, volume.hu > 100)
