"""DL_info.csv parsing: the ten real rows of the excerpt, and malformed rows."""
import csv
import os.path as osp

import pytest

from acsdet.data_prep.deeplesion_info import (DL_INFO_COLUMNS, DLInfoError, group_by_key_slice,
                                              parse_dl_info_row, read_dl_info)


@pytest.fixture(scope='module')
def excerpt(shared_dir):
    return osp.join(shared_dir, 'data', 'deeplesion_format', 'DL_info_excerpt.csv')


@pytest.fixture(scope='module')
def records(excerpt):
    return read_dl_info(excerpt)


def _rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_excerpt_first_row_is_0_based(records):
    r = records[0]
    assert len(records) == 10
    assert (r.file_name, r.series, r.key_slice, r.row) == ('000089_01_01_037.png',
                                                           '000089_01_01', 37, 2)
    assert r.recist == pytest.approx((153.273, 175.808, 142.903, 208.029,
                                      159.939, 199.511, 136.977, 190.252))
    assert r.bbox == pytest.approx((131.977, 170.808, 164.939, 213.029))
    assert r.diameters_px == pytest.approx((33.8477, 24.7578))
    assert r.slice_range == (31, 43)
    assert r.pixel_spacing == pytest.approx(0.859375)
    assert r.slice_interval == 5.0
    assert r.dicom_window == (-175.0, 275.0)
    assert (r.gender, r.age, r.split, r.noisy, r.lesion_type) == ('F', 71.0, 'train', 0, -1)
    assert r.long_diameter_mm == pytest.approx(33.8477 * 0.859375)
    assert r.short_diameter_mm == pytest.approx(24.7578 * 0.859375)


def test_excerpt_decimal_window_intervals_and_splits(records):
    by_name = {r.file_name: r for r in records}
    r = by_name['000091_04_01_090.png']
    assert r.dicom_window == (-177.5, 307.5)
    assert r.pixel_spacing == pytest.approx(0.505859)
    assert (r.slice_interval, r.split, r.lesion_type) == (2.0, 'test', 3)
    assert by_name['000092_02_03_212.png'].dicom_window == (-1500.0, 500.0)
    assert by_name['000092_02_03_212.png'].slice_interval == 1.0
    assert by_name['000097_01_01_062.png'].lesion_type == 4
    assert {r.slice_interval for r in records} == {1.0, 2.0, 5.0}
    assert {r.split for r in records} == {'train', 'test'}
    # every box is the RECIST extent +- 5 px in DeepLesion: check the 1-based -> 0-based shift
    for r in records:
        xs, ys = r.recist[0::2], r.recist[1::2]
        assert r.bbox == pytest.approx((min(xs) - 5, min(ys) - 5, max(xs) + 5, max(ys) + 5),
                                       abs=0.01)


def test_excerpt_two_lesions_on_one_key_slice(records):
    groups = group_by_key_slice(records)
    assert len(groups) == 9
    assert list(groups) == sorted(groups)
    two = groups['000091_03_01_093.png']
    assert [r.row for r in two] == [6, 7]
    assert two[0].bbox == pytest.approx((236.344, 223.926, 255.32, 240.319))
    assert two[1].bbox == pytest.approx((234.948, 230.555, 264.168, 252.91))


def _bad(excerpt, **changes):
    row = dict(_rows(excerpt)[0])
    row.update(changes)
    return row


def test_empty_or_nan_age_is_none(excerpt):
    assert parse_dl_info_row(_bad(excerpt, Patient_age=''), 2).age is None
    assert parse_dl_info_row(_bad(excerpt, Patient_age='NaN'), 2).age is None


@pytest.mark.parametrize('column,value,message', [
    ('Measurement_coordinates', '1, 2, 3, 4, 5, 6, 7',
     r'row 9 \(000089_01_01_037.png\): Measurement_coordinates has 7 numbers, expected 8'),
    ('Bounding_boxes', '1, 2, x, 4', r'row 9 .*Bounding_boxes is not numeric: "1, 2, x, 4"'),
    ('Spacing_mm_px_', '0.8, 0.8', r'Spacing_mm_px_ has 2 numbers, expected 3'),
    ('DICOM_windows', '275, -175', r'DICOM_windows has high <= low'),
    ('Patient_age', 'old', r'Patient_age is not numeric: "old"'),
    ('Train_Val_Test', '4', r'Train_Val_Test is 4, expected 1 \(train\)'),
    ('Slice_range', '40, 43', r'Slice_range \[40, 43\] does not contain the key slice 37'),
    ('File_name', '89_037.png', r'File_name is not'),
    ('Key_slice_index', '38', r'Key_slice_index is 38 but File_name says 37'),
    ('Bounding_boxes', '10, 10, 5, 20', r'has x2 < x1'),
])
def test_malformed_row_is_a_one_line_error(excerpt, column, value, message):
    with pytest.raises(DLInfoError, match=message) as info:
        parse_dl_info_row(_bad(excerpt, **{column: value}), 9, 'DL_info.csv')
    assert '\n' not in str(info.value)


def _write(path, rows, header=DL_INFO_COLUMNS):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def test_read_reports_file_and_line_or_skips(excerpt, tmp_path):
    rows = [list(r.values()) for r in _rows(excerpt)]
    rows[3][5] = '1, 2, 3'           # line 5: wrong number of coordinates
    rows[6] = rows[6] + ['extra']    # line 8: one field too many
    path = str(tmp_path / 'DL_info.csv')
    _write(path, rows)
    with pytest.raises(DLInfoError, match=r'DL_info.csv row 5 \(000090_02_01_056.png\): '
                                          r'Measurement_coordinates has 3 numbers'):
        read_dl_info(path)
    skipped = []
    recs = read_dl_info(path, skip_bad_rows=True, skipped=skipped)
    assert len(recs) == 8
    assert [line for line, _ in skipped] == [5, 8]
    assert 'has 19 fields, expected 18' in skipped[1][1]


def test_missing_column_and_missing_file(tmp_path):
    path = str(tmp_path / 'DL_info.csv')
    _write(path, [], header=DL_INFO_COLUMNS[:-1])
    with pytest.raises(DLInfoError, match='header lacks column.*Train_Val_Test'):
        read_dl_info(path)
    with pytest.raises(FileNotFoundError, match='DL_info.csv not found'):
        read_dl_info(str(tmp_path / 'nope.csv'))
