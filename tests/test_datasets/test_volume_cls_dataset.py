"""VolumeClsDataset: json entries with a class label, null labels skipped, the data-scale
subsets, one-line errors naming the file and the entry."""
import json

import pytest

from acsdet.datasets import VolumeClsDataset


def _write(tmp_path, entries, split='training'):
    path = tmp_path / 'cls.json'
    path.write_text(json.dumps({split: entries, 'meta': {}}))
    return str(path)


def _entries(labels):
    return [dict(image=f'nodules/n{i:02d}.npz', malignancy_label=c) for i, c in
            enumerate(labels)]


def test_entries_labels_and_skipped_nulls(tmp_path):
    ann = _write(tmp_path, _entries([0, 1, None, 1]))
    ds = VolumeClsDataset(ann_file=ann, data_root=str(tmp_path), lazy_init=False)
    assert len(ds) == 3
    info = ds.get_data_info(2)
    assert info['gt_label'] == 1 and info['case_id'] == 'n03'
    assert info['img_path'] == str(tmp_path / 'nodules' / 'n03.npz')
    assert ds.metainfo['classes'] == ('benign', 'malignant')


def test_subset_fraction_keeps_the_class_ratio_and_nests(tmp_path):
    ann = _write(tmp_path, _entries([0] * 40 + [1] * 20))
    sizes, kept = {}, {}
    for frac in (0.25, 0.5, 0.75, 1.0):
        ds = VolumeClsDataset(ann_file=ann, data_root=str(tmp_path), subset_fraction=frac)
        labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
        sizes[frac] = (labels.count(0), labels.count(1))
        kept[frac] = {ds.get_data_info(i)['case_id'] for i in range(len(ds))}
    assert sizes == {0.25: (10, 5), 0.5: (20, 10), 0.75: (30, 15), 1.0: (40, 20)}
    assert kept[0.25] < kept[0.5] < kept[0.75] < kept[1.0]


def test_errors_name_the_file_and_entry(tmp_path):
    root = str(tmp_path)
    with pytest.raises(ValueError, match=r'subset_fraction must be in \(0, 1\], got 0'):
        VolumeClsDataset(ann_file=_write(tmp_path, _entries([0])), subset_fraction=0)
    with pytest.raises(FileNotFoundError, match='ann_file not found'):
        VolumeClsDataset(ann_file=str(tmp_path / 'missing.json'))
    ann = _write(tmp_path, [dict(image='a.npz', malignancy_label=0), dict(image='b.npz')])
    with pytest.raises(KeyError, match=r"cls.json: training entry 1 \(b.npz\) has no "
                       r"'malignancy_label' key"):
        VolumeClsDataset(ann_file=ann, data_root=root)
    ann = _write(tmp_path, [dict(image='a.npz', malignancy_label=2)])
    with pytest.raises(ValueError, match=r'training entry 0 \(a.npz\): malignancy_label must be '
                       r'an integer in 0..1 or null, got 2'):
        VolumeClsDataset(ann_file=ann, data_root=root)
    ann = _write(tmp_path, [dict(image='a.npz', malignancy_label=True)])
    with pytest.raises(ValueError, match='got True'):
        VolumeClsDataset(ann_file=ann, data_root=root)
    ann = _write(tmp_path, _entries([0]), split='train')
    with pytest.raises(KeyError, match=r"no key 'training' \(has \['meta', 'train'\]\)"):
        VolumeClsDataset(ann_file=ann, data_root=root)
