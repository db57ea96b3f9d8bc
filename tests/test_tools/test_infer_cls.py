"""tools/infer_cls.py and acsdet.apis.classify_crop / nodule_crop: a randomly initialised
ACS ResNet-18 classifier (saved by the test) gives the same probabilities for a nodule crop
as tools/test.py's pipeline would, and for a CT volume cropped around the nodule's centre
(voxel or patient coordinates); bad input is a one-line error."""
import json
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from acsdet.testing import load_script

CONFIG = 'configs/lidc/cls_r18_acs_synthetic_nodules.py'


@pytest.fixture(scope='module')
def tool(repo_root):
    return load_script(repo_root, 'tools/infer_cls.py')


@pytest.fixture(scope='module')
def checkpoint(repo_root, tmp_path_factory):
    from acsdet.apis import load_classifier
    torch.manual_seed(0)
    model, _ = load_classifier(osp.join(repo_root, CONFIG), None)
    path = tmp_path_factory.mktemp('cls_ckpt') / 'cls.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return str(path)


@pytest.fixture(scope='module')
def nodule(tmp_path_factory):
    from acsdet.data_prep import make_synthetic_nodule
    nod = make_synthetic_nodule(np.random.default_rng(4), size=20, spacing=2.0, malignant=True)
    folder = tmp_path_factory.mktemp('nodule')
    crop = folder / 'crop.npz'
    np.savez(crop, image=nod['image'], spacing=np.full(3, 2.0))
    # the same nodule inside a bigger CT volume (spacing 2 mm), its crop at voxels 2, 5, 0 on
    big = np.full((30, 36, 28), -1000, np.int16)
    big[2:22, 5:25, 0:20] = nod['image']
    image = sitk.GetImageFromArray(big)
    image.SetSpacing((2.0, 2.0, 2.0))
    image.SetOrigin((-30.0, 10.0, 100.0))
    nii = folder / 'ct.nii.gz'
    sitk.WriteImage(image, str(nii))
    return str(crop), str(nii), nod


def _probs(out):
    line = out.strip().splitlines()[-1]
    return line, float(line.split('malignant ')[1].split(' ')[0])


def test_crop_and_volume_give_the_same_probability(tool, checkpoint, nodule, repo_root,
                                                   tmp_path, capsys):
    crop, nii, _ = nodule
    cfg = osp.join(repo_root, CONFIG)
    assert tool.main([cfg, checkpoint, crop, '--json', str(tmp_path / 'p.json')]) == 0
    line, p_crop = _probs(capsys.readouterr().out)
    assert line.startswith(f'{crop}: malignant ') and '(benign ' in line
    saved = json.loads((tmp_path / 'p.json').read_text())
    assert saved['probabilities']['malignant'] == pytest.approx(p_crop, abs=5e-4)
    assert sum(saved['probabilities'].values()) == pytest.approx(1.0)
    # the crop's centre (9.5, 9.5, 9.5) sits at voxel (11.5, 14.5, 9.5) of the volume
    assert tool.main([cfg, checkpoint, nii, '--centre', '11.5', '14.5', '9.5',
                      '--spacing', '2']) == 0
    assert _probs(capsys.readouterr().out)[1] == pytest.approx(p_crop, abs=5e-4)
    # the same point in patient mm: origin + spacing * index, (x, y, z)
    assert tool.main([cfg, checkpoint, nii, '--centre-mm', str(-30 + 2 * 9.5),
                      str(10 + 2 * 14.5), str(100 + 2 * 11.5), '--spacing', '2']) == 0
    assert _probs(capsys.readouterr().out)[1] == pytest.approx(p_crop, abs=5e-4)


def test_bad_input_is_one_line(tool, checkpoint, nodule, repo_root, capsys):
    crop, nii, _ = nodule
    cfg = osp.join(repo_root, CONFIG)
    assert tool.main([cfg, checkpoint, nii, '--centre', '40', '1', '1']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'is outside the volume of shape (30, 36, 28)' in err[0]
    seg_cfg = osp.join(repo_root, 'configs', 'lidc', 'fcn_r18_acs_lidc.py')
    assert tool.main([seg_cfg, checkpoint, crop]) == 1
    assert "needs a 'VolumeClassifier'" in capsys.readouterr().err
    assert tool.main([cfg, checkpoint + '.missing', crop]) == 1
    assert 'not found' in capsys.readouterr().err
