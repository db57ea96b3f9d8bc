"""One volume reader for training, evaluation and inference (issue 13).

The same file read by the training pipeline (``VolumeDataset`` + ``LoadVolumeFromFile``) and
by the inference path (``acsdet.fileio.read_volume`` as ``tools/infer_seg.py`` and
``acsdet.apis.segment_volume`` use it) gives the same array (exact equality) and the same
spacing, for NIfTI, MetaImage / NRRD and ``.npz``; arrays are (D, H, W) = (z, y, x) in the
file's voxel order (SimpleITK's ``GetArrayFromImage``), spacing (sx, sy, sz) in ``CTVolume``
and its reverse (D, H, W) in ``results['spacing']``.
"""
import json
import sys

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement

import acsdet.datasets.transforms as transforms_pkg
from acsdet.datasets import VolumeDataset
from acsdet.datasets.transforms import LoadVolumeFromFile, volume_transforms
from acsdet.fileio import CTVolume, read_volume
from acsdet.testing.ct_files import write_dicom_series

SPACING_XYZ = (0.7, 0.9, 2.5)          # column, row, slice mm
ORIGIN = (-12.5, 30.0, 7.25)
# axis-aligned, not the identity: x and y swapped, z flipped (det +1)
DIRECTION = (0.0, 1.0, 0.0,
             1.0, 0.0, 0.0,
             0.0, 0.0, -1.0)


@pytest.fixture(autouse=True)
def acsdet_scope():
    with DefaultScope.overwrite_default_scope('acsdet'):
        yield


def _volume(shape=(5, 7, 9), seed=0) -> np.ndarray:
    """Asymmetric (D, H, W) int16 HU with air: every axis has its own size and no symmetry."""
    rng = np.random.default_rng(seed)
    hu = rng.integers(-1000, 1500, size=shape).astype(np.int16)
    hu[0, 0, 0] = -1000
    return hu


def _labels(hu: np.ndarray) -> np.ndarray:
    """Labels that encode the image, so an image / label mix-up shows."""
    return ((hu > 0).astype(np.uint8) + (hu > 800)).astype(np.uint8)


def _write_sitk(path: str, array_zyx: np.ndarray) -> str:
    img = sitk.GetImageFromArray(array_zyx)
    img.SetSpacing(SPACING_XYZ)
    img.SetOrigin(ORIGIN)
    img.SetDirection(DIRECTION)
    sitk.WriteImage(img, path)
    return path


def _training_sample(tmp_path, image: str, label=None, pipeline=None):
    """The training / evaluation path: a json-listed pair through VolumeDataset."""
    entry = dict(image=image) if label is None else dict(image=image, label=label)
    ann = tmp_path / 'pairs.json'
    ann.write_text(json.dumps(dict(training=[entry])))
    ds = VolumeDataset(ann_file=str(ann), data_root=str(tmp_path),
                       pipeline=pipeline or [dict(type='LoadVolumeFromFile',
                                                  with_label=label is not None)])
    return ds[0]


def _assert_same(res: dict, vol: CTVolume, expected_zyx: np.ndarray) -> None:
    assert res['img'].dtype == vol.hu.dtype == np.float32
    assert res['img'].shape == (1, ) + vol.hu.shape
    np.testing.assert_array_equal(res['img'][0], vol.hu)          # exact
    np.testing.assert_array_equal(vol.hu, expected_zyx)           # GetArrayFromImage order
    assert res['spacing'] == tuple(vol.spacing[::-1]) == vol.spacing_dhw  # exact, (D, H, W)
    assert res['ori_shape'] == res['img_shape'] == vol.hu.shape


