"""tools/infer.py on a NIfTI and a DICOM series written by the test (same phantom), with a
randomly initialised demo-config model saved as a checkpoint (detections are random; the
score threshold is 0 so there are some): slice indices, spacing and mm coordinates round-trip,
both inputs give the same detections, and bad input is a one-line error."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from acsdet.testing.ct_files import SPACING, phantom, write_dicom_series, write_nifti


@pytest.fixture(scope='module')
def infer_tool(repo_root):
    spec = importlib.util.spec_from_file_location('acsdet_infer_tool',
                                                  osp.join(repo_root, 'tools', 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def demo_model(repo_root, tmp_path_factory):
    from acsdet.apis import load_detector
    config = osp.join(repo_root, 'configs', 'acs_maskrcnn_deeplesion_demo.py')
    torch.manual_seed(0)
    model, _ = load_detector(config, None)
    ckpt = str(tmp_path_factory.mktemp('ckpt') / 'random_init.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    return config, ckpt


def _run(tool, config, ckpt, src, out, *extra):
    rc = tool.main([config, ckpt, src, '--out-dir', str(out), '--score-thr', '0',
                    '--no-progress', *extra])
    assert rc == 0
    with open(osp.join(out, 'detections.json')) as f:
        return json.load(f)


@pytest.mark.slow
def test_infer_nifti_and_dicom_round_trip(tmp_path, infer_tool, demo_model):
    config, ckpt = demo_model
    hu = phantom(depth=5)
    nii = write_nifti(str(tmp_path / 'ct.nii.gz'), hu)
    dcm = write_dicom_series(str(tmp_path / 'dcm'), hu)

    a = _run(infer_tool, config, ckpt, nii, tmp_path / 'a', '--slices', '1', '3', '--group-3d',
             '--group-score-thr', '0', '--overlays', '--max-overlays', '2')
    assert a['input_type'] == 'nifti' and a['shape_zyx'] == [5, 96, 80]
    np.testing.assert_allclose(a['spacing_xyz_mm'], SPACING, rtol=1e-6)
    assert [s['slice_index'] for s in a['slices']] == [1, 2, 3]
    img = sitk.ReadImage(nii)
    n = 0
    for s in a['slices']:
        k = s['slice_index']
        np.testing.assert_allclose(s['z_patient_mm'], img.TransformIndexToPhysicalPoint((0, 0, k)))
        scores = [d['score'] for d in s['detections']]
        assert scores == sorted(scores, reverse=True)
        for d in s['detections']:
            n += 1
            x1, y1, x2, y2 = d['bbox']
            np.testing.assert_allclose(d['bbox_mm'], [x1 * SPACING[0], y1 * SPACING[1],
                                                      x2 * SPACING[0], y2 * SPACING[1]],
                                       rtol=1e-6)
            centre = ((x1 + x2) / 2 - 0.5, (y1 + y2) / 2 - 0.5, k)
            np.testing.assert_allclose(
                d['centre_patient_mm'], img.TransformContinuousIndexToPhysicalPoint(centre),
                atol=1e-4)
            back = img.TransformPhysicalPointToContinuousIndex(d['centre_patient_mm'])
            np.testing.assert_allclose(back, centre, atol=1e-4)
            assert 0 <= x1 <= x2 <= 80 and 0 <= y1 <= y2 <= 96
            assert set(d['mask_rle']) == {'size', 'counts'} and d['mask_rle']['size'] == [96, 80]
    assert n > 0
    assert a['lesions_3d'] and all(1 <= c['slices'][0] <= c['slices'][1] <= 3
                                   for c in a['lesions_3d'])
    overlays = sorted((tmp_path / 'a' / 'overlays').glob('slice_*.png'))
    assert 1 <= len(overlays) <= 2

    b = _run(infer_tool, config, ckpt, dcm, tmp_path / 'b', '--slices', '1', '3')
    assert b['input_type'] == 'dicom'
    np.testing.assert_allclose(b['spacing_xyz_mm'], SPACING, rtol=1e-5)
    np.testing.assert_allclose(b['origin_mm'], a['origin_mm'], atol=1e-4)
    for sa, sb in zip(a['slices'], b['slices']):
        assert sa['slice_index'] == sb['slice_index']
        np.testing.assert_allclose([d['bbox'] for d in sa['detections']],
                                   [d['bbox'] for d in sb['detections']], atol=1e-3)


def test_infer_bad_input_is_one_line_error(tmp_path, infer_tool, capsys):
    bad = tmp_path / 'scan.nii.gz'
    bad.write_bytes(b'\x00' * 100)
    rc = infer_tool.main(['unused.py', 'unused.pth', str(bad), '--out-dir', str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and '\n' not in err
    assert err.startswith('error: ') and 'scan.nii.gz: not a readable NIfTI file' in err
    photo = tmp_path / 'photo.jpg'
    import cv2
    cv2.imwrite(str(photo), np.full((8, 8, 3), 128, np.uint8))
    assert infer_tool.main(['unused.py', 'unused.pth', str(photo)]) == 2
    assert '8-bit image has no HU; pass input_type="image"' in capsys.readouterr().err
    assert not (tmp_path / 'detections.json').exists()


def test_infer_npz_without_spacing_is_refused_before_the_model_loads(tmp_path, infer_tool,
                                                                      capsys):
    """A prepared .npz crop may store no spacing: detection cannot place slices or mm, so it
    is refused in one line (the model files are never opened)."""
    crop = tmp_path / 'crop.npz'
    np.savez(crop, image=phantom().astype(np.float32))
    rc = infer_tool.main(['unused.py', 'unused.pth', str(crop), '--out-dir', str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and '\n' not in err
    assert err == (f'error: {crop}: no voxel spacing (a .npz without a spacing array?); '
                   'detection needs the pixel spacing and the slice interval in mm')
    assert not (tmp_path / 'detections.json').exists()
