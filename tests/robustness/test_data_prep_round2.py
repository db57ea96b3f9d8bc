"""Bad input to the data preparation, round 2 (issue 18, classes 5 and 6), through the scripts of
``data_prep/``.

* Duplicated ``DL_info.csv`` rows are a counted, logged ``duplicate_row`` event, and the repeat
  is dropped. Rows of one key slice with other geometry stay its several lesions.
* A csv saved with a UTF-8 byte-order mark converts exactly like the plain file.
* A label volume of the right shape on another grid (spacing, origin, direction) is refused
  in one line naming both files and the values.
* A converter that fails on its 3rd case leaves the output folder as it was before the run.
* An unwritable output folder is reported before any work, in one line.
* Property-based (hypothesis): generated ``DL_info.csv`` files (valid and malformed rows, BOM
  or not, duplicated rows) are either read with the right values or refused in one line
  naming the row.

Every case also checks that nothing partial is left behind.
"""
import csv
import errno
import io
import json
import os
import os.path as osp
import tempfile

import numpy as np
import pytest
from conftest import dl_row, good_root, leftovers, write_dl_info
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acsdet.data_prep import deeplesion_coco
from acsdet.data_prep.deeplesion_info import (DL_INFO_COLUMNS, DLInfoError, DLInfoRecord,
                                              drop_duplicate_rows, read_dl_info)
from acsdet.testing import (load_script, make_brats_like, make_lidc_like, make_lits_like,
                            make_promise12_like)

ARGS = ['--workers', '0', '--no-progress']


def _snapshot(folder):
    """{relative path: bytes} of every file under ``folder`` ({} when it does not exist)."""
    return {p: open(osp.join(folder, p), 'rb').read() for p in leftovers(folder)}


def _report(out):
    with open(osp.join(out, 'deeplesion_conversion_report.json')) as f:
        return json.load(f)


def _lesions_per_image(out):
    counts = {}
    for split in ('train', 'val', 'test'):
        with open(osp.join(out, f'deeplesion_{split}.json')) as f:
            coco = json.load(f)
        for im in coco['images']:
            counts[im['file_name']] = sorted(a['csv_row'] for a in coco['annotations']
                                             if a['image_id'] == im['id'])
    return counts


def _no_temp_files(folder):
    return not [p for p in leftovers(folder) if osp.basename(p).startswith('.')]


# ----------------------------------------------------------------------------- 1. duplicates

OTHER_RECIST = [20.0, 30.0, 40.0, 30.0, 30.0, 22.0, 30.0, 38.0]


@pytest.mark.parametrize('change,suffix', [
    ({}, ''),
    ({'Coarse_lesion_type': 3}, ' (it differs in Coarse_lesion_type; row 2 is kept)'),
], ids=['exact duplicate', 'same lesion, other lesion type'])
def test_duplicate_row_is_counted_and_dropped(tmp_path, convert_cli, change, suffix):
    root = str(tmp_path)
    rows = good_root(root)                       # lines 2, 3, 4: one key slice per split
    rows.append({**rows[0], **change})           # line 5: repeats line 2's lesion
    rows.append(dl_row('000001_01_01', 10, (9, 11), recist=OTHER_RECIST))  # line 6: 2nd lesion
    write_dl_info(root, rows)
    assert convert_cli([root, *ARGS]) == 0
    out = osp.join(root, 'annotations')
    assert _report(out)['events'] == {'duplicate_row': {'count': 1, 'messages': [
        'row 5 (000001_01_01_010.png): duplicate of row 2 (same key slice, '
        'Measurement_coordinates and Bounding_boxes); dropped' + suffix]}}
    # the key slice keeps its two different lesions, the repeat is gone
    assert _lesions_per_image(out) == {'000001_01_01/010.png': [2, 6],
                                       '000002_01_01/010.png': [3],
                                       '000003_01_01/010.png': [4]}
    with open(osp.join(out, 'deeplesion_train.json')) as f:
        types = [a['lesion_type'] for a in json.load(f)['annotations']]
    assert types == [2, 2]                       # the first row's values are kept
    assert _no_temp_files(out)


