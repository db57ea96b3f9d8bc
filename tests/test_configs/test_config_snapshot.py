"""Every shipped config still merges to the same model / dataset dicts and builds a model of
the same size as before the layout change of issue 13 (snapshot in
``tests/data/config_snapshot.json``, written by ``config_snapshot.py`` on the old tree).

The only differences allowed are the key renames listed in docs/contributing.md, applied here
to the old dicts by :func:`renamed`.  A config changed on purpose later gets its entry
rewritten in the same commit: ``configs/acs_maskrcnn_deeplesion_demo.py`` (issue 16: the demo
recipe that learns: 200 series, half-width GroupNorm DenseNet, soft-tissue window)."""
import copy
import json
import os.path as osp

import pytest
from config_snapshot import REPO, config_paths, merged_dicts, parameter_count

SNAPSHOT = osp.join(REPO, 'tests', 'data', 'config_snapshot.json')


def renamed(old: dict) -> dict:
    """The pre-layout dicts of one config with the renames of docs/contributing.md:
    ``VolumeSegmentor.backbone`` -> ``network``; a network's ``pretrained_2d=X`` /
    ``pretrained_2d_skip=S`` -> ``init_cfg=dict(type='Pretrained', checkpoint=X[, skip=S])``."""
    new = copy.deepcopy(old)
    model = new['model']
    if model.get('type') == 'VolumeSegmentor':
        model['network'] = model.pop('backbone')
        net = model['network']
        if 'pretrained_2d' in net:
            init = dict(type='Pretrained', checkpoint=net.pop('pretrained_2d'))
            if 'pretrained_2d_skip' in net:
                init['skip'] = net.pop('pretrained_2d_skip')
            net['init_cfg'] = init
    return new


with open(SNAPSHOT) as f:
    BEFORE = json.load(f)


def test_every_config_of_the_snapshot_is_still_shipped():
    # configs added after the move are not in the snapshot (nothing to compare them with)
    assert sorted(set(BEFORE) - set(config_paths())) == []


@pytest.mark.parametrize('path', sorted(BEFORE))
def test_config_merges_to_the_same_dicts(path):
    expected = renamed({k: v for k, v in BEFORE[path].items() if k != 'num_parameters'})
    assert merged_dicts(path) == expected


@pytest.mark.slow
@pytest.mark.parametrize('path', sorted(BEFORE))
def test_config_builds_a_model_of_the_same_size(path):
    assert parameter_count(path) == BEFORE[path]['num_parameters']


def test_renames_are_applied_to_segmentor_configs_only():
    seg = dict(model=dict(type='VolumeSegmentor', backbone=dict(
        type='FCNResNet3D', pretrained_2d='r18.pth', pretrained_2d_skip=['head'])))
    assert renamed(seg)['model'] == dict(type='VolumeSegmentor', network=dict(
        type='FCNResNet3D', init_cfg=dict(type='Pretrained', checkpoint='r18.pth',
                                          skip=['head'])))
    det = dict(model=dict(type='MaskRCNN', backbone=dict(type='TruncatedDenseNet3D')))
    assert renamed(det) == det
