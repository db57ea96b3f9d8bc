"""The geometry steps of acsdet.fileio.volume_io: reorientation to the axial 'LPS' convention
(checked against SimpleITK's DICOMOrient for all 48 axis-aligned layouts), its inverse, the
oblique refusal, the DICOM slice-position check (by hand), and the finite-voxel check of every
format (SimpleITK's NIfTI reader turns NaN into 0: the raw data is checked)."""
import itertools

import numpy as np
import pytest
import SimpleITK as sitk

from acsdet.datasets.transforms import LoadVolumeFromFile
from acsdet.fileio import (CTVolume, check_geometry, check_slice_positions, orient_axial,
                           orient_back, orientation_code, read_volume, slice_plane)
from acsdet.testing.ct_files import (ORIGIN, SPACING, asymmetric_phantom, write_dicom_series,
                                     write_nifti)

LAYOUTS = [(p, f) for p in itertools.permutations(range(3))
           for f in itertools.product((False, True), repeat=3)]


def test_orient_axial_is_dicomorient_lps_for_every_axis_aligned_layout(tmp_path):
    hu = asymmetric_phantom(depth=4, height=12, width=10)
    for permute, flip in LAYOUTS:
        path = write_nifti(str(tmp_path / 'v.nii'), hu, permute=permute, flip=flip)
        image = sitk.ReadImage(path)
        volume = read_volume(path)
        assert volume.orientation == orientation_code(volume.direction) == \
            sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection())
        ref = sitk.DICOMOrient(image, 'LPS')
        out = orient_axial(volume)
        layout = f'permute={permute} flip={flip}'
        np.testing.assert_array_equal(out.hu, sitk.GetArrayFromImage(ref), err_msg=layout)
        np.testing.assert_array_equal(out.hu, hu, err_msg=layout)  # the axial anatomy
        np.testing.assert_allclose(out.origin, ref.GetOrigin(), atol=1e-4, err_msg=layout)
        np.testing.assert_allclose(out.origin, ORIGIN, atol=1e-4, err_msg=layout)
        np.testing.assert_allclose(out.direction.ravel(), ref.GetDirection(), atol=1e-6)
        np.testing.assert_allclose(out.spacing, SPACING, rtol=1e-6, err_msg=layout)
        assert out.orientation == 'LPS' and slice_plane(out.direction) == 'axial'
        # every voxel keeps its patient position; orient_back is the exact inverse
        idx = np.array([[1.0, 2.0, 3.0], [9.0, 11.0, 0.0]])
        back = volume.physical_to_index(out.index_to_physical(idx))
        np.testing.assert_allclose(
            [volume.hu[tuple(np.round(b).astype(int)[::-1])] for b in back],
            [out.hu[tuple(i.astype(int)[::-1])] for i in idx])
        np.testing.assert_array_equal(orient_back(out.hu, volume), volume.hu)
        assert read_volume(path, orient=True).hu.tobytes() == out.hu.tobytes()


def test_default_read_keeps_the_file_order_as_training_does(tmp_path):
    hu = asymmetric_phantom(depth=4, height=12, width=10)
    path = write_nifti(str(tmp_path / 'ras.nii.gz'), hu, flip=(True, True, False))
    stored = sitk.GetArrayFromImage(sitk.ReadImage(path))
    volume = read_volume(path)
    assert volume.orientation == 'RAS'
    np.testing.assert_array_equal(volume.hu, stored)
    res = LoadVolumeFromFile(with_label=False)(dict(img_path=path))
    np.testing.assert_array_equal(res['img'][0], stored)
    np.testing.assert_array_equal(read_volume(path, orient=True).hu, hu)
    oriented = read_volume(path, orient=True)
    assert orient_axial(oriented) is oriented  # already in the convention: no copy


def test_already_axial_volume_is_returned_as_is_and_channels_stay_first():
    vol = CTVolume(hu=np.zeros((2, 3, 4), np.float32), spacing=(1.0, 1.0, 2.0))
    assert orient_axial(vol) is vol
    hu = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    multi = CTVolume(hu=hu, spacing=(0.5, 0.6, 2.0), direction=np.diag([1.0, 1.0, -1.0]),
                     origin=(0.0, 0.0, 10.0), slice_numbers=[7, 8, 9])
    out = orient_axial(multi)
    np.testing.assert_array_equal(out.hu, hu[:, ::-1])
    assert out.slice_numbers == [9, 8, 7] and out.origin == (0.0, 0.0, 6.0)
    np.testing.assert_array_equal(orient_back(out.hu, multi), hu)


def test_small_tilt_is_kept_and_oblique_is_refused():
    def tilted(deg):
        a = np.radians(deg)
        rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        return CTVolume(hu=np.zeros((2, 3, 4), np.float32), spacing=(1.0, 1.0, 2.0),
                        direction=rot @ np.diag([1.0, -1.0, 1.0]), path='t.nii')
    small = tilted(0.5)
    out = orient_axial(small)
    np.testing.assert_allclose(out.index_to_physical([1, 2, 1]),
                               small.index_to_physical([1, 3 - 1 - 2, 1]))
    assert abs(out.direction[1, 1] - np.cos(np.radians(0.5))) < 1e-12
    with pytest.raises(ValueError, match=r'^t\.nii: oblique volume: index axis y \(rows\) is '
                                         r'2\.0 degrees off the nearest patient axis'):
        orient_axial(tilted(2.0))
    assert orient_axial(tilted(2.0), tolerance_deg=3.0).orientation == 'LPS'


