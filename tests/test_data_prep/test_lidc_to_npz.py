"""data_prep/lidc_to_npz.py on a generated LIDC-IDRI-format set (DICOM series written by
SimpleITK + hand-written reader XML): crops, reader consensus, split, errors, re-runs."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from acsdet.testing import load_script, make_lidc_like


@pytest.fixture(scope='module')
def lidc(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('lidc_raw'))
    return root, make_lidc_like(root, num_patients=2)


@pytest.fixture(scope='module')
def cli(repo_root):
    return load_script(repo_root, 'data_prep/lidc_to_npz.py')


def _native_expectation(patient, size):
    """Crop region (native voxels) around the readers' centroid, padded with -1024 / 0."""
    masks = patient['reader_masks']
    centre = np.mean([np.argwhere(m).mean(0) for m in masks], axis=0)
    start = [int(np.round(c)) - size // 2 for c in centre]
    shape = patient['hu'].shape

    def crop(array, pad):
        out = np.full((size, ) * 3, pad, array.dtype)
        src = tuple(slice(max(s, 0), min(s + size, n)) for s, n in zip(start, shape))
        dst = tuple(slice(a.start - s, a.stop - s) for a, s in zip(src, start))
        out[dst] = array[src]
        return out
    return crop


def _load(out, name):
    with np.load(osp.join(out, 'nodules', name)) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize('rule,agreement,expected', [
    ('consensus', 0.5, lambda m: m[0] | m[1]),    # 1 of 2 readers is 50 %
    ('consensus', 1.0, lambda m: m[0] & m[1]),    # both readers
    ('first', 0.5, lambda m: m[0]),               # the first reading session
])
def test_native_crop_equals_scan_and_reader_masks(lidc, cli, tmp_path, rule, agreement,
                                                  expected):
    root, patients = lidc
    out = str(tmp_path / 'out')
    assert cli.main([root, out, '--spacing', '0', '--size', '20', '--label-rule', rule,
                     '--agreement', str(agreement), '--quiet']) == 0
    for pid, patient in patients.items():
        data = _load(out, f'{pid}_n00.npz')
        crop = _native_expectation(patient, 20)
        np.testing.assert_array_equal(data['image'], crop(patient['hu'], -1024))
        assert data['image'].dtype == np.int16 and data['label'].dtype == np.uint8
        np.testing.assert_array_equal(data['label'],
                                      crop(expected(patient['reader_masks']), False))
        assert int(data['num_readers']) == 2
        assert data['malignancy'].tolist() == patient['ratings']
        np.testing.assert_allclose(data['spacing'], patient['spacing'], rtol=1e-6)
        assert str(data['patient_id']) == pid
    # one nodule per patient: the single-point "< 3 mm" nodule and the nonNodule are skipped
    assert sorted(os.listdir(osp.join(out, 'nodules'))) == [f'{p}_n00.npz' for p in patients]


def test_resampled_crop_split_and_rerun(lidc, cli, tmp_path):
    root, patients = lidc
    out = str(tmp_path / 'out')
    assert cli.main([root, out, '--quiet']) == 0          # 48^3 at 1 mm, 50 % consensus
    content = json.loads(open(osp.join(out, 'lidc_nodules.json')).read())
    meta = content['meta']
    assert (meta['size'], meta['spacing'], meta['label_rule']) == (48, 1.0, 'consensus')
    # split by patient: 2 patients -> 1 / 1, both sides disjoint and complete
    train_p, val_p = meta['patients']['training'], meta['patients']['validation']
    assert len(train_p) == len(val_p) == 1 and set(train_p) | set(val_p) == set(patients)
    assert [e['image'] for e in content['validation']] == [f'nodules/{val_p[0]}_n00.npz']
    for pid, patient in patients.items():
        data = _load(out, f'{pid}_n00.npz')
        assert data['image'].shape == data['label'].shape == (48, 48, 48)
        # the union of the two balls: reader 1's ball, radius 5 voxels of 0.7 mm in-plane
        ref_mm3 = patient['reader_masks'][1].sum() * np.prod(patient['spacing'])
        assert abs(int(data['label'].sum()) - ref_mm3) < 0.25 * ref_mm3
        # nodule (about 40 HU) at the centre, lung (-800 HU) around, air padding outside
        idx = np.argwhere(data['label'])
        assert np.all(np.abs(idx.mean(0) - 23.5) < 1.0)
        assert data['image'][24, 24, 24] > -200 and data['image'][24, 0, 0] == -1024
    # a re-run rewrites the same content
    before = {n: _load(out, n) for n in os.listdir(osp.join(out, 'nodules'))}
    json_before = open(osp.join(out, 'lidc_nodules.json')).read()
    assert cli.main([root, out, '--quiet']) == 0
    assert open(osp.join(out, 'lidc_nodules.json')).read() == json_before
    for name, arrays in before.items():
        again = _load(out, name)
        for key, value in arrays.items():
            np.testing.assert_array_equal(again[key], value)
    assert not [n for n in os.listdir(out) + os.listdir(osp.join(out, 'nodules'))
                if n.endswith('.tmp') or n.startswith('.')]


def _copy_with_xml(lidc, tmp_path, edit):
    import shutil
    root, patients = lidc
    bad = str(tmp_path / 'raw')
    shutil.copytree(root, bad)
    pid = sorted(patients)[0]
    xml = [osp.join(d, n) for d, _, fs in os.walk(osp.join(bad, pid)) for n in fs
           if n.endswith('.xml')][0]
    text = open(xml).read()
    open(xml, 'w').write(edit(text, patients[pid]))
    return bad, xml


@pytest.mark.parametrize('edit,message', [
    (lambda t, p: t.replace('</LidcReadMessage>', ''), r'not valid XML'),
    (lambda t, p: t.replace('<imageSOP_UID>' + p['series_uid'] + '.9<', '<imageSOP_UID>x<')
     .replace(f'<imageZposition>{p["z"][8]:g}<', '<imageZposition>999<'),
     r'reader \d nodule r\dn1: imageZposition 999 matches no slice'),
    (lambda t, p: t.replace('<xCoord>', '<xCoord>a', 1), r'reader 0 nodule r0n1: bad roi'),
])
def test_bad_xml_is_a_one_line_error_and_writes_nothing(lidc, cli, tmp_path, capsys, edit,
                                                        message):
    bad, xml = _copy_with_xml(lidc, tmp_path, edit)
    out = tmp_path / 'out'
    assert cli.main([bad, str(out), '--quiet']) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f'error: {xml}')
    import re
    assert re.search(message, err), err
    assert not (out / 'lidc_nodules.json').exists()


