"""data_prep/promise12_to_json.py on generated PROMISE12-format MetaImages, read back through
VolumeDataset + LoadVolumeFromFile (SimpleITK): voxels, labels, spacing, split, errors."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from acsdet.datasets import VolumeDataset
from acsdet.datasets.transforms import LoadVolumeFromFile
from acsdet.fileio import read_volume
from acsdet.testing import load_script, make_promise12_like


@pytest.fixture(scope='module')
def cli(repo_root):
    return load_script(repo_root, 'data_prep/promise12_to_json.py')


@pytest.fixture()
def promise(tmp_path):
    root = str(tmp_path / 'promise12')
    return root, make_promise12_like(root, num_cases=5, shape=(4, 10, 12))


def test_round_trip_through_volume_dataset(promise, cli, capsys):
    root, cases = promise
    assert cli.main([root, '--quiet']) == 0
    ann = osp.join(root, 'promise12.json')
    assert capsys.readouterr().out.strip() == f'wrote {ann}: 4 training / 1 validation cases'
    content = json.load(open(ann))
    assert (len(content['training']), len(content['validation'])) == (4, 1)  # 8:2
    for entry in content['training'] + content['validation']:
        assert entry['label'] == entry['image'].replace('.mhd', '_segmentation.mhd')
    seen = []
    for split in ('training', 'validation'):
        ds = VolumeDataset(ann_file=ann, split_key=split, data_root=root,
                           pipeline=[LoadVolumeFromFile()])
        for i in range(len(ds)):
            res = ds[i]
            case = cases[res['case_id']]
            seen.append(res['case_id'])
            assert res['img'].shape == (1, 4, 10, 12)
            np.testing.assert_array_equal(res['img'][0], case['image'])
            np.testing.assert_array_equal(res['gt_seg_map'], case['label'])
            np.testing.assert_allclose(res['spacing'], case['spacing'])  # (D, H, W) mm
    assert sorted(seen) == sorted(cases)


def test_read_volume_mhd_errors(tmp_path):
    broken = tmp_path / 'Case09.mhd'
    broken.write_text('NDims = 3\nDimSize = 4 4 4\nElementType = MET_SHORT\n'
                      'ElementDataFile = missing.raw\n')
    with pytest.raises(ValueError, match=r'Case09.mhd: SimpleITK cannot read it'):
        read_volume(str(broken))
    with pytest.raises(ValueError, match=r'x.vtk: unknown volume format \(expected .npz, '
                       r'.nii, .nii.gz, .mhd, .mha or .nrrd\)'):
        (tmp_path / 'x.vtk').write_text('')
        read_volume(str(tmp_path / 'x.vtk'))


def test_missing_segmentation_and_mismatch_name_the_file(promise, cli, capsys):
    import SimpleITK as sitk
    root, _ = promise
    seg = osp.join(root, 'Case01_segmentation.mhd')
    img = sitk.GetImageFromArray(np.zeros((4, 10, 11), np.uint8))
    sitk.WriteImage(img, seg)
    assert cli.main([root, '--quiet']) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err == f'error: {seg}: size (11, 10, 4) does not match Case01.mhd (12, 10, 4) ' \
                  f'(both must be 3D)'
    os.remove(seg)
    assert cli.main([root, '--quiet']) == 1
    assert capsys.readouterr().err.strip() == \
        f'error: {osp.join(root, "Case01.mhd")}: no Case01_segmentation.mhd beside it'
    assert not osp.exists(osp.join(root, 'promise12.json'))


def test_help(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(['--help'])
    assert exc.value.code == 0
    assert '--val-ratio' in capsys.readouterr().out