def test_slice_positions_by_hand():
    names = [f'f{k}' for k in range(5)]
    assert check_slice_positions([0, 2.5, 5, 7.5, 10], names, 'S') == pytest.approx(2.5)
    assert check_slice_positions([0, 2.52, 4.98, 7.5, 10], names, 'S') == pytest.approx(2.5)
    assert check_slice_positions([3.0], names[:1], 'S') is None
    # 1 % of a 10 mm step (0.1 mm) is the tolerance, not 0.05 mm
    assert check_slice_positions([0, 10.08, 20, 30, 40], names, 'S') == pytest.approx(10)
    with pytest.raises(ValueError, match=r'^S: uneven slice spacing: f1 \(slice 1 of 5\) is at '
                                         r'2\.560 mm, \+0\.060 mm off the uniform 2\.500 mm'):
        check_slice_positions([0, 2.56, 5, 7.5, 10], names, 'S')
    with pytest.raises(ValueError, match=r'^S: duplicated slice: f0 and f1 \(slices 0 and 1 of '
                                         r'5\) are both at 0\.000 mm'):
        check_slice_positions([0, 0.01, 2.5, 5, 7.5], names, 'S')
    with pytest.raises(ValueError, match=r'^S: missing slice: a 7\.500 mm gap between f3 '
                                         r'\(7\.500 mm\) and f4 \(15\.000 mm\) \(slices 3 and 4 '
                                         r'of 5\), 3\.0x the median step 2\.500 mm: about 2 '):
        check_slice_positions([0, 2.5, 5, 7.5, 15], names, 'S')


def test_dicom_positions_within_tolerance_read_as_before(tmp_path):
    hu = asymmetric_phantom(depth=5, height=12, width=10)
    z = [20.0, 25.02, 29.98, 35.0, 40.0]  # DICOM rounding: within 0.05 mm of the grid
    vol = read_volume(write_dicom_series(str(tmp_path / 'ok'), hu, z_positions=z))
    np.testing.assert_array_equal(vol.hu, hu)
    np.testing.assert_allclose(vol.spacing, (0.7, 0.8, 5.0), rtol=1e-6)


def test_dicom_slices_of_another_orientation_are_refused(tmp_path):
    hu = asymmetric_phantom(depth=3, height=12, width=10)
    folder = write_dicom_series(str(tmp_path / 'mixed'), hu)
    img = sitk.GetImageFromArray(hu[1].astype(np.int16))
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(tmp_path / 'mixed' / 'slice_001.dcm'))
    reader.ReadImageInformation()
    for key in reader.GetMetaDataKeys():
        img.SetMetaData(key, reader.GetMetaData(key))
    img.SetMetaData('0020|0037', '1\\0\\0\\0\\0.9848078\\-0.1736482')  # tilted 10 degrees
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    writer.SetFileName(str(tmp_path / 'mixed' / 'slice_001.dcm'))
    writer.Execute(img)
    with pytest.raises(ValueError, match=r'mixed: slices differ in orientation: slice_000\.dcm '
                                         r'has ImageOrientationPatient \[1\.0, 0\.0, 0\.0, 0\.0, '
                                         r'1\.0, 0\.0\], slice_001\.dcm has'):
        read_volume(folder)


def _nan_volume():
    hu = asymmetric_phantom(depth=3, height=8, width=6).astype(np.float32)
    hu[0, 1, 2] = np.nan
    hu[1, 2, 3] = np.nan
    hu[2, 3, 4] = -np.inf
    return hu


@pytest.mark.parametrize('suffix, dtype', [('.nii', np.float32), ('.nii.gz', np.float64),
                                           ('.mha', np.float32), ('.nrrd', np.float64),
                                           ('.npz', np.float32)])
def test_non_finite_voxels_are_refused_in_every_format(tmp_path, suffix, dtype):
    hu = _nan_volume().astype(dtype)
    path = str(tmp_path / f'v{suffix}')
    if suffix == '.npz':
        np.savez(path, image=hu)
    else:
        sitk.WriteImage(sitk.GetImageFromArray(hu), path)
    message = f'{path}: volume holds NaN or infinite values (2 NaN and 1 infinite of 144 voxels)'
    for kwargs in (dict(), dict(dtype=None), dict(dtype=np.int16, check_hu=False),
                   dict(orient=True)):  # before the cast: NaN cast to int16 is arbitrary
        with pytest.raises(ValueError) as err:
            read_volume(path, **kwargs)
        assert str(err.value) == message, kwargs
    with pytest.raises(ValueError) as err:  # the training reader too
        LoadVolumeFromFile(with_label=False)(dict(img_path=path))
    assert str(err.value) == message


def test_check_geometry_of_a_volume_built_in_memory():
    good = CTVolume(hu=np.zeros((2, 3, 4), np.float32), spacing=(1.0, 1.0, 2.0), path='m')
    check_geometry(good)
    with pytest.raises(ValueError, match=r'^m: volume holds NaN or infinite values \(1 NaN '):
        check_geometry(CTVolume(hu=np.array([[[np.nan]]]), spacing=(1, 1, 1), path='m'))
    with pytest.raises(ValueError, match=r'^m: voxel spacing \(1\.0, 0\.0, 2\.0\) is missing'):
        check_geometry(CTVolume(hu=good.hu, spacing=(1.0, 0.0, 2.0), path='m'))
    with pytest.raises(ValueError, match=r'^m: origin \[0\.0, nan, 0\.0\] is not 3 finite'):
        check_geometry(CTVolume(hu=good.hu, spacing=(1, 1, 1), origin=(0, np.nan, 0), path='m'))
    with pytest.raises(ValueError, match=r'^m: direction .* is not a valid 3x3 direction'):
        check_geometry(CTVolume(hu=good.hu, spacing=(1, 1, 1), direction=np.zeros((3, 3)),
                                path='m'))