def test_same_key_slice_other_lesion_is_not_a_duplicate():
    # the real file's case: rows of one key slice with other geometry are its other lesions
    base = dict(series='000001_01_01', key_slice=10, patient=1, study=1, series_id=1,
                diameters_px=(1.0, 1.0), location=(0.5, 0.5, 0.5), lesion_type=2, noisy=0,
                slice_range=(9, 11), pixel_spacing=0.8, slice_interval=2.0,
                image_size=(64, 64), dicom_window=(-175.0, 275.0), gender='F', age=50.0,
                split='train')
    recs = [DLInfoRecord(**base, file_name='000001_01_01_010.png', recist=r, bbox=b, row=n)
            for n, (r, b) in enumerate([((1.0,) * 8, (0.0, 0.0, 2.0, 2.0)),
                                        ((1.0,) * 8, (0.0, 0.0, 3.0, 3.0)),   # other box
                                        ((2.0,) * 8, (0.0, 0.0, 2.0, 2.0)),   # other RECIST
                                        ((1.0,) * 8, (0.0, 0.0, 2.0, 2.0))], start=2)]
    dropped = []
    assert [r.row for r in drop_duplicate_rows(recs, dropped)] == [2, 3, 4]
    assert [row for row, _ in dropped] == [5]


# ----------------------------------------------------------------------------- 2. BOM

def test_csv_with_bom_converts_identically(tmp_path, convert_cli):
    root = str(tmp_path)
    rows = good_root(root)
    rows.append(dl_row('000001_01_01', 10, (9, 11), recist=OTHER_RECIST))
    write_dl_info(root, rows)
    plain = osp.join(root, 'DL_info.csv')
    bom = osp.join(root, 'DL_info_bom.csv')
    with open(plain, 'rb') as f:
        data = f.read()
    with open(bom, 'wb') as f:
        f.write(b'\xef\xbb\xbf' + data)              # what Excel's "CSV UTF-8" writes
    assert read_dl_info(bom) == read_dl_info(plain)
    out_plain, out_bom = osp.join(root, 'ann_plain'), osp.join(root, 'ann_bom')
    assert convert_cli([root, '--dl-info', plain, '--out', out_plain, *ARGS]) == 0
    assert convert_cli([root, '--dl-info', bom, '--out', out_bom, *ARGS]) == 0
    for split in ('train', 'val', 'test'):
        name = f'deeplesion_{split}.json'
        assert open(osp.join(out_bom, name), 'rb').read() == \
            open(osp.join(out_plain, name), 'rb').read()
    rep_plain, rep_bom = _report(out_plain), _report(out_bom)
    assert rep_bom['events'] == rep_plain['events'] == {}
    assert rep_bom['mask_quality'] == rep_plain['mask_quality']
    assert [s['images'] for s in rep_bom['splits'].values()] == [1, 1, 1]
    assert _no_temp_files(out_bom)


def _bad_bytes(root):
    path = osp.join(root, 'DL_info.csv')
    data = open(path, 'rb').read()
    open(path, 'wb').write(data.replace(b',F,50,2', b',F,5\xe9,2'))     # line 3, latin-1


def _long_field(root):
    rows = good_root(root)
    rows[1]['Normalized_lesion_location'] = 'x' * 200000                  # line 3
    write_dl_info(root, rows)


def _line_break(root):
    rows = good_root(root)
    rows[1]['Patient_gender'] = 'M\nF'                                    # lines 3-4
    write_dl_info(root, rows)


@pytest.mark.parametrize('build,message', [
    (_bad_bytes, 'row 3: not UTF-8 text (byte 0xe9 at column 156: invalid continuation byte); '
                 'save the csv as UTF-8'),
    (_long_field, 'row 3: not valid csv (field larger than field limit (131072))'),
    (_line_break, 'row 3 (000002_01_01_010.png): Patient_gender is "M\\nF", expected M, F or '
                  'empty'),
], ids=['not UTF-8', 'broken csv record', 'line break in a field'])
def test_undecodable_or_broken_csv_is_one_line(tmp_path, convert_cli, capsys, build, message):
    root = str(tmp_path)
    good_root(root)
    build(root)
    assert convert_cli([root, *ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {osp.join(root, "DL_info.csv")} {message}']
    assert leftovers(osp.join(root, 'annotations')) == []
    if build is not _bad_bytes:  # a bad record can be skipped; bytes that are not UTF-8 not
        assert convert_cli([root, *ARGS, '--skip-bad-rows']) == 0
        report = _report(osp.join(root, 'annotations'))
        assert report['events']['bad_row']['count'] == 1
        assert [s['images'] for s in report['splits'].values()] == [1, 0, 1]


# ----------------------------------------------------------------------------- 3. geometry

def _resave_nifti(path, affine):
    import nibabel as nib
    img = nib.load(path)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), affine), path)


