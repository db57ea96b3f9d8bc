"""Builders of small DeepLesion folders (DL_info.csv + Images_png) with one bad input each."""
import csv
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest

from acsdet.data_prep.deeplesion_info import DL_INFO_COLUMNS
from acsdet.fileio.deeplesion_png import write_hu_png

SIZE = 64
RECIST = [22.0, 32.0, 42.0, 32.0, 32.0, 24.0, 32.0, 40.0]  # 0-based, long axis then short


def hu_slice(seed=0):
    """(SIZE, SIZE) float32 HU: soft tissue with a bright disc at the centre."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(20, 10, (SIZE, SIZE)).astype(np.float32)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    hu[(xx - 32) ** 2 + (yy - 32) ** 2 <= 100] += 100
    return hu


def dl_row(series, key, slice_range, recist=RECIST, box=None, split=1, age='50'):
    """One DL_info.csv row from 0-based geometry (written 1-based, as in the real file)."""
    rec = np.asarray(recist, float)
    if box is None:
        box = [rec[0::2].min() - 5, rec[1::2].min() - 5, rec[0::2].max() + 5,
               rec[1::2].max() + 5]
    fmt = lambda v: ', '.join(f'{x:.6g}' for x in v)  # noqa: E731
    return {
        'File_name': f'{series}_{key:03d}.png', 'Patient_index': int(series[:6]),
        'Study_index': 1, 'Series_ID': 1, 'Key_slice_index': key,
        'Measurement_coordinates': fmt(rec + 1), 'Bounding_boxes': fmt(np.asarray(box) + 1),
        'Lesion_diameters_Pixel_': '20, 16', 'Normalized_lesion_location': '0.5, 0.5, 0.5',
        'Coarse_lesion_type': 2, 'Possibly_noisy': 0,
        'Slice_range': f'{slice_range[0]}, {slice_range[1]}',
        'Spacing_mm_px_': '0.8, 0.8, 2', 'Image_size': f'{SIZE}, {SIZE}',
        'DICOM_windows': '-175, 275', 'Patient_gender': 'F', 'Patient_age': age,
        'Train_Val_Test': split}


def write_series(root, series, indices):
    for i in indices:
        write_hu_png(osp.join(root, 'Images_png', series, f'{i:03d}.png'), hu_slice(seed=i))


def write_dl_info(root, rows):
    with open(osp.join(root, 'DL_info.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, DL_INFO_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def good_root(root):
    """A valid folder: one key slice per split (series 1: train, 2: val, 3: test)."""
    os.makedirs(root, exist_ok=True)
    rows = []
    for s, split in ((1, 1), (2, 2), (3, 3)):
        series = f'00000{s}_01_01'
        write_series(root, series, range(9, 12))
        rows.append(dl_row(series, 10, (9, 11), split=split))
    write_dl_info(root, rows)
    return rows


@pytest.fixture(scope='session')
def convert_cli(repo_root):
    """``main(argv) -> exit code`` of data_prep/deeplesion_to_coco.py, loaded in-process."""
    spec = importlib.util.spec_from_file_location(
        'deeplesion_to_coco_cli', osp.join(repo_root, 'data_prep', 'deeplesion_to_coco.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def leftovers(folder):
    """Files under ``folder`` (relative paths, sorted); [] when it does not exist."""
    out = []
    for dirpath, _, files in os.walk(folder):
        out += [osp.relpath(osp.join(dirpath, f), folder) for f in files]
    return sorted(out)
