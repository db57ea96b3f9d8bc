"""The DeepLesion-format demo generator: layout, csv format, lesions in 3D, look-alikes that
drift and do not end, held-out test anatomy, idempotence, the contact sheet."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from acsdet.data_prep.deeplesion_demo import (anatomy_pools, make_demo_deeplesion,
                                              prepare_demo_deeplesion)
from acsdet.data_prep.deeplesion_info import read_dl_info
from acsdet.fileio.deeplesion_png import read_hu_png, slice_path

SIZE = 256


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    info = make_demo_deeplesion(root, num_series=10, image_size=SIZE, seed=1)
    return root, info


def test_layout_and_csv_parse(demo):
    root, info = demo
    recs = read_dl_info(info['dl_info'])
    assert len(recs) == info['num_lesions'] >= 10
    assert {r.split for r in recs} == {'train', 'val', 'test'}
    assert {r.slice_interval for r in recs} == {1.0, 2.0, 5.0}
    assert any(r.noisy for r in recs) and any(r.age is None for r in recs)
    assert any(r.dicom_window == (-177.5, 307.5) for r in recs)
    assert any(len([q for q in recs if q.file_name == r.file_name]) >= 2 for r in recs)
    for r in recs:
        first, last = r.slice_range
        for i in range(first, last + 1):
            hu = read_hu_png(slice_path(info['images_dir'], r.series, i))
            assert hu.shape == (SIZE, SIZE)
        assert r.image_size == (SIZE, SIZE)
    assert sum(len(os.listdir(osp.join(info['images_dir'], d)))
               for d in os.listdir(info['images_dir'])) == info['num_slices']
    # the raw csv keeps DeepLesion's quoting: "x, y, ..." lists
    line = open(info['dl_info']).read().splitlines()[1]
    assert line.count('"') == 16


def test_lesions_extend_over_several_slices(demo):
    """The lesion core has the lesion's HU on every slice its ellipsoid reaches."""
    _, info = demo
    spans = []
    big = [les for les in info['lesions'] if les['b'] >= 6]  # a core of several pixels
    assert len(big) >= 5
    for les in big:
        yy, xx = np.mgrid[:SIZE, :SIZE]
        core = np.hypot(xx - les['cx'], yy - les['cy']) <= 0.3 * les['b']
        first, last = les['slice_range']
        inside = 0
        for idx in range(first, last + 1):
            z = (idx - les['key_slice']) * les['slice_interval']
            hu = read_hu_png(slice_path(info['images_dir'], les['series'], idx))
            if abs(z - les['z0_mm']) < 0.5 * les['c_mm']:
                assert abs(hu[core].mean() - les['target']) < 30
                inside += 1
        spans.append((les['slice_interval'], inside))
    assert all(n >= 1 for _, n in spans)
    assert all(n >= 3 for iv, n in spans if iv == 1.0)


def test_prepare_is_idempotent(tmp_path):
    root = str(tmp_path / 'demo')
    p = prepare_demo_deeplesion(root, num_series=10, image_size=96)
    stamp = {k: os.stat(p[k]).st_mtime_ns for k in ('dl_info', 'train', 'val', 'test')}
    assert prepare_demo_deeplesion(root, num_series=10, image_size=96) == p
    assert {k: os.stat(p[k]).st_mtime_ns for k in stamp} == stamp
    os.remove(p['val'])  # a missing json triggers the conversion only
    prepare_demo_deeplesion(root, num_series=10, image_size=96)
    assert osp.isfile(p['val']) and os.stat(p['dl_info']).st_mtime_ns == stamp['dl_info']


