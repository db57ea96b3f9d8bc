"""DeepLesionDemoDataset writes the demo data on first use and reuses it afterwards."""
import os

import pytest

from acsdet.apis import register_all_modules
from acsdet.datasets import DeepLesionDemoDataset

PIPELINE = [dict(type='LoadDeepLesionSlices', num_slices=3),
            dict(type='LoadDeepLesionAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackMultiSliceDetInputs')]


@pytest.fixture(autouse=True)
def _scope():
    register_all_modules()


def _build(root, split='train'):
    return DeepLesionDemoDataset(
        demo_cfg=dict(num_series=10, image_size=64, seed=1), data_root=str(root) + '/',
        ann_file=f'annotations/deeplesion_{split}.json', data_prefix=dict(img='Images_png/'),
        pipeline=PIPELINE, test_mode=split != 'train')


def test_generates_on_first_use_then_reuses(tmp_path):
    root = tmp_path / 'demo'
    assert not root.exists()
    train = _build(root)
    assert (root / 'DL_info.csv').is_file()
    assert (root / 'annotations' / 'deeplesion_val.json').is_file()
    assert len(train) > 0
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (1, 3, 64, 64)

    stamp = root / 'annotations' / 'deeplesion_train.json'
    before = stamp.stat().st_mtime_ns
    val = _build(root, 'val')  # second dataset of the same config: nothing rewritten
    assert stamp.stat().st_mtime_ns == before
    assert len(val) > 0 and {d['img_id'] for d in val.data_list}.isdisjoint(
        {d['img_id'] for d in train.data_list})


def test_needs_a_data_root():
    with pytest.raises(ValueError, match='DeepLesionDemoDataset needs data_root'):
        DeepLesionDemoDataset(demo_cfg={}, ann_file='x.json', pipeline=[])


def test_demo_written_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _build('rel_demo')
    assert os.path.isfile(tmp_path / 'rel_demo' / 'annotations' / 'deeplesion_train.json')
