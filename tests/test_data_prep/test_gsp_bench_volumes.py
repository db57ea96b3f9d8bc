"""The GSP-Conv CPU benchmark volumes: the large-object set's target is told from its
neighbours by shape and position only, the small-object twin's classes by intensity."""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
from scipy import ndimage

from acsdet.data_prep import generate_gsp_bench, make_gsp_bench_sample
from acsdet.data_prep.gsp_bench_volumes import (BODY_CONTRAST, GSP_BENCH_SHAPE,
                                                GSP_BENCH_SPACING, gsp_bench_rng)
from acsdet.data_prep.output_guard import OutputNotWritableError
from acsdet.fileio import read_volume

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _sample(name, i=0, split='train', seed=0):
    return make_gsp_bench_sample(name, gsp_bench_rng(seed, name, split, i))


def _bodies(image):
    """Connected bodies of the contrast (the texture + noise stay far below half of it)."""
    return ndimage.label(image > BODY_CONTRAST / 2)


@pytest.mark.parametrize('i', range(6))
def test_organ_target_shares_intensity_with_unlabelled_neighbours(i):
    image, label = _sample('organ', i)
    assert image.shape == label.shape == GSP_BENCH_SHAPE and image.dtype == np.float32
    assert set(np.unique(label)) == {0, 1}
    assert ndimage.label(label == 1)[1] == 1  # one target organ
    bodies = image > BODY_CONTRAST / 2
    # every target voxel is a body voxel, and the bodies hold more than the target: the
    # neighbours, unlabelled
    assert (bodies[label == 1]).mean() > 0.99
    neighbours = bodies & (label == 0)
    assert neighbours.sum() > 0.5 * (label == 1).sum()
    # same intensity inside the target and inside the (eroded) neighbours
    inner = ndimage.binary_erosion(neighbours, iterations=1)
    assert abs(image[label == 1].mean() - image[inner].mean()) < 0.1
    # the posterior neighbour runs through every slice; the target does not
    assert (label == 1).any(axis=(1, 2)).sum() < GSP_BENCH_SHAPE[0]
    assert neighbours.any(axis=(1, 2)).all()


@pytest.mark.parametrize('i', range(6))
def test_lesion_classes_are_told_by_intensity(i):
    image, label = _sample('lesion', i)
    assert set(np.unique(label)) <= {0, 1, 2} and (label == 1).any()
    lesions, n = ndimage.label(label > 0)
    assert 1 <= n <= 3
    for k in range(1, n + 1):  # each core lies inside one lesion's rim
        assert (label[lesions == k] == 1).any()
    assert ndimage.label(label == 2)[1] <= n
    # thresholds half-way between the levels find the classes almost exactly
    rim = (image > 0.5 * BODY_CONTRAST) & (image <= 1.5 * BODY_CONTRAST)
    assert (rim == (label == 1)).mean() > 0.995
    assert abs(image[label == 2].mean() - 2 * BODY_CONTRAST) < 0.1
    assert abs(image[label == 0].mean()) < 0.05


def test_deterministic_and_independent_of_counts(tmp_path):
    a = _sample('organ', 3)
    b = _sample('organ', 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], _sample('organ', 3, seed=1)[0])
    assert not np.array_equal(a[0], _sample('organ', 3, split='test')[0])
    generate_gsp_bench(str(tmp_path / 'small'), counts={'train': 4, 'test': 1})
    generate_gsp_bench(str(tmp_path / 'big'), counts={'train': 6, 'test': 1}, sets=['organ'])
    for k in range(4):
        small = np.load(tmp_path / 'small' / 'gsp_organ' / 'train' / f'{k:05d}.npz')
        big = np.load(tmp_path / 'big' / 'gsp_organ' / 'train' / f'{k:05d}.npz')
        assert np.array_equal(small['image'], big['image'])


