"""Bad DeepLesion input through the user's entry point, ``data_prep/deeplesion_to_coco.py``.

Each case is a valid folder (one key slice per split) plus one bad input.  A bad file or lesion
is a counted, logged skip with a one-line message in ``deeplesion_conversion_report.json`` and
the bad key slice never reaches a json file; a malformed csv row stops the run with a one-line
error before anything is written.  The table of cases is in docs/robustness.md.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import SIZE, dl_row, good_root, leftovers, write_dl_info, write_series

ARGS = ['--workers', '0', '--no-progress']


def _truncated_png(root):
    write_series(root, '000009_01_01', [9, 10, 11])
    path = osp.join(root, 'Images_png', '000009_01_01', '010.png')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    return [dl_row('000009_01_01', 10, (9, 11))]


def _png_8bit(root):
    write_series(root, '000009_01_01', [9, 11])
    cv2.imwrite(osp.join(root, 'Images_png', '000009_01_01', '010.png'),
                np.zeros((SIZE, SIZE), np.uint8))
    return [dl_row('000009_01_01', 10, (9, 11))]


def _missing_neighbours(root):
    write_series(root, '000009_01_01', [10, 11])  # 8 and 9 are missing
    return [dl_row('000009_01_01', 10, (8, 11))]


def _missing_key_slice(root):
    write_series(root, '000009_01_01', [9, 11])
    return [dl_row('000009_01_01', 10, (9, 11))]


def _zero_recist(root):
    write_series(root, '000009_01_01', [9, 10, 11])
    return [dl_row('000009_01_01', 10, (9, 11)),  # a good lesion keeps the key slice
            dl_row('000009_01_01', 10, (9, 11), recist=[30.0] * 8)]


def _box_outside(root):
    write_series(root, '000009_01_01', [9, 10, 11])
    return [dl_row('000009_01_01', 10, (9, 11)),
            dl_row('000009_01_01', 10, (9, 11), box=[100, 100, 120, 120])]


# (case, builder, event kind, message with ROOT for the folder, key slice kept?)
SKIPS = [
    ('truncated PNG', _truncated_png, 'bad_png',
     'rows 5 (000009_01_01_010.png): cannot decode slice (corrupt PNG?): '
     'ROOT/Images_png/000009_01_01/010.png', False),
    ('8-bit PNG where 16-bit is expected', _png_8bit, 'bad_png',
     'rows 5 (000009_01_01_010.png): expected a single-channel 16-bit PNG (HU + 32768), got '
     'uint8 with shape (64, 64): ROOT/Images_png/000009_01_01/010.png', False),
    ('missing neighbour slices', _missing_neighbours, 'narrowed_slice_range',
     'rows 5 (000009_01_01_010.png): slices missing in [8, 11]; using [10, 11]', True),
    ('missing key slice', _missing_key_slice, 'missing_key_slice',
     'rows 5 (000009_01_01_010.png): key slice not found: '
     'ROOT/Images_png/000009_01_01/010.png', False),
    ('zero-length RECIST', _zero_recist, 'zero_recist',
     'row 6 (000009_01_01_010.png): RECIST diameter of zero length (0.00, 0.00 px)', True),
    ('box outside the image', _box_outside, 'box_outside',
     'row 6 (000009_01_01_010.png): box [100.0, 100.0, 120.0, 120.0] lies outside the 64x64 '
     'image', True),
]


def _images(out):
    """{key-slice file: number of lesions} over the three split files."""
    names = {}
    for split in ('train', 'val', 'test'):
        with open(osp.join(out, f'deeplesion_{split}.json')) as f:
            coco = json.load(f)
        for im in coco['images']:
            names[im['file_name']] = sum(a['image_id'] == im['id'] for a in coco['annotations'])
    return names


@pytest.mark.parametrize('case,build,kind,message,kept', SKIPS, ids=[s[0] for s in SKIPS])
def test_bad_file_or_lesion_is_a_counted_skip(tmp_path, convert_cli, case, build, kind,
                                              message, kept):
    root = str(tmp_path)
    rows = good_root(root) + build(root)
    write_dl_info(root, rows)
    assert convert_cli([root, *ARGS]) == 0
    out = osp.join(root, 'annotations')
    with open(osp.join(out, 'deeplesion_conversion_report.json')) as f:
        events = json.load(f)['events']
    assert events == {kind: {'count': 1, 'messages': [message.replace('ROOT', root)]}}
    images = _images(out)
    assert ('000009_01_01/010.png' in images) is kept
    assert len(images) == 3 + kept and set(images.values()) == {1}  # the bad lesion is gone
    assert not [p for p in leftovers(out) if not p.endswith('.json')]  # no temp files


def test_nan_age_is_null_not_an_error(tmp_path, convert_cli):
    root = str(tmp_path)
    rows = good_root(root)
    write_series(root, '000009_01_01', [9, 10, 11])
    write_dl_info(root, rows + [dl_row('000009_01_01', 10, (9, 11), age='NaN')])
    assert convert_cli([root, *ARGS]) == 0
    with open(osp.join(root, 'annotations', 'deeplesion_train.json')) as f:
        ages = {im['file_name']: im['age'] for im in json.load(f)['images']}
    assert ages == {'000001_01_01/010.png': 50.0, '000009_01_01/010.png': None}


MALFORMED = [
    ('Measurement_coordinates', '1, 2, 3', 'Measurement_coordinates has 3 numbers, expected 8: '
     '"1, 2, 3"'),
    ('Train_Val_Test', '7', 'Train_Val_Test is 7, expected 1 (train), 2 (val) or 3 (test)'),
    ('Key_slice_index', 'abc', 'Key_slice_index is not an integer: "abc"'),
]


@pytest.mark.parametrize('column,value,message', MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_csv_row_stops_before_writing(tmp_path, convert_cli, capsys, column, value,
                                                message):
    root = str(tmp_path)
    rows = good_root(root)
    rows[1][column] = value  # csv line 3 (line 1 is the header)
    write_dl_info(root, rows)
    assert convert_cli([root, *ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    csv_path = osp.join(root, 'DL_info.csv')
    assert err == [f'error: {csv_path} row 3 (000002_01_01_010.png): {message}']
    assert leftovers(osp.join(root, 'annotations')) == []

    # --skip-bad-rows: the row is logged and counted instead
    assert convert_cli([root, *ARGS, '--skip-bad-rows']) == 0
    with open(osp.join(root, 'annotations', 'deeplesion_conversion_report.json')) as f:
        report = json.load(f)
    assert report['events']['bad_row']['count'] == 1
    assert report['splits']['val']['images'] == 0


def test_missing_csv_is_one_line(tmp_path, convert_cli, capsys):
    good_root(str(tmp_path))
    os.remove(tmp_path / 'DL_info.csv')
    assert convert_cli([str(tmp_path), *ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path / 'DL_info.csv') in err[0]
    assert leftovers(str(tmp_path / 'annotations')) == []