@pytest.mark.parametrize('suffix', ['.nii.gz', '.nii', '.mhd', '.mha', '.nrrd'])
def test_training_and_inference_read_the_same_volume(tmp_path, suffix):
    hu = _volume()
    label = _labels(hu)
    image_path = _write_sitk(str(tmp_path / f'case{suffix}'), hu)
    _write_sitk(str(tmp_path / f'case_seg{suffix}'), label)

    res = _training_sample(tmp_path, f'case{suffix}', f'case_seg{suffix}')
    vol = read_volume(image_path)                  # as tools/infer_seg.py reads it
    assert vol.input_type == {'.nii.gz': 'nifti', '.nii': 'nifti', '.mhd': 'metaimage',
                              '.mha': 'metaimage', '.nrrd': 'nrrd'}[suffix]
    _assert_same(res, vol, hu)
    np.testing.assert_allclose(vol.spacing, SPACING_XYZ, rtol=1e-6)
    np.testing.assert_allclose(vol.origin, ORIGIN, atol=1e-5)
    np.testing.assert_allclose(vol.direction, np.reshape(DIRECTION, (3, 3)), atol=1e-6)
    # labels come through the same reader, as stored
    seg = read_volume(str(tmp_path / f'case_seg{suffix}'), check_hu=False, dtype=None)
    assert res['gt_seg_map'].dtype == np.int64
    np.testing.assert_array_equal(res['gt_seg_map'], seg.hu)
    np.testing.assert_array_equal(res['gt_seg_map'], label)


def test_segment_volume_sees_what_the_test_pipeline_sees(tmp_path):
    """``segment_volume`` (inference) and VolumeDataset (evaluation) run the same test
    pipeline on the same file: the network inputs and the spacing are identical, also after
    a spacing-dependent ResampleVolume."""
    from acsdet.apis import segment_volume
    hu = _volume(shape=(6, 7, 9))
    image_path = _write_sitk(str(tmp_path / 'case.nii.gz'), hu)
    pipeline = [dict(type='LoadVolumeFromFile', with_label=False),
                dict(type='ResampleVolume', spacing=(1.25, 0.45, None)),
                dict(type='ClipNormalizeVolume', clip_range=(-1000, 1500), mode='minmax'),
                dict(type='PackVolumeInputs')]
    sample = _training_sample(tmp_path, 'case.nii.gz', pipeline=pipeline)

    class Capture(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv3d(1, 2, 1)
            self.seen = None

        def test_step(self, data):
            self.seen = data
            out = data['data_samples'][0]
            out.pred_sem_seg = BaseDataElement(
                data=torch.zeros(data['inputs'][0].shape[1:], dtype=torch.long))
            return [out]

    model = Capture()
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=pipeline))))
    labels = segment_volume(model, cfg, read_volume(image_path))
    assert labels.shape == hu.shape
    seen_inputs = model.seen['inputs'][0]
    assert seen_inputs.shape == sample['inputs'].shape == (1, 12, 14, 9)
    assert torch.equal(seen_inputs, sample['inputs'])
    assert model.seen['data_samples'][0].spacing == sample['data_samples'].spacing


@pytest.mark.parametrize('stored_spacing', [None, (2.5, 0.9, 0.7)])
def test_npz_training_and_inference(tmp_path, stored_spacing):
    hu = _volume()
    arrays = dict(image=hu, label=_labels(hu))
    if stored_spacing is not None:  # as data_prep/lidc_to_npz.py stores it: (D, H, W)
        arrays['spacing'] = np.asarray(stored_spacing, np.float32)
    (tmp_path / 'train').mkdir()
    path = tmp_path / 'train' / 'case.npz'
    np.savez_compressed(path, **arrays)
    ds = VolumeDataset(data_root=str(tmp_path), data_prefix=dict(img_path=str(tmp_path / 'train')),
                       pipeline=[dict(type='LoadVolumeFromFile')])
    res = ds[0]
    vol = read_volume(str(path))
    assert vol.input_type == 'npz'
    np.testing.assert_array_equal(res['img'][0], vol.hu)
    np.testing.assert_array_equal(vol.hu, hu)
    np.testing.assert_array_equal(res['gt_seg_map'], arrays['label'])
    if stored_spacing is None:
        assert vol.spacing is None and vol.spacing_dhw is None and res['spacing'] is None
        # a data-info spacing is kept when the file has none
        out = LoadVolumeFromFile()(dict(img_path=str(path), spacing=(3.0, 1.0, 1.0)))
        assert out['spacing'] == (3.0, 1.0, 1.0)
    else:
        assert res['spacing'] == vol.spacing_dhw == tuple(vol.spacing[::-1])
        np.testing.assert_allclose(res['spacing'], stored_spacing, rtol=1e-6)
        np.testing.assert_allclose(vol.spacing, stored_spacing[::-1], rtol=1e-6)