def _lits_affine(spacing_dhw):
    return np.diag(list(spacing_dhw[::-1]) + [1.0])


@pytest.mark.parametrize('edit,values', [
    (lambda a: a.__setitem__((2, 2), 3.0),
     'spacing (0.8, 0.8, 3) vs (0.8, 0.8, 2.5) mm (tolerance 0.001 mm)'),
    (lambda a: a.__setitem__((0, 3), 5.0),
     'origin (-5, 0, 0) vs (0, 0, 0) mm (LPS; tolerance 0.001 mm)'),
    (lambda a: a.__setitem__((1, 1), -a[1, 1]),
     'direction (-1, 0, 0, 0, 1, 0, 0, 0, 1) vs (-1, 0, 0, 0, -1, 0, 0, 0, 1) '
     '(tolerance 0.0001)'),
], ids=['spacing', 'origin', 'direction'])
def test_lits_label_on_another_grid_is_refused(tmp_path, capsys, repo_root, edit, values):
    cli = load_script(repo_root, 'data_prep/lits_to_json.py')
    root = str(tmp_path / 'lits')
    cases = make_lits_like(root, num_cases=4, shape=(6, 10, 12))
    seg = osp.join(root, 'Training Batch 1', 'segmentation-2.nii')
    vol = osp.join(root, 'Training Batch 1', 'volume-2.nii')
    affine = _lits_affine(cases[2]['spacing'])
    edit(affine)
    _resave_nifti(seg, affine)
    before = _snapshot(root)
    assert cli.main([root, '--quiet']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {seg}: geometry differs from the image {vol}: {values}']
    assert _snapshot(root) == before                 # no lits.json, nothing else
    # within the tolerance (0.0005 mm): accepted, and the json is written
    affine = _lits_affine(cases[2]['spacing'])
    affine[0, 3] = 5e-4
    _resave_nifti(seg, affine)
    assert cli.main([root, '--quiet']) == 0
    assert len(json.load(open(osp.join(root, 'lits.json')))['training']) == 3


def test_promise12_label_with_another_origin_is_refused(tmp_path, capsys, repo_root):
    import SimpleITK as sitk
    cli = load_script(repo_root, 'data_prep/promise12_to_json.py')
    root = str(tmp_path / 'promise')
    make_promise12_like(root, num_cases=4, shape=(4, 10, 12))
    seg = osp.join(root, 'Case02_segmentation.mhd')
    img = sitk.ReadImage(seg)
    img.SetOrigin((0.0, 12.5, 0.0))
    sitk.WriteImage(img, seg)
    before = _snapshot(root)
    assert cli.main([root, '--quiet']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {seg}: geometry differs from the image '
                   f'{osp.join(root, "Case02.mhd")}: origin (0, 12.5, 0) vs (0, 0, 0) mm '
                   '(LPS; tolerance 0.001 mm)']
    assert _snapshot(root) == before


def test_brats_seg_with_another_spacing_is_refused(tmp_path, capsys, repo_root):
    cli = load_script(repo_root, 'data_prep/brats18_to_json.py')
    root = str(tmp_path / 'raw')
    cases = make_brats_like(root, num_cases=3, shape=(6, 10, 12))
    case = sorted(cases)[0]
    folder = osp.join(root, 'HGG', case)
    seg = osp.join(folder, f'{case}_seg.nii.gz')
    _resave_nifti(seg, np.diag([1.0, 1.0, 1.2, 1.0]))
    out = str(tmp_path / 'out')
    assert cli.main([root, out, '--quiet']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {seg}: geometry differs from the flair '
                   f'{osp.join(folder, case)}_flair.nii.gz: spacing (1, 1, 1.2) vs (1, 1, 1) mm '
                   '(tolerance 0.001 mm)']
    assert not osp.exists(out)


# ----------------------------------------------------------------------------- 4. all or nothing

def _truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def _mtimes(folder):
    return {p: os.stat(osp.join(folder, p)).st_mtime_ns for p in leftovers(folder)}


def test_brats_failing_on_the_3rd_case_leaves_the_output_as_it_was(tmp_path, capsys, repo_root):
    import nibabel as nib
    cli = load_script(repo_root, 'data_prep/brats18_to_json.py')
    root = str(tmp_path / 'raw')
    cases = sorted(make_brats_like(root, num_cases=5, shape=(6, 10, 12)))
    folders = {c: [d for d, _, _ in os.walk(root) if osp.basename(d) == c][0] for c in cases}
    out = str(tmp_path / 'out')

    # a fresh run that fails at the 3rd case: no output folder at all
    t1 = osp.join(folders[cases[2]], f'{cases[2]}_t1.nii.gz')
    good_t1 = open(t1, 'rb').read()
    _truncate(t1)
    assert cli.main([root, out, '--quiet']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f'error: {t1}: unreadable NIfTI (')
    assert not osp.exists(out)

    # a successful run, then a failing re-run with --overwrite: the first run's files survive
    open(t1, 'wb').write(good_t1)
    assert cli.main([root, out, '--quiet']) == 0
    before, mtimes = _snapshot(out), _mtimes(out)
    assert len(before) == 11                        # 5 images, 5 labels, brats18.json
    flair0 = osp.join(folders[cases[0]], f'{cases[0]}_flair.nii.gz')
    img = nib.load(flair0)                          # new input for case 1: a re-run rewrites it
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj) + 1, img.affine), flair0)
    _truncate(t1)
    assert cli.main([root, out, '--quiet', '--overwrite']) == 1
    assert capsys.readouterr().err.strip().startswith(f'error: {t1}: unreadable NIfTI (')
    assert _snapshot(out) == before and _mtimes(out) == mtimes


