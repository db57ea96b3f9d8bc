"""COCO conversion: contract fields, masks, determinism, atomic writes, each bad-input case."""
import csv
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from acsdet.data_prep import deeplesion_coco
from acsdet.data_prep.deeplesion_coco import convert_deeplesion
from acsdet.data_prep.deeplesion_info import DL_INFO_COLUMNS, DLInfoError
from acsdet.fileio.deeplesion_png import write_hu_png

SIZE = 128


def _slice(cx=64, cy=64, r=10, seed=0):
    rng = np.random.default_rng(seed)
    hu = rng.normal(20, 10, (SIZE, SIZE)).astype(np.float32)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    hu[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] += 100
    return hu


def _row(series, key, rng_, recist, box=None, split=1, noisy=0, interval=2.0, age='50'):
    """A DL_info.csv row from 0-based geometry (written 1-based like the real file)."""
    rec = np.asarray(recist, float)
    if box is None:
        xs, ys = rec[0::2], rec[1::2]
        box = [xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5]
    fmt = lambda v: ', '.join(f'{x:.6g}' for x in v)  # noqa: E731
    return {
        'File_name': f'{series}_{key:03d}.png', 'Patient_index': int(series[:6]),
        'Study_index': 1, 'Series_ID': 1, 'Key_slice_index': key,
        'Measurement_coordinates': fmt(rec + 1), 'Bounding_boxes': fmt(np.asarray(box) + 1),
        'Lesion_diameters_Pixel_': '20, 20', 'Normalized_lesion_location': '0.5, 0.5, 0.5',
        'Coarse_lesion_type': 2, 'Possibly_noisy': noisy, 'Slice_range': f'{rng_[0]}, {rng_[1]}',
        'Spacing_mm_px_': f'0.8, 0.8, {interval:g}', 'Image_size': f'{SIZE}, {SIZE}',
        'DICOM_windows': '-175, 275', 'Patient_gender': 'F', 'Patient_age': age,
        'Train_Val_Test': split}


GOOD = [54.0, 64.0, 74.0, 64.0, 64.0, 54.0, 64.0, 74.0]


def _dataset(root):
    images = osp.join(root, 'Images_png')
    rows = []
    # A: good key slice, two lesions (one noisy), train
    for i in range(8, 13):
        write_hu_png(osp.join(images, '000001_01_01', f'{i:03d}.png'), _slice(seed=i))
    rows.append(_row('000001_01_01', 10, (8, 12), GOOD))
    rows.append(_row('000001_01_01', 10, (8, 12), [20, 20, 30, 20, 25, 15, 25, 25], noisy=1))
    # B: series folder missing
    rows.append(_row('000002_01_01', 5, (3, 7), GOOD))
    # C: 8-bit key slice
    os.makedirs(osp.join(images, '000003_01_01'))
    cv2.imwrite(osp.join(images, '000003_01_01', '007.png'), np.zeros((SIZE, SIZE), np.uint8))
    rows.append(_row('000003_01_01', 7, (7, 7), GOOD))
    # D: corrupt key slice
    os.makedirs(osp.join(images, '000004_01_01'))
    with open(osp.join(images, '000004_01_01', '004.png'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n not really a png')
    rows.append(_row('000004_01_01', 4, (4, 4), GOOD))
    # E: neighbour 18 missing; zero RECIST, box partly outside, box wholly outside; val split
    for i in (19, 20, 21, 22):
        write_hu_png(osp.join(images, '000005_01_01', f'{i:03d}.png'), _slice(seed=i))
    rows.append(_row('000005_01_01', 20, (17, 22), GOOD, split=2))
    rows.append(_row('000005_01_01', 20, (17, 22), [60, 60, 60, 60, 60, 60, 60, 60], split=2))
    rows.append(_row('000005_01_01', 20, (17, 22), [110, 100, 124, 100, 117, 95, 117, 105],
                     box=[105, 90, 131, 110], split=2))
    rows.append(_row('000005_01_01', 20, (17, 22), GOOD, box=[200, 200, 250, 250], split=2))
    # F: only a zero-length lesion -> image dropped; test split
    write_hu_png(osp.join(images, '000006_01_01', '003.png'), _slice())
    rows.append(_row('000006_01_01', 3, (3, 3), [60, 60, 60, 60, 55, 60, 65, 60], split=3))
    # G: good test image with an empty age and 5 mm slices
    write_hu_png(osp.join(images, '000007_01_01', '030.png'), _slice(seed=7))
    rows.append(_row('000007_01_01', 30, (30, 30), GOOD, split=3, age='', interval=5.0))
    path = osp.join(root, 'DL_info.csv')
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=DL_INFO_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path, images


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('dl'))
    csv_path, images = _dataset(root)
    out = osp.join(root, 'annotations')
    report = convert_deeplesion(csv_path, images, out, workers=0, progress=False)
    return root, csv_path, images, out, report


def test_contract_fields_and_masks(converted):
    root, _, _, out, report = converted
    coco = COCO(osp.join(out, 'deeplesion_train.json'))
    assert coco.dataset['categories'] == [{'id': 1, 'name': 'lesion', 'supercategory': 'lesion'}]
    (img,) = coco.dataset['images']
    assert img == {'id': 1, 'file_name': '000001_01_01/010.png', 'width': SIZE, 'height': SIZE,
                   'series': '000001_01_01', 'key_slice': 10, 'slice_interval': 2.0,
                   'pixel_spacing': 0.8, 'slice_range': [8, 12], 'dicom_window': [-175.0, 275.0],
                   'gender': 'F', 'age': 50.0, 'split': 'train'}
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1], iscrowd=None))
    assert [a['noisy'] for a in anns] == [0, 1] and [a['iscrowd'] for a in anns] == [0, 1]
    a = anns[0]
    assert a['bbox'] == pytest.approx([49.0, 49.0, 30.0, 30.0])
    assert a['recist'] == pytest.approx(GOOD)
    assert a['long_diameter_mm'] == pytest.approx(16.0) and a['lesion_type'] == 2
    assert isinstance(a['segmentation']['counts'], str)
    m = coco.annToMask(a).astype(bool)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    disk = (xx - 64) ** 2 + (yy - 64) ** 2 <= 100
    assert (m & disk).sum() / (m | disk).sum() > 0.8
    assert a['area'] == m.sum()
    assert report['splits']['train'] == {'file': osp.join(out, 'deeplesion_train.json'),
                                         'images': 1, 'lesions': 2, 'noisy_lesions': 1}
    assert report['mask_quality']['num_masks'] == 5


