"""The generated malignancy-like nodules: classes, layout, labels, determinism, errors."""
import json

import numpy as np
import pytest
from scipy import ndimage

from acsdet.data_prep import generate_synthetic_nodules, make_synthetic_nodule
from acsdet.data_prep.output_guard import OutputNotWritableError
from acsdet.testing import load_script


def _nodule(seed, malignant, size=32):
    return make_synthetic_nodule(np.random.default_rng(seed), size, 1.0, malignant)


def _surface_ratio(mask):
    """Surface voxels / volume^(2/3): larger for spiculated and lobulated shapes."""
    surface = mask & ~ndimage.binary_erosion(mask)
    return surface.sum() / mask.sum() ** (2 / 3)


def test_malignant_nodules_have_rougher_outlines():
    benign = [_surface_ratio(_nodule(s, False)['label'] > 0) for s in range(12)]
    malignant = [_surface_ratio(_nodule(s, True)['label'] > 0) for s in range(12)]
    assert np.median(malignant) > 1.15 * np.median(benign)
    nod = _nodule(3, False)
    assert nod['shape'] == 'smooth' and nod['image'].dtype == np.int16
    assert nod['image'].shape == nod['label'].shape == (32, 32, 32)
    inside = nod['image'][ndimage.binary_erosion(nod['label'] > 0, iterations=1)]
    assert -120 < np.median(inside) < 120                     # soft tissue
    assert np.median(nod['image'][:4]) < -700                 # lung around it
    assert all(1 <= r <= 5 for r in nod['ratings']) and 1 <= len(nod['ratings']) <= 4


def test_generate_writes_the_lidc_layout(tmp_path):
    meta = generate_synthetic_nodules(str(tmp_path), num=20, size=12, spacing=2.0, seed=1)
    content = json.loads((tmp_path / 'lidc_nodules.json').read_text())
    entries = content['training'] + content['validation']
    assert len(entries) == 20 and len(content['validation']) == 4
    assert sum(meta['labels'].values()) == 20 and meta['shapes']
    for e in entries:
        data = np.load(tmp_path / e['image'])
        assert data['image'].shape == (12, 12, 12) and data['spacing'].tolist() == [2.0] * 3
        assert data['malignancy'].tolist() == e['malignancy_ratings']
        assert e['malignancy_label'] in (0, 1, None)
        assert (e['malignancy_label'] is None) == (e['malignancy_mode'] == 3)
    again = tmp_path / 'again'
    generate_synthetic_nodules(str(again), num=20, size=12, spacing=2.0, seed=1)
    a = np.load(tmp_path / entries[0]['image'])['image']
    b = np.load(again / entries[0]['image'])['image']
    assert np.array_equal(a, b)


def test_bad_inputs(tmp_path, repo_root, capsys):
    with pytest.raises(ValueError, match='num must be >= 2, size >= 8'):
        generate_synthetic_nodules(str(tmp_path / 'x'), num=1)
    assert not (tmp_path / 'x').exists()
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(OutputNotWritableError):
        generate_synthetic_nodules(str(blocker / 'sub'), num=2, size=8)
    cli = load_script(repo_root, 'data_prep/make_synthetic_nodules.py')
    assert cli.main([str(tmp_path / 'c'), '--num', '4', '--size', '8', '--quiet']) == 0
    assert 'wrote' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main([str(tmp_path / 'c'), '--spacing', '0'])