def test_lidc_failing_on_the_3rd_series_leaves_the_output_as_it_was(tmp_path, capsys, repo_root):
    cli = load_script(repo_root, 'data_prep/lidc_to_npz.py')
    root = str(tmp_path / 'raw')
    patients = make_lidc_like(root, num_patients=3, shape=(12, 32, 32))
    out = str(tmp_path / 'out')
    assert cli.main([root, out, '--quiet', '--spacing', '0', '--size', '16']) == 0
    before = _snapshot(out)
    assert sorted(before) == ['lidc_nodules.json'] + [f'nodules/{p}_n00.npz'
                                                      for p in sorted(patients)]
    # the 3rd patient's XML now draws outside the slice: found only when its series is
    # converted, after the first two have been cropped
    third = sorted(patients)[2]
    xml = [osp.join(d, n) for d, _, fs in os.walk(osp.join(root, third)) for n in fs
           if n.endswith('.xml')][0]
    text = open(xml).read()
    open(xml, 'w').write(text.replace('<xCoord>', '<xCoord>99', 1))
    assert cli.main([root, out, '--quiet', '--size', '24']) == 1   # other crops: new files
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f'error: {xml}: reader 0 nodule ') and \
        err[0].endswith('edge map outside the 32 x 32 slice')
    assert _snapshot(out) == before
    fresh = str(tmp_path / 'fresh')
    assert cli.main([root, fresh, '--quiet']) == 1
    assert not osp.exists(fresh)


# ----------------------------------------------------------------------------- 5. unwritable

