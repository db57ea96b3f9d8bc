import os.path as osp

import cv2
import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from acsdet.fileio import read_volume
from acsdet.fileio.deeplesion_png import write_hu_png
from acsdet.testing.ct_files import ORIGIN, SPACING, phantom, write_dicom_series, write_nifti


def test_nifti_hu_spacing_origin_and_physical_round_trip(tmp_path):
    hu = phantom()
    path = write_nifti(str(tmp_path / 'v.nii.gz'), hu)
    vol = read_volume(path)
    assert vol.input_type == 'nifti'
    np.testing.assert_array_equal(vol.hu, hu)
    np.testing.assert_allclose(vol.spacing, SPACING, rtol=1e-6)
    np.testing.assert_allclose(vol.origin, ORIGIN)
    img = sitk.ReadImage(path)
    idx = (12.25, 40.5, 3.0)
    point = vol.index_to_physical(idx)
    np.testing.assert_allclose(point, img.TransformContinuousIndexToPhysicalPoint(idx),
                               atol=1e-5)
    np.testing.assert_allclose(vol.physical_to_index(point), idx, atol=1e-6)


def test_dicom_series_reads_hu_and_geometry(tmp_path):
    hu = phantom(depth=4)
    vol = read_volume(write_dicom_series(str(tmp_path / 'dcm'), hu))
    assert vol.input_type == 'dicom'
    np.testing.assert_array_equal(vol.hu, hu)
    np.testing.assert_allclose(vol.spacing, SPACING, rtol=1e-5)
    np.testing.assert_allclose(vol.origin, ORIGIN, atol=1e-4)


def test_dicom_mr_modality_is_rejected(tmp_path):
    folder = write_dicom_series(str(tmp_path / 'mr'), phantom(depth=2), modality='MR')
    with pytest.raises(ValueError, match=r"slice_000\.dcm: DICOM Modality is 'MR', expected"):
        read_volume(folder)


def test_nifti_with_zero_spacing_names_the_file(tmp_path):
    path = str(tmp_path / 'zero.nii')
    nib.save(nib.Nifti1Image(phantom(), np.diag([0.7, 0.8, 1.0, 1.0])), path)
    with open(path, 'r+b') as f:  # pixdim[3] (float32 at byte 88 of the NIfTI-1 header) = 0
        f.seek(88)
        f.write(np.float32(0).tobytes())
    with pytest.raises(ValueError, match=r'zero\.nii: voxel spacing .* zero or negative'):
        read_volume(path)


def test_raw_nifti_header_big_endian_and_nifti2(tmp_path):
    """The raw header check (parsed without nibabel) reads big-endian NIfTI-1 files and
    names the file for NIfTI-2 where SimpleITK does not read it."""
    xyz = phantom().transpose(2, 1, 0)
    affine = np.diag([0.7, 0.8, 5.0, 1.0])
    big = str(tmp_path / 'big.nii')
    nib.save(nib.Nifti1Image(xyz, affine, header=nib.Nifti1Header(endianness='>')), big)
    vol = read_volume(big)
    np.testing.assert_array_equal(vol.hu, phantom())
    np.testing.assert_allclose(vol.spacing, SPACING, rtol=1e-6)
    with open(big, 'r+b') as f:  # pixdim[2] (big-endian float32 at byte 84) = 0
        f.seek(84)
        f.write(np.float32(0).astype('>f4').tobytes())
    with pytest.raises(ValueError, match=r'big\.nii: voxel spacing .* zero or negative'):
        read_volume(big)
    two = str(tmp_path / 'two.nii')
    nib.save(nib.Nifti2Image(xyz, affine), two)
    try:
        sitk.ReadImage(two)
    except RuntimeError:  # SimpleITK 2.5 does not read NIfTI-2: a one-line error saying so
        with pytest.raises(ValueError, match=r'two\.nii: not a readable NIfTI file \(a NIfTI-2 '):
            read_volume(two)
    else:
        np.testing.assert_array_equal(read_volume(two).hu, phantom())


def test_corrupt_missing_and_non_hu_inputs(tmp_path):
    bad = tmp_path / 'bad.nii.gz'
    bad.write_bytes(b'this is not a nifti file' * 10)
    with pytest.raises(ValueError, match=r'bad\.nii\.gz: not a readable NIfTI file'):
        read_volume(str(bad))
    with pytest.raises(FileNotFoundError, match='input not found: .*nope.nii'):
        read_volume(str(tmp_path / 'nope.nii'))
    mr_like = write_nifti(str(tmp_path / 'mr.nii.gz'), np.full((3, 8, 8), 300, np.int16))
    with pytest.raises(ValueError, match=r'mr\.nii\.gz: values span \[300, 300\], which does '
                                         'not look like CT'):
        read_volume(mr_like)
    assert read_volume(mr_like, check_hu=False).hu.max() == 300


def test_pictures_8bit_needs_explicit_type_and_colour_is_rejected(tmp_path):
    grey = np.array([[0, 255], [51, 102]], np.uint8)
    cv2.imwrite(str(tmp_path / 'grey.png'), np.repeat(grey[:, :, None], 3, 2))
    with pytest.raises(ValueError, match=r'grey\.png: 8-bit image has no HU; pass '
                                         'input_type="image"'):
        read_volume(str(tmp_path / 'grey.png'))
    vol = read_volume(str(tmp_path / 'grey.png'), input_type='image', pixel_spacing=0.5)
    np.testing.assert_allclose(vol.hu[0], grey * (4095 / 255) - 1024, atol=1e-3)
    assert vol.spacing == (0.5, 0.5, 2.0)
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 2] = 200
    cv2.imwrite(str(tmp_path / 'photo.png'), colour)
    with pytest.raises(ValueError, match=r'photo\.png: colour image \(channels differ\)'):
        read_volume(str(tmp_path / 'photo.png'), input_type='image')


def test_png_series_and_16bit_single_image(tmp_path):
    hu = phantom(depth=3, height=8, width=8).astype(np.float32)
    folder = tmp_path / 'series'
    for k in range(3):
        write_hu_png(str(folder / f'{k + 7:03d}.png'), hu[k])
    vol = read_volume(str(folder), pixel_spacing=0.6, slice_interval=1.0)
    assert vol.input_type == 'png_series' and vol.slice_numbers == [7, 8, 9]
    np.testing.assert_array_equal(vol.hu, hu)
    assert vol.spacing == (0.6, 0.6, 1.0)
    single = read_volume(str(folder / '008.png'))
    np.testing.assert_array_equal(single.hu[0], hu[1])
    (folder / '010.png').write_bytes(b'junk')
    (folder / '008.png').unlink()
    with pytest.raises(ValueError, match=r'series: slice numbers are not consecutive'):
        read_volume(str(folder))
    assert osp.isdir(folder)
