"""The DeepLesion-format demo generator: layout, csv format, lesions in 3D, idempotence."""
import os
import os.path as osp

import numpy as np
import pytest

from acsdet.data_prep.deeplesion_demo import make_demo_deeplesion, prepare_demo_deeplesion
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
    assert any(len([q for q in recs if q.file_name == r.file_name]) == 2 for r in recs)
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