def test_each_bad_input_is_a_counted_logged_skip(converted):
    _, _, images, out, report = converted
    ev = report['events']
    counts = {k: v['count'] for k, v in ev.items()}
    assert counts == {'missing_series': 1, 'bad_png': 2, 'narrowed_slice_range': 1,
                      'zero_recist': 2, 'box_clipped': 1, 'box_outside': 1,
                      'no_valid_lesions': 1}
    assert 'series folder not found' in ev['missing_series']['messages'][0]
    assert any('got uint8' in m for m in ev['bad_png']['messages'])
    assert any('cannot decode slice (corrupt PNG?)' in m for m in ev['bad_png']['messages'])
    assert ev['narrowed_slice_range']['messages'] == [
        'rows 7,8,9,10 (000005_01_01_020.png): slices missing in [17, 22]; using [19, 22]']
    assert ev['zero_recist']['messages'][0].startswith('row 8 (000005_01_01_020.png): RECIST')
    val = json.load(open(osp.join(out, 'deeplesion_val.json')))
    assert val['images'][0]['slice_range'] == [19, 22]
    boxes = [a['bbox'] for a in val['annotations']]
    assert len(boxes) == 2 and boxes[1] == pytest.approx([105.0, 90.0, 22.0, 20.0])  # x2 clipped
    test = json.load(open(osp.join(out, 'deeplesion_test.json')))
    assert [i['file_name'] for i in test['images']] == ['000007_01_01/030.png']
    assert test['images'][0]['age'] is None and test['images'][0]['slice_interval'] == 5.0


def test_rerun_is_byte_identical_with_workers(converted, tmp_path):
    _, csv_path, images, out, _ = converted
    convert_deeplesion(csv_path, images, str(tmp_path), workers=2, progress=False)
    for split in ('train', 'val', 'test'):
        with open(osp.join(out, f'deeplesion_{split}.json'), 'rb') as f1, \
                open(osp.join(tmp_path, f'deeplesion_{split}.json'), 'rb') as f2:
            assert f1.read() == f2.read()


def test_malformed_csv_stops_before_writing(converted, tmp_path):
    _, csv_path, images, _, _ = converted
    lines = open(csv_path).read().splitlines()
    lines[2] = lines[2].replace('"20, 20"', '"20, x"')
    bad = tmp_path / 'DL_info.csv'
    bad.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'ann'
    with pytest.raises(DLInfoError, match=r'row 3 \(000001_01_01_010.png\): '
                                          r'Lesion_diameters_Pixel_ is not numeric'):
        convert_deeplesion(str(bad), images, str(out), progress=False)
    assert not out.exists()
    report = convert_deeplesion(str(bad), images, str(out), skip_bad_rows=True, progress=False)
    assert report['events']['bad_row']['count'] == 1
    assert report['splits']['train']['lesions'] == 1


def test_json_write_is_atomic(converted, tmp_path, monkeypatch):
    _, csv_path, images, _, _ = converted
    out = tmp_path / 'ann'
    out.mkdir()
    (out / 'deeplesion_train.json').write_text('{"old": true}')

    def broken_dump(obj, f, **kw):
        f.write('{"images": [')
        raise OSError('disk full')
    monkeypatch.setattr(deeplesion_coco.json, 'dump', broken_dump)
    with pytest.raises(OSError, match='disk full'):
        convert_deeplesion(csv_path, images, str(out), progress=False)
    assert sorted(os.listdir(out)) == ['deeplesion_train.json']
    assert json.load(open(out / 'deeplesion_train.json')) == {'old': True}


def _load_cli(repo_root):
    import importlib.util
    path = osp.join(repo_root, 'data_prep', 'deeplesion_to_coco.py')
    spec = importlib.util.spec_from_file_location('deeplesion_to_coco', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_help_and_run(converted, tmp_path, repo_root, capsys, caplog):
    cli = _load_cli(repo_root)
    _, csv_path, _, _, _ = converted
    with pytest.raises(SystemExit) as info:
        cli.main(['--help'])
    assert info.value.code == 0 and '--workers' in capsys.readouterr().out
    with caplog.at_level('WARNING', logger='acsdet.data_prep'):
        rc = cli.main([osp.dirname(csv_path), '--out', str(tmp_path), '--workers', '0',
                       '--no-progress'])
    out = capsys.readouterr().out
    assert rc == 0
    assert 'train: 1 key slices, 2 lesions (1 noisy)' in out and 'missing_series: 1' in out
    assert any(m.startswith('missing_series: rows 4 (000002_01_01_005.png)')
               for m in caplog.messages)
    assert cli.main([str(tmp_path / 'nowhere')]) == 2
    assert capsys.readouterr().err.strip().startswith('error: Images_png folder not found')