@pytest.fixture()
def read_only_dir(tmp_path, monkeypatch):
    """A folder nobody may write to (mode 0o555). Root ignores the mode: then the kernel's
    refusal is simulated at the system-call boundary (``os.open`` with ``O_CREAT`` and
    ``os.mkdir`` below the folder raise ``EACCES``)."""
    folder = tmp_path / 'read_only'
    folder.mkdir()
    folder.chmod(0o555)
    try:
        fd = os.open(folder / 'probe', os.O_CREAT | os.O_WRONLY)
        os.close(fd)
        os.remove(folder / 'probe')
        blocked = False
    except PermissionError:
        blocked = True
    if not blocked:
        inside = str(folder) + os.sep
        real_open, real_mkdir = os.open, os.mkdir

        def refuse(path):
            if osp.abspath(os.fsdecode(path)).startswith(inside):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

        def fake_open(path, flags, *args, **kwargs):
            if flags & os.O_CREAT:
                refuse(path)
            return real_open(path, flags, *args, **kwargs)

        def fake_mkdir(path, *args, **kwargs):
            refuse(path)
            return real_mkdir(path, *args, **kwargs)
        monkeypatch.setattr(os, 'open', fake_open)
        monkeypatch.setattr(os, 'mkdir', fake_mkdir)
    yield str(folder)
    monkeypatch.undo()
    folder.chmod(0o755)


def test_unwritable_deeplesion_output_fails_before_grabcut(tmp_path, convert_cli, capsys,
                                                          monkeypatch, read_only_dir):
    root = str(tmp_path / 'dl')
    good_root(root)

    def no_work(*args, **kwargs):
        raise AssertionError('GrabCut ran although the output folder is not writable')
    monkeypatch.setattr(deeplesion_coco, 'recist_grabcut_mask', no_work)
    monkeypatch.setattr(deeplesion_coco, 'read_dl_info', no_work)
    for out, message in [
            (read_only_dir, f'output folder {read_only_dir} is not writable (Permission denied)'),
            (osp.join(read_only_dir, 'annotations'),
             f'output folder {read_only_dir}/annotations cannot be created: {read_only_dir} is '
             'not writable (Permission denied)')]:
        assert convert_cli([root, '--out', out, *ARGS]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [f'error: {message}']
        assert leftovers(read_only_dir) == []
    # a file where the output folder should be
    blocker = osp.join(root, 'annotations')
    open(blocker, 'w').close()
    assert convert_cli([root, *ARGS]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f'error: output folder {blocker} is not a folder']


def _volume_scripts(tmp_path, out):
    """(script, argv) of every volume converter and generator, its output inside ``out``."""
    lits, promise, brats, lidc = (str(tmp_path / n) for n in ('lits', 'pr', 'br', 'lidc'))
    make_lits_like(lits, num_cases=2, shape=(4, 8, 8))
    make_promise12_like(promise, num_cases=2, shape=(4, 8, 8))
    make_brats_like(brats, num_cases=2, shape=(4, 8, 8))
    make_lidc_like(lidc, num_patients=1, shape=(12, 32, 32))
    return [
        ('data_prep/lits_to_json.py', [lits, '--out', osp.join(out, 'lits.json'), '--quiet'], 1),
        ('data_prep/promise12_to_json.py', [promise, '--out', osp.join(out, 'p.json'),
                                            '--quiet'], 1),
        ('data_prep/brats18_to_json.py', [brats, out, '--quiet'], 1),
        ('data_prep/lidc_to_npz.py', [lidc, out, '--quiet'], 1),
        ('data_prep/make_poc_shapes.py', [out, '--num', '2', '--quiet'], 2),
        ('data_prep/make_gsp_bench.py', [out, '--num-train', '2', '--num-test', '1',
                                         '--quiet'], 2),
        ('data_prep/make_synthetic_nodules.py', [out, '--num', '2', '--size', '8', '--quiet'],
         2),
        ('data_prep/make_demo_deeplesion.py', [out, '--num-series', '2', '--image-size', '64'],
         2),
    ]


def test_every_data_prep_script_checks_its_output_folder_first(tmp_path, capsys, repo_root,
                                                               read_only_dir):
    scripts = _volume_scripts(tmp_path, read_only_dir)
    assert len(scripts) + 1 == len([n for n in os.listdir(osp.join(repo_root, 'data_prep'))
                                    if n.endswith('.py')])  # + deeplesion_to_coco.py
    for script, argv, code in scripts:
        cli = load_script(repo_root, script)
        assert cli.main(argv) == code, script
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f'error: output folder {read_only_dir} is not writable '
                       '(Permission denied)'], script
        assert leftovers(read_only_dir) == [], script


