"""data_prep/brats18_to_json.py on generated BraTS18-format cases: 4-channel NIfTI in the
order flair, t1, t1ce, t2, labels {0, 1, 2, 4} -> {0, 1, 2, 3}, split, re-runs, errors."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from acsdet.datasets import VolumeDataset
from acsdet.datasets.transforms import LoadVolumeFromFile
from acsdet.testing import load_script, make_brats_like


@pytest.fixture(scope='module')
def cli(repo_root):
    return load_script(repo_root, 'data_prep/brats18_to_json.py')


@pytest.fixture()
def brats(tmp_path):
    root = str(tmp_path / 'brats_raw')
    return root, make_brats_like(root, num_cases=5, shape=(6, 10, 12))


def test_round_trip_4_channels_and_label_remap(brats, cli, tmp_path):
    root, cases = brats
    out = str(tmp_path / 'brats18')
    assert cli.main([root, out, '--quiet']) == 0
    ann = osp.join(out, 'brats18.json')
    content = json.load(open(ann))
    assert (len(content['training']), len(content['validation'])) == (4, 1)
    assert content['meta']['label_map'] == {'0': 0, '1': 1, '2': 2, '4': 3}
    seen = []
    for split in ('training', 'validation'):
        ds = VolumeDataset(ann_file=ann, split_key=split, data_root=out,
                           pipeline=[LoadVolumeFromFile()])
        for i in range(len(ds)):
            res = ds[i]
            case = cases[res['case_id']]
            seen.append(res['case_id'])
            assert res['img'].shape == (4, 6, 10, 12)
            np.testing.assert_array_equal(res['img'], case['image'])  # flair, t1, t1ce, t2
            expected = case['label'].astype(np.int64)
            expected[expected == 4] = 3
            np.testing.assert_array_equal(res['gt_seg_map'], expected)
            assert set(np.unique(res['gt_seg_map'])) == {0, 1, 2, 3}
            np.testing.assert_allclose(res['spacing'], (1.0, 1.0, 1.0))
    assert sorted(seen) == sorted(cases)


def test_rerun_keeps_outputs_and_unlabelled_cases_go_to_test(brats, cli, tmp_path):
    root, cases = brats
    out = str(tmp_path / 'brats18')
    assert cli.main([root, out, '--quiet']) == 0
    first = sorted(cases)[0]
    image = osp.join(out, 'imagesTr', first + '.nii.gz')
    mtime = os.stat(image).st_mtime_ns
    json_before = open(osp.join(out, 'brats18.json')).read()
    assert cli.main([root, out, '--quiet']) == 0
    assert os.stat(image).st_mtime_ns == mtime          # kept, not rewritten
    assert open(osp.join(out, 'brats18.json')).read() == json_before
    assert cli.main([root, out, '--quiet', '--overwrite']) == 0
    assert os.stat(image).st_mtime_ns != mtime
    # a case without _seg (the validation release) -> imagesTs + "test"
    last = sorted(cases)[-1]
    folder = [d for d, _, fs in os.walk(root) if osp.basename(d) == last][0]
    os.remove(osp.join(folder, f'{last}_seg.nii.gz'))
    assert cli.main([root, str(tmp_path / 'b2'), '--quiet']) == 0
    content = json.load(open(tmp_path / 'b2' / 'brats18.json'))
    assert content['test'] == [{'image': f'imagesTs/{last}.nii.gz'}]
    assert len(content['training']) + len(content['validation']) == 4
    assert not [n for d, _, fs in os.walk(tmp_path / 'b2') for n in fs if n.endswith('.tmp')
                or n.startswith('.')]


def test_bad_label_or_missing_modality_is_a_one_line_error(brats, cli, tmp_path, capsys):
    import nibabel as nib
    root, cases = brats
    case = sorted(cases)[1]
    folder = [d for d, _, fs in os.walk(root) if osp.basename(d) == case][0]
    seg = osp.join(folder, f'{case}_seg.nii.gz')
    label = np.asarray(nib.load(seg).dataobj).copy()
    label[0, 0, 0] = 3
    nib.save(nib.Nifti1Image(label, np.eye(4)), seg)
    out = tmp_path / 'out'
    assert cli.main([root, str(out), '--quiet']) == 1
    err = capsys.readouterr().err.strip()
    assert err == f'error: {seg}: BraTS labels must be in {{0, 1, 2, 4}}, found [3]'
    assert not (out / 'labelsTr' / f'{case}.nii.gz').exists()
    assert not (out / 'imagesTr' / f'{case}.nii.gz').exists()
    assert not (out / 'brats18.json').exists()
    os.remove(osp.join(folder, f'{case}_t1ce.nii.gz'))
    assert cli.main([root, str(out), '--quiet']) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f'error: {osp.join(folder, case)}_t1ce.nii.gz: missing')


def test_help(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(['--help'])
    assert exc.value.code == 0
    assert '--overwrite' in capsys.readouterr().out