def test_nifti_is_read_without_nibabel(tmp_path, monkeypatch):
    hu = _volume()
    image_path = _write_sitk(str(tmp_path / 'case.nii.gz'), hu)
    _write_sitk(str(tmp_path / 'seg.nii.gz'), _labels(hu))
    monkeypatch.setitem(sys.modules, 'nibabel', None)  # any `import nibabel` now fails
    res = LoadVolumeFromFile()(dict(img_path=image_path, seg_path=str(tmp_path / 'seg.nii.gz')))
    _assert_same(res, read_volume(image_path), hu)


def test_nibabel_written_files_header_units_scaling_and_4d(tmp_path):
    """Files as the data-prep scripts write them (nibabel): the header's units and scaling,
    a trailing singleton 4th axis and a 4D multi-channel stack read the same in both paths."""
    nib = pytest.importorskip('nibabel')
    xyz = _volume().transpose(2, 1, 0)  # nibabel stores (x, y, z)
    # spacing in micrometres (xyzt_units) and scl_slope / scl_inter: mm and values applied
    img = nib.Nifti1Image(xyz, np.diag([700.0, 900.0, 2500.0, 1.0]))
    img.header.set_xyzt_units('micron')
    img.header.set_slope_inter(0.5, -24.0)
    nib.save(img, str(tmp_path / 'um.nii.gz'))
    # labels stored (x, y, z, 1)
    nib.save(nib.Nifti1Image(_labels(xyz)[..., None], np.diag([0.7, 0.9, 2.5, 1.0])),
             str(tmp_path / 'seg.nii.gz'))
    res = _training_sample(tmp_path, 'um.nii.gz', 'seg.nii.gz')
    vol = read_volume(str(tmp_path / 'um.nii.gz'))
    _assert_same(res, vol, (xyz.transpose(2, 1, 0) * 0.5 - 24.0).astype(np.float32))
    np.testing.assert_allclose(vol.spacing, SPACING_XYZ, rtol=1e-6)  # mm
    np.testing.assert_array_equal(res['gt_seg_map'], _labels(xyz).transpose(2, 1, 0))

    # a BraTS-like 4D stack (x, y, z, c) -> (C, D, H, W) in training; inference refuses it
    stack = np.stack([xyz, xyz + 1, xyz + 2], axis=-1)
    nib.save(nib.Nifti1Image(stack, np.diag([0.7, 0.9, 2.5, 1.0])), str(tmp_path / 'c4.nii'))
    res = _training_sample(tmp_path, 'c4.nii')
    multi = read_volume(str(tmp_path / 'c4.nii'), check_hu=False, allow_channels=True)
    assert res['img'].shape == multi.hu.shape == (3, 5, 7, 9)
    np.testing.assert_array_equal(res['img'], multi.hu)
    np.testing.assert_array_equal(multi.hu, stack.transpose(3, 2, 1, 0))
    assert res['spacing'] == multi.spacing_dhw
    with pytest.raises(ValueError, match=r'c4\.nii: image must be \(D, H, W\), got shape '
                                         r'\(3, 5, 7, 9\)$'):
        read_volume(str(tmp_path / 'c4.nii'))