# ----------------------------------------------------------------------------- 6. properties

_NUM = st.integers(0, 51200).map(lambda v: v / 100)          # 0 .. 512, 2 decimals
_SPLITS = {1: 'train', 2: 'val', 3: 'test'}


def _text(values):
    return ', '.join(f'{v:g}' for v in values)


@st.composite
def _key_slice(draw):
    """Per key slice metadata, shared by all its rows (as in the real file)."""
    key = draw(st.integers(0, 9999))
    lo = draw(st.integers(max(0, key - 30), key))
    return dict(series=f'{draw(st.integers(1, 999999)):06d}_{draw(st.integers(1, 99)):02d}_'
                       f'{draw(st.integers(1, 99)):02d}',
                key=key, slice_range=(lo, draw(st.integers(key, key + 30))),
                spacing=(draw(st.sampled_from([0.5, 0.703125, 0.8, 0.976562])),
                         draw(st.sampled_from([0.625, 1.0, 2.0, 2.5, 5.0]))),
                size=draw(st.sampled_from([(512, 512), (64, 64), (512, 640)])),
                split=draw(st.sampled_from([1, 2, 3])),
                gender=draw(st.sampled_from(['M', 'F', ''])),
                age=draw(st.sampled_from(['', 'NaN', '5', '71', '63.5'])))


@st.composite
def _lesion(draw, ks):
    """One valid csv row (text fields) for the key slice ``ks``."""
    xs = sorted(draw(st.lists(_NUM, min_size=2, max_size=2)))
    ys = sorted(draw(st.lists(_NUM, min_size=2, max_size=2)))
    low = draw(st.integers(-1500, 200)) + draw(st.sampled_from([0, 0.5]))
    series = ks['series']
    return {
        'File_name': f'{series}_{ks["key"]:03d}.png', 'Patient_index': int(series[:6]),
        'Study_index': int(series[7:9]), 'Series_ID': int(series[10:12]),
        'Key_slice_index': ks['key'],
        'Measurement_coordinates': _text(draw(st.lists(_NUM, min_size=8, max_size=8))),
        'Bounding_boxes': _text([xs[0], ys[0], xs[1], ys[1]]),
        'Lesion_diameters_Pixel_': _text(draw(st.lists(_NUM, min_size=2, max_size=2))),
        'Normalized_lesion_location': '0.5, 0.4, 0.3',
        'Coarse_lesion_type': draw(st.sampled_from([-1, 1, 2, 3, 4, 5, 6, 7, 8])),
        'Possibly_noisy': draw(st.sampled_from([0, 1])),
        'Slice_range': _text(ks['slice_range']),
        'Spacing_mm_px_': _text([ks['spacing'][0], ks['spacing'][0], ks['spacing'][1]]),
        'Image_size': _text(ks['size']),
        'DICOM_windows': _text([low, low + draw(st.integers(1, 2000))]),
        'Patient_gender': ks['gender'], 'Patient_age': ks['age'],
        'Train_Val_Test': ks['split']}


def _not_a_number(text):
    try:
        float(text)
        return False
    except ValueError:
        return True


_WORD = st.text('abcxyz-+. ', min_size=1, max_size=6).filter(
    lambda t: t.strip() and _not_a_number(t.strip()))
_INT_COLUMNS = ('Key_slice_index', 'Patient_index', 'Coarse_lesion_type', 'Possibly_noisy',
                'Train_Val_Test')
_NUMBER_COLUMNS = {'Measurement_coordinates': 8, 'Bounding_boxes': 4,
                   'Lesion_diameters_Pixel_': 2, 'Spacing_mm_px_': 3, 'DICOM_windows': 2}


