"""The ACS proof-of-concept shapes generator (paper appendix)."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from scipy import ndimage

from acsdet.data_prep.poc_shapes import (POC_CLASSES, generate_poc_shapes, load_poc_sample,
                                         make_poc_sample, poc_sample_rng, poc_shape_mask)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _pieces(label, ndim):
    """Per occupied 24-piece: (piece, class, bounding-box shape of its foreground)."""
    comps = []
    for piece in np.ndindex(*(2, ) * ndim):
        sub = label[tuple(slice(24 * p, 24 * p + 24) for p in piece)]
        classes = np.unique(sub[sub > 0])
        if classes.size:
            assert classes.size == 1, f'piece {piece} holds classes {classes}'
            sl = ndimage.find_objects((sub > 0).astype(int))[0]
            comps.append((piece, int(classes[0]), tuple(s.stop - s.start for s in sl)))
    return comps


@pytest.mark.parametrize('dim,num_shapes,num_classes', [('2d', 3, 2), ('3d', 4, 5)])
def test_layout_of_a_sample(dim, num_shapes, num_classes):
    ndim = int(dim[0])
    for i in range(8):
        image, label = make_poc_sample(dim, poc_sample_rng(0, dim, 'train', i))
        assert image.shape == label.shape == (48, ) * ndim
        assert image.dtype == np.float32 and label.dtype == np.uint8
        assert label.max() <= num_classes
        comps = _pieces(label, ndim)
        assert len(comps) == num_shapes                    # 3 of 4 quadrants / 4 of 8 octants
        for _, cls, extent in comps:
            # sizes in [5, 24]; a cone's / pyramid's apex slices may be empty
            assert max(extent) >= 5 and max(extent) <= 24


def test_noise_is_gaussian_with_std_half():
    residual = np.concatenate([
        (img - (lab > 0)).ravel() for img, lab in
        (make_poc_sample('3d', poc_sample_rng(3, '3d', 'test', i)) for i in range(3))])
    assert abs(residual.mean()) < 0.01
    assert residual.std() == pytest.approx(0.5, abs=0.01)


def test_class_frequencies_are_uniform():
    counts = np.zeros(6)
    for i in range(60):
        _, label = make_poc_sample('3d', poc_sample_rng(1, '3d', 'train', i))
        for _, cls, _ in _pieces(label, 3):
            counts[cls] += 1
    assert counts[0] == 0 and counts.sum() == 240
    assert all(30 < c < 66 for c in counts[1:])            # 48 expected per class
    sq = sum(int((make_poc_sample('2d', poc_sample_rng(1, '2d', 'train', i))[1] == 2).any())
             for i in range(100))
    assert 75 < sq < 100                                   # P(a square in 3 draws) = 7/8


def test_shape_masks():
    sphere = poc_shape_mask('sphere', 21)
    assert sphere.sum() == pytest.approx(np.pi / 6 * 21**3, rel=0.08)
    assert poc_shape_mask('cube', 7).sum() == 343
    cone = poc_shape_mask('cone', 12, 10)
    pyramid = poc_shape_mask('pyramid', 12, 10)
    cyl = poc_shape_mask('cylinder', 12, 10)
    assert cone.shape == pyramid.shape == cyl.shape == (10, 12, 12)
    areas = cone.sum((1, 2))
    assert np.all(np.diff(areas) >= 0) and areas[0] <= 1 and areas[-1] == cyl[0].sum()
    assert np.all(pyramid.sum((1, 2)) >= cone.sum((1, 2)))  # square slices hold the disks
    assert np.all(cyl.sum((1, 2)) == poc_shape_mask('circle', 12).sum())
    assert poc_shape_mask('square', 5).sum() == 25
    with pytest.raises(ValueError, match="unknown POC shape 'torus'"):
        poc_shape_mask('torus', 5, 5)


def test_deterministic_and_independent_of_counts():
    a = make_poc_sample('3d', poc_sample_rng(7, '3d', 'train', 2))
    b = make_poc_sample('3d', poc_sample_rng(7, '3d', 'train', 2))
    c = make_poc_sample('3d', poc_sample_rng(8, '3d', 'train', 2))
    d = make_poc_sample('3d', poc_sample_rng(7, '3d', 'test', 2))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1]) and not np.array_equal(a[1], d[1])


def test_generate_writes_layout_and_meta(tmp_path):
    metas = generate_poc_shapes(str(tmp_path), seed=5,
                                counts={'2d': {'train': 3, 'test': 2}, '3d': {'train': 1,
                                                                           'test': 1}})
    for dim, n in (('2d', {'train': 3, 'test': 2}), ('3d', {'train': 1, 'test': 1})):
        meta = json.load(open(tmp_path / f'poc_{dim}' / 'meta.json'))
        assert meta == metas[dim]
        assert meta['counts'] == n and meta['classes'] == list(POC_CLASSES[dim])
        assert meta['seed'] == 5 and meta['noise_std'] == 0.5
        for split, k in n.items():
            files = sorted(p.name for p in (tmp_path / f'poc_{dim}' / split).iterdir())
            assert files == [f'{i:05d}.npz' for i in range(k)]   # no temp files left
            image, label = load_poc_sample(str(tmp_path / f'poc_{dim}' / split / files[-1]))
            ref = make_poc_sample(dim, poc_sample_rng(5, dim, split, k - 1))
            assert np.array_equal(image, ref[0]) and np.array_equal(label, ref[1])


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"POC counts\['3d'\]\['train'\] must be >= 0, got -1"):
        generate_poc_shapes(str(tmp_path), counts={'3d': {'train': -1}}, dims=['3d'])
    with pytest.raises(ValueError, match=r"POC counts\['2d'\]: unknown split 'dev'"):
        generate_poc_shapes(str(tmp_path), counts={'2d': {'dev': 1}}, dims=['2d'])
    with pytest.raises(ValueError, match="POC dim must be '2d' or '3d', got '4d'"):
        make_poc_sample('4d', np.random.default_rng(0))
    bad = tmp_path / 'bad.npz'
    np.savez(bad, image=np.zeros((48, 48), np.float32))
    with pytest.raises(KeyError, match=r"bad.npz: missing key 'label' \(has \['image'\]\)"):
        load_poc_sample(str(bad))


def _cli_main():
    spec = importlib.util.spec_from_file_location(
        'make_poc_shapes', osp.join(REPO, 'data_prep', 'make_poc_shapes.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_cli(tmp_path, capsys):
    main = _cli_main()
    assert main([str(tmp_path), '--num', '2', '--num-3d-test', '1', '--quiet']) == 0
    out = capsys.readouterr().out
    assert "poc_2d: {'train': 2, 'test': 2}" in out
    assert "poc_3d: {'train': 2, 'test': 1}" in out
    assert len(list((tmp_path / 'poc_3d' / 'test').glob('*.npz'))) == 1
    assert main([str(tmp_path), '--num', '-3']) == 2
    assert 'error: --num must be >= 0, got -3' in capsys.readouterr().err


def _axis_counts(orientation, n=300):
    """Per elongated class: how often its long axis lies along D, H, W (axis of the longest
    bounding-box side, shapes with h clearly != a only)."""
    from collections import Counter
    counts = {3: Counter(), 4: Counter(), 5: Counter()}
    for i in range(n):
        _, label = make_poc_sample('3d', poc_sample_rng(0, '3d', 'train', i), orientation)
        for _, cls, shape in _pieces(label, 3):
            if cls in counts and max(shape) - sorted(shape)[1] >= 4:
                counts[cls][int(np.argmax(shape))] += 1
    return counts


def test_authors_orientation_rule():
    """The authors' generator: cylinders (3) always along W; cones (4) / pyramids (5) along
    D with p 1/2, H and W 1/4 each; the default rule keeps all three axes for all three."""
    counts = _axis_counts('authors')
    assert set(counts[3]) == {2}
    for cls in (4, 5):
        total = sum(counts[cls].values())
        assert total > 60
        assert abs(counts[cls][0] / total - 0.5) < 0.15
        assert abs(counts[cls][1] / total - 0.25) < 0.12
        assert abs(counts[cls][2] / total - 0.25) < 0.12
    uniform = _axis_counts('uniform', n=150)
    assert set(uniform[3]) == {0, 1, 2}


def test_orientation_is_recorded_and_checked(tmp_path):
    meta = generate_poc_shapes(str(tmp_path), counts={'3d': {'train': 1, 'test': 0}},
                               dims=['3d'], orientation='authors')['3d']
    assert meta['orientation'] == 'authors'
    meta2d = generate_poc_shapes(str(tmp_path), counts={'2d': {'train': 1, 'test': 0}},
                                 dims=['2d'])['2d']
    assert meta2d['orientation'] is None  # the 2D shapes are not turned
    with pytest.raises(ValueError, match=r"POC orientation must be one of \['uniform', "
                       r"'authors'\], got 'random'"):
        generate_poc_shapes(str(tmp_path / 'x'), dims=['3d'], orientation='random')
    assert not (tmp_path / 'x').exists()  # refused before any work


def test_cli_orientation(tmp_path, capsys):
    main = _cli_main()
    assert main([str(tmp_path), '--dims', '3d', '--num', '1', '--orientation', 'authors',
                 '--quiet']) == 0
    assert json.load(open(tmp_path / 'poc_3d' / 'meta.json'))['orientation'] == 'authors'