def test_generate_writes_layout_meta_and_spacing(tmp_path):
    metas = generate_gsp_bench(str(tmp_path), counts={'train': 3, 'test': 2})
    for name, classes in (('organ', ['background', 'organ']),
                          ('lesion', ['background', 'rim', 'core'])):
        root = tmp_path / f'gsp_{name}'
        assert sorted(os.listdir(root / 'train')) == ['00000.npz', '00001.npz', '00002.npz']
        assert len(os.listdir(root / 'test')) == 2
        meta = json.loads((root / 'meta.json').read_text())
        assert meta == json.loads(json.dumps(metas[name]))
        assert meta['classes'] == classes and meta['counts'] == {'train': 3, 'test': 2}
        assert meta['shape'] == list(GSP_BENCH_SHAPE)
        assert 0 < meta['statistics']['foreground_fraction'] < 0.2
        # the reader the pipelines use gets the spacing, (D, H, W) mm
        vol = read_volume(str(root / 'train' / '00000.npz'), check_hu=False)
        assert vol.spacing_dhw == GSP_BENCH_SPACING
    organ = metas['organ']['statistics']
    lesion = metas['lesion']['statistics']
    # the property of each set: intensity alone finds the lesions, not the organ
    assert organ['threshold_dice_mean'] < 0.75 and organ['bodies_per_target_voxels'] > 1.5
    assert lesion['threshold_dice_rim_mean'] > 0.9 and lesion['threshold_dice_core_mean'] > 0.9
    assert organ['organ_voxels_mean'] > 5 * lesion['rim_voxels_mean'] / \
        lesion['lesions_per_volume_mean']


def test_bad_inputs_fail_before_writing(tmp_path):
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match=r"GSP bench set must be one of \['lesion', 'organ'\], "
                       r"got 'brain'"):
        generate_gsp_bench(str(out), sets=['organ', 'brain'])
    with pytest.raises(ValueError, match=r"GSP bench counts\['test'\] must be >= 0, got -1"):
        generate_gsp_bench(str(out), counts={'test': -1})
    with pytest.raises(ValueError, match=r"GSP bench counts: unknown split 'dev'"):
        generate_gsp_bench(str(out), counts={'dev': 1})
    assert not out.exists()
    with pytest.raises(ValueError, match="got 'brain'"):
        make_gsp_bench_sample('brain', np.random.default_rng(0))
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(OutputNotWritableError):
        generate_gsp_bench(str(blocker / 'sub'), counts={'train': 1, 'test': 0})


def _cli_main():
    spec = importlib.util.spec_from_file_location(
        'make_gsp_bench', osp.join(REPO, 'data_prep', 'make_gsp_bench.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_cli(tmp_path, capsys):
    main = _cli_main()
    assert main([str(tmp_path), '--num-train', '2', '--num-test', '1', '--sets', 'lesion',
                 '--quiet']) == 0
    assert "gsp_lesion: {'train': 2, 'test': 1}" in capsys.readouterr().out
    assert len(list((tmp_path / 'gsp_lesion' / 'train').glob('*.npz'))) == 2
    assert not (tmp_path / 'gsp_organ').exists()
    with pytest.raises(SystemExit):
        main([str(tmp_path), '--num-train', '-1'])
    assert "argument --num-train: must be an integer >= 0, got '-1'" in capsys.readouterr().err
    blocker = tmp_path / 'file'
    blocker.write_text('')
    assert main([str(blocker), '--quiet']) == 2
    assert capsys.readouterr().err.startswith('error: ')


def test_contact_sheet(tmp_path, capsys):
    import cv2
    main = _cli_main()
    assert main([str(tmp_path / 'd'), '--num-train', '6', '--num-test', '0', '--quiet',
                 '--sheet', str(tmp_path / 'sheet.png')]) == 0
    sheet = cv2.imread(str(tmp_path / 'sheet.png'))
    # 2 sets x (6 volumes x plain | outlined), 48 x 48 slices, zoom 2
    assert sheet.shape == (2 * 48 * 2, 6 * 2 * 48 * 2, 3)
    red = (sheet[..., 2] > 200) & (sheet[..., 1] < 50)
    green = (sheet[..., 1] > 200) & (sheet[..., 2] < 50)
    assert red[:96].any() and not green[:96].any()  # organ row: outlines of label 1 only
    assert red[96:].any() and green[96:].any()      # lesion row: rims and cores
    # too few volumes for the sheet: refused before anything is written
    assert main([str(tmp_path / 'e'), '--num-train', '2', '--sheet',
                 str(tmp_path / 's2.png')]) == 2
    assert '--sheet draws 6 training volumes per set' in capsys.readouterr().err
    assert not (tmp_path / 'e').exists()