def test_cli_writes_and_converts(tmp_path, repo_root, capsys):
    import importlib.util
    path = osp.join(repo_root, 'data_prep', 'make_demo_deeplesion.py')
    spec = importlib.util.spec_from_file_location('make_demo_deeplesion', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    root = str(tmp_path / 'demo')
    assert cli.main([root, '--num-series', '10', '--image-size', '64']) == 0
    out = capsys.readouterr().out
    for split in ('train', 'val', 'test'):
        assert osp.join(root, 'annotations', f'deeplesion_{split}.json') in out
        assert osp.isfile(osp.join(root, 'annotations', f'deeplesion_{split}.json'))
    assert len(read_dl_info(osp.join(root, 'DL_info.csv'))) >= 10


def test_splits_follow_the_6_1_3_pattern(demo):
    _, info = demo
    recs = read_dl_info(info['dl_info'])
    per_split = {s: len({r.series for r in recs if r.split == s}) for s in ('train', 'val', 'test')}
    assert per_split == {'train': 6, 'val': 1, 'test': 3}


def test_lookalikes_drift_and_run_through_the_stack(demo):
    """On every slice a look-alike's core has its HU at the drifted centre."""
    _, info = demo
    assert info['num_distractors'] == len(info['distractors']) >= 10
    ranges = {les['series']: (les['slice_range'], les['slice_interval'], les['key_slice'])
              for les in info['lesions']}
    yy, xx = np.mgrid[:SIZE, :SIZE]
    checked = matched = 0
    for dis in info['distractors']:
        (first, last), interval, key = ranges[dis['series']]
        assert key == dis['key_slice']
        assert np.hypot(dis['vx'], dis['vy']) * 2 >= 0.6 * dis['a'] - 1e-6  # >= 0.6 a / 2 mm
        for idx in range(first, last + 1):
            z = (idx - key) * interval
            cx, cy = dis['cx'] + dis['vx'] * z, dis['cy'] + dis['vy'] * z
            core = np.hypot(xx - cx, yy - cy) <= max(0.3 * dis['b'], 1.0)
            if not core.any() or not (0 <= cx < SIZE and 0 <= cy < SIZE):
                continue
            hu = read_hu_png(slice_path(info['images_dir'], dis['series'], idx))
            checked += 1
            matched += abs(hu[core].mean() - dis['target']) < 30
    assert checked >= 40 and matched >= 0.9 * checked


def test_distractors_json_is_keyed_by_the_coco_file_names(tmp_path):
    root = str(tmp_path / 'demo')
    p = prepare_demo_deeplesion(root, num_series=10, image_size=96)
    names = set()
    for split in ('train', 'val', 'test'):
        with open(p[split]) as f:
            names |= {im['file_name'] for im in json.load(f)['images']}
    with open(p['distractors_json']) as f:
        data = json.load(f)
    assert data['image_size'] == 96
    boxes = data['boxes_xyxy_0based']
    assert set(boxes) == names and sum(len(b) for b in boxes.values()) >= 10
    assert all(len(b) == 4 and b[2] > b[0] and b[3] > b[1] for bs in boxes.values() for b in bs)
    plain = prepare_demo_deeplesion(str(tmp_path / 'plain'), num_series=10, image_size=96,
                                    distractors=False)
    with open(plain['distractors_json']) as f:
        assert not any(json.load(f)['boxes_xyxy_0based'].values())


def test_test_anatomy_is_held_out(tmp_path):
    for split in ('train', 'test'):
        (tmp_path / 'a' / split).mkdir(parents=True)
        for i in range(2):
            (tmp_path / 'a' / split / f'{split}{i}.jpg').write_bytes(b'')
    pools = anatomy_pools(str(tmp_path / 'a'))
    assert [osp.basename(f) for f in pools['test']] == ['test0.jpg', 'test1.jpg']
    assert pools['val'] == pools['train'] and not set(pools['train']) & set(pools['test'])
    (tmp_path / 'flat').mkdir()
    (tmp_path / 'flat' / 'x.jpg').write_bytes(b'')
    flat = anatomy_pools(str(tmp_path / 'flat'))
    assert flat['train'] == flat['test'] == [str(tmp_path / 'flat' / 'x.jpg')]
    assert anatomy_pools(None) == {'train': [], 'val': [], 'test': []}


def test_lookalike_sheet(demo, tmp_path):
    import cv2

    from acsdet.visualization import lookalike_contact_sheet
    root, _ = demo
    out = lookalike_contact_sheet(root, str(tmp_path / 'sheet.png'), num=2, tile=48)
    img = cv2.imread(out)
    assert img.shape[0] == 18 + 4 * (48 + 4) and img.shape[1] == 84 + 5 * (48 + 4)
    with pytest.raises(ValueError, match="split 'val' of .* has .* lesions and .* look-alikes, "
                                         '50 of each wanted'):
        lookalike_contact_sheet(root, str(tmp_path / 'x.png'), num=50, split='val')
    assert not (tmp_path / 'x.png').exists()