@st.composite
def _corruption(draw):
    """(kind, function row dict -> None changing it in place, column the message names)."""
    kind = draw(st.sampled_from(['count', 'word', 'int_word', 'split', 'window', 'outside',
                                 'control', 'fields']))
    if kind == 'count':
        column = draw(st.sampled_from(sorted(_NUMBER_COLUMNS)))
        n = draw(st.integers(0, 12).filter(lambda k: k != _NUMBER_COLUMNS[column]))
        values = _text(draw(st.lists(_NUM, min_size=n, max_size=n)))
        return kind, lambda r: r.__setitem__(column, values), column
    if kind == 'word':
        column = draw(st.sampled_from(sorted(_NUMBER_COLUMNS)))
        word, pos = draw(_WORD), draw(st.integers(0, 1))

        def edit(r):
            parts = r[column].split(', ')
            parts[pos] = word
            r[column] = ', '.join(parts)
        return kind, edit, column
    if kind == 'int_word':
        column, word = draw(st.sampled_from(_INT_COLUMNS)), draw(_WORD)
        return kind, lambda r: r.__setitem__(column, word), column
    if kind == 'split':
        code = draw(st.integers(-5, 20).filter(lambda c: c not in _SPLITS))
        return kind, lambda r: r.__setitem__('Train_Val_Test', code), 'Train_Val_Test'
    if kind == 'window':
        low, drop = draw(st.integers(-1000, 1000)), draw(st.integers(0, 500))
        return kind, lambda r: r.__setitem__('DICOM_windows', _text([low, low - drop])), \
            'DICOM_windows'
    if kind == 'outside':
        def edit(r):
            key = int(r['Key_slice_index'])
            r['Slice_range'] = _text([key + 1, key + 5]) if key < 9990 else _text([0, key - 1])
        return kind, edit, 'Slice_range'
    if kind == 'control':
        char = draw(st.sampled_from(['\n', '\r', '\r\n', '\x0b', '\x1f', '\x85', '\u2028',
                                     '\x00']))
        return kind, lambda r: r.__setitem__('Patient_gender', f'M{char}F'), 'Patient_gender'
    extra = draw(st.integers(1, 3))                  # surplus fields (written as a list)
    return kind, lambda r: r.__setitem__(None, ['x'] * extra), 'row'


@st.composite
def _dl_info(draw):
    """A DL_info.csv: (text, [(csv row dict, first line)], bad row index or None, kind,
    column)."""
    slices = draw(st.lists(_key_slice(), min_size=1, max_size=3))
    rows = [draw(_lesion(draw(st.sampled_from(slices)))) for _ in range(draw(st.integers(1, 6)))]
    for _ in range(draw(st.integers(0, 2))):          # exact copies of earlier rows
        rows.insert(draw(st.integers(0, len(rows))), dict(draw(st.sampled_from(rows))))
    bad = kind = column = None
    if draw(st.booleans()):
        bad = draw(st.integers(0, len(rows) - 1))
        kind, edit, column = draw(_corruption())
        rows[bad] = dict(rows[bad])
        edit(rows[bad])
    terminator = draw(st.sampled_from(['\n', '\r\n']))

    def record(fields):
        # '\r\n' as the writer's terminator makes it quote every field holding '\r' or '\n'
        # (with '\n' it would leave a lone '\r' unquoted: a broken file, not the one meant)
        buf = io.StringIO(newline='')
        csv.writer(buf, lineterminator='\r\n').writerow(fields)
        return buf.getvalue()[:-2] + terminator
    text = record(DL_INFO_COLUMNS)
    placed, line = [], 2
    for row in rows:
        chunk = record([row[c] for c in DL_INFO_COLUMNS] + row.get(None, []))
        placed.append((row, line))
        line += len(io.StringIO(chunk, newline='').readlines())
        text += chunk
    if draw(st.booleans()):
        text = '\ufeff' + text
    return text, placed, bad, kind, column


