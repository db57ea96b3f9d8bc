"""data_prep/lits_to_json.py on generated LiTS-format NIfTI files: the json VolumeDataset
reads gives back the voxels, labels and spacing; seeded split; errors name the file."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from acsdet.datasets import VolumeDataset
from acsdet.datasets.transforms import LoadVolumeFromFile
from acsdet.testing import load_script, make_lits_like


@pytest.fixture(scope='module')
def cli(repo_root):
    return load_script(repo_root, 'data_prep/lits_to_json.py')


@pytest.fixture()
def lits(tmp_path):
    root = str(tmp_path / 'lits')
    return root, make_lits_like(root, num_cases=5, shape=(6, 10, 12))


def test_round_trip_through_volume_dataset(lits, cli, tmp_path):
    root, cases = lits
    # an unlabelled challenge test scan goes to "test"
    os.link(osp.join(root, 'Training Batch 1', 'volume-0.nii'),
            osp.join(root, 'test-volume-7.nii'))
    assert cli.main([root, '--check-labels', '--quiet']) == 0
    ann = osp.join(root, 'lits.json')
    content = json.load(open(ann))
    assert len(content['training']) == 4 and len(content['validation']) == 1
    assert content['test'] == [{'image': 'test-volume-7.nii'}]
    assert content['meta']['classes'] == ['background', 'liver', 'tumour']
    seen = set()
    for split in ('training', 'validation'):
        ds = VolumeDataset(ann_file=ann, split_key=split, data_root=root,
                           pipeline=[LoadVolumeFromFile()])
        for i in range(len(ds)):
            res = ds[i]
            n = int(res['case_id'].split('-')[1])
            seen.add(n)
            np.testing.assert_array_equal(res['img'][0], cases[n]['image'])
            np.testing.assert_array_equal(res['gt_seg_map'], cases[n]['label'])
            np.testing.assert_allclose(res['spacing'], cases[n]['spacing'])
            assert set(np.unique(res['gt_seg_map'])) == {0, 1, 2}
    assert seen == set(cases)


def test_split_is_seeded_and_rerun_identical(lits, cli, tmp_path):
    root, _ = lits
    outs = []
    for seed in (0, 0, 1):
        out = str(tmp_path / f'lits_{len(outs)}.json')
        assert cli.main([root, '--out', out, '--seed', str(seed), '--quiet']) == 0
        outs.append(json.load(open(out)))
    assert outs[0] == outs[1]
    split = lambda c: [e['image'] for e in c['validation']]  # noqa: E731
    assert split(outs[0]) != split(outs[2]) or len(split(outs[0])) == 0
    # paths relative to the json's folder
    assert outs[0]['training'][0]['image'].startswith(osp.join('lits', 'Training Batch 1'))


def test_missing_segmentation_names_the_file(lits, cli, capsys):
    root, _ = lits
    os.remove(osp.join(root, 'Training Batch 1', 'segmentation-3.nii'))
    assert cli.main([root, '--quiet']) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.endswith("volume-3.nii: no segmentation-3.nii beside it (1 volume(s) without "
                        "labels)")
    assert not osp.exists(osp.join(root, 'lits.json'))


def test_bad_labels_and_shapes_name_the_file(lits, cli, capsys):
    import nibabel as nib
    root, _ = lits
    seg = osp.join(root, 'Training Batch 1', 'segmentation-2.nii')
    nib.save(nib.Nifti1Image(np.full((12, 10, 6), 3, np.uint8), np.eye(4)), seg)
    assert cli.main([root, '--check-labels', '--quiet']) == 1
    assert capsys.readouterr().err.strip() == \
        f'error: {seg}: labels must be 0 / 1 / 2, found [3]'
    nib.save(nib.Nifti1Image(np.zeros((12, 10, 5), np.uint8), np.eye(4)), seg)
    assert cli.main([root, '--quiet']) == 1
    assert f'{seg}: shape (12, 10, 5) does not match the volume (12, 10, 6)' in \
        capsys.readouterr().err
    assert not osp.exists(osp.join(root, 'lits.json'))


def test_help(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(['--help'])
    assert exc.value.code == 0
    assert '--check-labels' in capsys.readouterr().out
