"""tools/infer_seg.py and acsdet.apis.segment_volume: a randomly initialised POC ACS U-Net
(saved as a checkpoint by the test) segments a NIfTI written by the test; the label map equals
the model's own arg-max, comes back on the input grid (also after test-time resampling and
with sliding windows) and in the input's frame, the statistics add up, and bad input is a
one-line error with no output written."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from mmengine.config import Config

from acsdet.testing import load_script

POC_ACS = 'configs/poc/acs_unet_poc3d.py'
SPACING = (0.9, 0.8, 2.5)  # x, y, z mm
ORIGIN = (12.0, -40.0, 7.5)
DIRECTION = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)  # LPS flipped in-plane (RAS-like)


def _small_cfg(repo_root, **test_cfg):
    cfg = Config.fromfile(osp.join(repo_root, POC_ACS))
    cfg.model.network.unet.widths = (4, 8)
    if test_cfg:
        cfg.model.test_cfg = test_cfg
    return cfg


@pytest.fixture(scope='module')
def tool(repo_root):
    return load_script(repo_root, 'tools/infer_seg.py')


@pytest.fixture(scope='module')
def checkpoint(repo_root, tmp_path_factory):
    """Random weights of the small POC ACS U-Net, saved as an mmengine-style checkpoint, and
    a config file naming the same widths."""
    from acsdet.apis import load_segmentor
    torch.manual_seed(0)
    model, _ = load_segmentor(_small_cfg(repo_root), None)
    folder = tmp_path_factory.mktemp('seg_ckpt')
    path = str(folder / 'unet.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    config = str(folder / 'small_acs_unet_poc3d.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = [{osp.join(repo_root, POC_ACS)!r}]\n"
                "model = dict(network=dict(unet=dict(widths=(4, 8))))\n")
    return config, path


def _volume(shape=(12, 16, 20)):
    """HU: air, a body block and a bright ball (D, H, W)."""
    hu = np.full(shape, -1000, np.int16)
    hu[2:10, 3:13, 4:16] = 40
    d, h, w = np.indices(shape)
    hu[(d - 6) ** 2 + (h - 8) ** 2 + (w - 10) ** 2 <= 9] = 300
    return hu


@pytest.fixture(scope='module')
def nifti(tmp_path_factory):
    image = sitk.GetImageFromArray(_volume())
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    image.SetDirection(DIRECTION)
    path = str(tmp_path_factory.mktemp('seg_in') / 'patient_7.nii.gz')
    sitk.WriteImage(image, path)
    return path


def test_tool_writes_label_map_in_the_input_frame(tool, checkpoint, nifti, tmp_path, capsys):
    config, ckpt = checkpoint
    out = tmp_path / 'out'
    assert tool.main([config, ckpt, nifti, '--out-dir', str(out)]) == 0
    assert sorted(os.listdir(out)) == ['patient_7_seg.json', 'patient_7_seg.nii.gz']
    seg = sitk.ReadImage(str(out / 'patient_7_seg.nii.gz'))
    assert seg.GetSize() == (20, 16, 12)
    np.testing.assert_allclose(seg.GetSpacing(), SPACING, rtol=1e-6)
    np.testing.assert_allclose(seg.GetOrigin(), ORIGIN, rtol=1e-6)
    np.testing.assert_allclose(seg.GetDirection(), DIRECTION, atol=1e-6)
    labels = sitk.GetArrayFromImage(seg)
    assert labels.dtype == np.uint8 and labels.max() <= 5

    # the label map is the model's own arg-max on the volume (this config: no intensity
    # transform, whole-volume test)
    from acsdet.apis import load_segmentor
    model, _ = load_segmentor(config, ckpt)
    x = torch.from_numpy(_volume().astype(np.float32))[None, None]
    with torch.no_grad():
        expected = model(x, mode='tensor').argmax(1)[0].numpy()
    np.testing.assert_array_equal(labels, expected)

    summary = json.loads((out / 'patient_7_seg.json').read_text())
    names = [c['name'] for c in summary['classes']]
    assert names == ['sphere', 'cube', 'cylinder', 'cone', 'pyramid']
    voxel_ml = np.prod(SPACING) / 1000
    for c in summary['classes']:
        assert c['voxels'] == int((labels == c['label']).sum())
        assert c['volume_ml'] == pytest.approx(c['voxels'] * voxel_ml)
        assert c['largest_component_ml'] <= c['volume_ml'] + 1e-9
        assert (c['components'] == 0) == (c['voxels'] == 0)
    assert summary['shape_zyx'] == [12, 16, 20] and summary['input_type'] == 'nifti'
    assert 'patient_7_seg.nii.gz' in capsys.readouterr().out


def test_resampled_and_sliding_predictions_come_back_on_the_input_grid(repo_root, checkpoint,
                                                                        nifti):
    from acsdet.apis import load_segmentor, segment_volume
    from acsdet.fileio import read_volume
    config, ckpt = checkpoint
    volume = read_volume(nifti)
    cfg = Config.fromfile(config)
    # test-time resampling to 5 mm slices: 12 slices of 2.5 mm -> 6, predicted, then back
    cfg.test_dataloader.dataset.pipeline = [
        dict(type='LoadVolumeFromFile'), dict(type='ResampleVolume', spacing=(5.0, None, None)),
        dict(type='PackVolumeInputs')]
    model, cfg = load_segmentor(cfg, ckpt)
    labels = segment_volume(model, cfg, volume)
    assert labels.shape == (12, 16, 20)
    coarse = torch.nn.functional.interpolate(
        torch.from_numpy(volume.hu)[None, None], size=(6, 16, 20), mode='trilinear',
        align_corners=False)
    with torch.no_grad():
        small = model(coarse, mode='tensor').argmax(1)[0]
    np.testing.assert_array_equal(labels, np.repeat(small.numpy(), 2, axis=0))

    # sliding windows: same grid; with windows covering the volume it equals whole mode
    slide_cfg = Config.fromfile(config)
    slide_cfg.model.test_cfg = dict(mode='slide', window=(8, 8, 8), overlap=0.5)
    model, slide_cfg = load_segmentor(slide_cfg, ckpt)
    assert segment_volume(model, slide_cfg, volume).shape == (12, 16, 20)
    whole_cfg = Config.fromfile(config)
    whole_cfg.model.test_cfg = dict(mode='slide', window=(12, 16, 20), overlap=0.5)
    model_slide, whole_cfg = load_segmentor(whole_cfg, ckpt)
    model_whole, cfg_whole = load_segmentor(config, ckpt)
    np.testing.assert_array_equal(segment_volume(model_slide, whole_cfg, volume),
                                  segment_volume(model_whole, cfg_whole, volume))


def test_bad_input_is_one_line_and_writes_nothing(tool, checkpoint, nifti, repo_root,
                                                  tmp_path, capsys):
    config, ckpt = checkpoint
    out = tmp_path / 'out'
    cases = [
        ([config, str(tmp_path / 'missing.pth'), nifti], 'checkpoint not found'),
        ([config, ckpt, str(tmp_path / 'nothing.nii.gz')], 'nothing.nii.gz'),
        ([osp.join(repo_root, 'configs', 'acs_maskrcnn_deeplesion_demo.py'), ckpt, nifti],
         'VolumeSegmentor'),
        ([config, ckpt, nifti, '--cfg-options', 'model.network.unet.widths=(8,16)'],
         'not a checkpoint of the config\'s model'),
    ]
    for argv, message in cases:
        assert tool.main(argv + ['--out-dir', str(out)]) == 2, message
        err = capsys.readouterr().err.strip()
        assert err.startswith('error: ') and message in err and '\n' not in err, err
        assert not out.exists()
    # an MR-like volume (no air) needs --no-hu-check
    image = sitk.GetImageFromArray((_volume() + 1100).astype(np.int16))
    image.SetSpacing(SPACING)
    mr = str(tmp_path / 'mr.nii.gz')
    sitk.WriteImage(image, mr)
    assert tool.main([config, ckpt, mr, '--out-dir', str(out)]) == 2
    assert '--no-hu-check' in capsys.readouterr().err and not out.exists()
    assert tool.main([config, ckpt, mr, '--out-dir', str(out), '--no-hu-check']) == 0
    assert sorted(os.listdir(out)) == ['mr_seg.json', 'mr_seg.nii.gz']


def test_multi_channel_models_are_refused(repo_root, nifti):
    from acsdet.apis import load_segmentor, segment_volume
    from acsdet.fileio import read_volume
    cfg = _small_cfg(repo_root)
    cfg.model.network.unet.in_channels = 4  # as BraTS' four MR sequences
    model, cfg = load_segmentor(cfg, None)
    with pytest.raises(ValueError, match='takes 4 input channels'):
        segment_volume(model, cfg, read_volume(nifti))