def _expected(row, line):
    """The record fields ``read_dl_info`` must give for a valid generated row."""
    nums = lambda c: tuple(float(v) for v in row[c].split(', '))  # noqa: E731
    spacing = nums('Spacing_mm_px_')
    age = row['Patient_age']
    return dict(file_name=row['File_name'], series=row['File_name'][:12],
                key_slice=row['Key_slice_index'], patient=row['Patient_index'],
                study=row['Study_index'], series_id=row['Series_ID'],
                recist=tuple(v - 1 for v in nums('Measurement_coordinates')),
                bbox=tuple(v - 1 for v in nums('Bounding_boxes')),
                diameters_px=nums('Lesion_diameters_Pixel_'),
                location=nums('Normalized_lesion_location'),
                lesion_type=row['Coarse_lesion_type'], noisy=row['Possibly_noisy'],
                slice_range=tuple(int(v) for v in nums('Slice_range')),
                pixel_spacing=spacing[0], slice_interval=spacing[2],
                image_size=tuple(int(v) for v in nums('Image_size')),
                dicom_window=nums('DICOM_windows'), gender=row['Patient_gender'] or None,
                age=None if age in ('', 'NaN') else float(age),
                split=_SPLITS[row['Train_Val_Test']], row=line)


def _check_refusal(message, path, line, column):
    assert len(message.splitlines()) == 1 and '\n' not in message and 'Traceback' not in message
    assert message.startswith(f'{path} row {line} ('), message
    assert f'): {column} ' in message, message


def _dedup(expected):
    seen, kept, dups = {}, [], []
    for e in expected:
        key = (e['file_name'], e['recist'], e['bbox'])
        if key in seen:
            dups.append((e['row'], seen[key]))
        else:
            seen[key] = e['row']
            kept.append(e)
    return kept, dups


PROPERTY = settings(max_examples=50, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(_dl_info())
def test_read_dl_info_parses_right_or_refuses_in_one_line(case):
    text, placed, bad, kind, column = case
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'DL_info.csv')
        with open(path, 'w', encoding='utf-8', newline='') as f:
            f.write(text)
        good = [(row, line) for i, (row, line) in enumerate(placed) if i != bad]
        expected = [_expected(row, line) for row, line in good]
        if bad is not None:
            with pytest.raises(DLInfoError) as info:
                read_dl_info(path)
            _check_refusal(str(info.value), path, placed[bad][1], column)
            skipped = []
            records = read_dl_info(path, skip_bad_rows=True, skipped=skipped)
            assert len(skipped) == 1 and skipped[0][0] == placed[bad][1]
            _check_refusal(skipped[0][1], path, placed[bad][1], column)
        else:
            records = read_dl_info(path)
        assert [vars(r) for r in records] == expected
        dropped = []
        kept = drop_duplicate_rows(records, dropped)
        want_kept, want_dups = _dedup(expected)
        assert [r.row for r in kept] == [e['row'] for e in want_kept]
        assert [row for row, _ in dropped] == [row for row, _ in want_dups]
        for (row, first), (_, msg) in zip(want_dups, dropped):
            assert msg.startswith(f'row {row} (') and f'duplicate of row {first} (' in msg


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_dl_info(), st.booleans())
def test_conversion_counts_or_refuses_in_one_line(convert_cli, capsys, case, skip_bad_rows):
    text, placed, bad, kind, column = case
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(osp.join(root, 'Images_png'))   # no series: every key slice is skipped
        path = osp.join(root, 'DL_info.csv')
        with open(path, 'w', encoding='utf-8', newline='') as f:
            f.write(text)
        argv = [root, *ARGS, '--no-grabcut'] + (['--skip-bad-rows'] if skip_bad_rows else [])
        code = convert_cli(argv)
        err = capsys.readouterr().err.strip().splitlines()
        out = osp.join(root, 'annotations')
        if bad is not None and not skip_bad_rows:
            assert code == 2 and len(err) == 1, err
            _check_refusal(err[0][len('error: '):], path, placed[bad][1], column)
            assert err[0].startswith('error: ')
            assert not osp.exists(out)
            return
        assert code == 0, err
        good = [_expected(row, line) for i, (row, line) in enumerate(placed) if i != bad]
        kept, dups = _dedup(good)
        events = _report(out)['events']
        assert events.get('bad_row', {}).get('count', 0) == (bad is not None)
        assert events.get('duplicate_row', {}).get('count', 0) == len(dups)
        assert events.get('missing_series', {}).get('count', 0) == \
            len({e['file_name'] for e in kept})
        assert sorted(os.listdir(out)) == sorted(
            [f'deeplesion_{s}.json' for s in ('train', 'val', 'test')] +
            ['deeplesion_conversion_report.json'])