def test_missing_inputs(cli, tmp_path, capsys):
    assert cli.main([str(tmp_path / 'nope'), str(tmp_path / 'o'), '--quiet']) == 1
    assert 'LIDC-IDRI root folder not found' in capsys.readouterr().err
    (tmp_path / 'empty').mkdir()
    assert cli.main([str(tmp_path / 'empty'), str(tmp_path / 'o'), '--quiet']) == 1
    assert 'no DICOM (.dcm) series found' in capsys.readouterr().err


def test_help(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(['--help'])
    assert exc.value.code == 0
    assert '--label-rule' in capsys.readouterr().out


def test_malignancy_labels_in_the_split_json(tmp_path, cli):
    """The paper's label: mode of the readers' ratings (ties: the lower), 3 left out."""
    root = str(tmp_path / 'raw')
    patients = make_lidc_like(root, num_patients=4, shape=(12, 32, 32))
    out = str(tmp_path / 'out')
    assert cli.main([root, out, '--size', '16', '--quiet']) == 0
    content = json.loads(open(osp.join(out, 'lidc_nodules.json')).read())
    entries = {osp.basename(e['image'])[:-8]: e
               for e in content['training'] + content['validation']}
    expected = {(2, 4): (2, 0), (4, 5): (4, 1), (3, 3): (3, None), (1, 2): (1, 0)}
    for pid, patient in patients.items():
        e = entries[pid]
        assert e['malignancy_ratings'] == patient['ratings']
        assert (e['malignancy_mode'], e['malignancy_label']) == \
            expected[tuple(patient['ratings'])]
    assert content['meta']['malignancy_labels'] == {'0': 2, '1': 1, 'null': 1}