def test_dicom_series_through_the_training_transform(tmp_path):
    hu = _volume(shape=(3, 7, 9))
    folder = write_dicom_series(str(tmp_path / 'dcm'), hu)
    res = LoadVolumeFromFile(with_label=False)(dict(img_path=folder))
    vol = read_volume(folder)
    assert vol.input_type == 'dicom'
    _assert_same(res, vol, hu)


def _missing(tmp_path):
    return str(tmp_path / 'nothing.nii.gz')


def _corrupt_nifti(tmp_path):
    path = tmp_path / 'bad.nii.gz'
    path.write_bytes(b'this is not a nifti file' * 10)
    return str(path)


def _truncated_nifti(tmp_path):
    path = _write_sitk(str(tmp_path / 'cut.nii'), _volume())
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    return path


def _truncated_nifti_gz(tmp_path):
    path = _write_sitk(str(tmp_path / 'cut.nii.gz'), _volume(shape=(20, 30, 40)))
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) * 3 // 4])
    return path


def _corrupt_mhd(tmp_path):
    path = tmp_path / 'Case09.mhd'
    path.write_text('NDims = 3\nDimSize = 4 4 4\nElementType = MET_SHORT\n'
                    'ElementDataFile = missing.raw\n')
    return str(path)


def _corrupt_npz(tmp_path):
    path = tmp_path / 'bad.npz'
    path.write_bytes(b'PK\x03\x04 truncated zip')
    return str(path)


def _unsupported(tmp_path):
    path = tmp_path / 'x.vtk'
    path.write_text('')
    return str(path)


@pytest.mark.parametrize('make, error, message', [
    (_missing, FileNotFoundError, r'input not found: .*nothing\.nii\.gz'),
    (_corrupt_nifti, ValueError, r'bad\.nii\.gz: not a readable NIfTI file'),
    (_truncated_nifti, ValueError, r'cut\.nii: not a readable NIfTI file \(truncated'),
    (_truncated_nifti_gz, ValueError, r'cut\.nii\.gz: not a readable NIfTI file \(truncated'),
    (_corrupt_mhd, ValueError, r'Case09\.mhd: SimpleITK cannot read it'),
    (_corrupt_npz, ValueError, r'bad\.npz: not a readable \.npz file'),
    (_unsupported, ValueError, r'x\.vtk: unknown volume format \(expected .npz, .nii, '
                               r'.nii.gz, .mhd, .mha or .nrrd\)'),
])
def test_errors_are_the_same_one_line_in_both_paths(tmp_path, make, error, message):
    path = make(tmp_path)
    with pytest.raises(error, match=message) as from_inference:
        read_volume(path)
    with pytest.raises(error, match=message) as from_training:
        LoadVolumeFromFile()(dict(img_path=path))
    assert str(from_inference.value) == str(from_training.value)
    assert '\n' not in str(from_inference.value) and path in str(from_inference.value)


def test_multi_member_gzip_nifti_is_read_whole(tmp_path):
    """The truncation check does not reject a valid .nii.gz made of several gzip members."""
    import gzip
    hu = _volume()
    plain = open(_write_sitk(str(tmp_path / 'plain.nii'), hu), 'rb').read()
    path = tmp_path / 'multi.nii.gz'
    path.write_bytes(gzip.compress(plain[:1000]) + gzip.compress(plain[1000:]))
    res = LoadVolumeFromFile(with_label=False)(dict(img_path=str(path)))
    _assert_same(res, read_volume(str(path)), hu)


def test_there_is_one_reader():
    import acsdet.fileio
    assert volume_transforms.read_volume is acsdet.fileio.read_volume
    assert not hasattr(transforms_pkg, 'read_volume')
    assert 'read_volume' not in transforms_pkg.__all__
    with pytest.raises(ImportError):
        import acsdet.fileio.sitk_volume_io  # noqa: F401  (merged into volume_io)
