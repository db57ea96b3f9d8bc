"""export_2d_state_dict: a 2D-kernel backbone written in torchvision's DenseNet format loads
back exactly (same outputs) and enters ACS / 3D models through the ImageNet door."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from acsdet.models.backbones import TruncatedDenseNet3D
from acsdet.models.converters import export_2d_state_dict

SMALL = dict(block_config=(2, 2), growth_rate=8, num_init_features=16, out_indices=(0, 1))
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _trained_2d():
    torch.manual_seed(0)
    net = TruncatedDenseNet3D(conv_type='2.5d', num_slices=1, **SMALL)
    for m in net.modules():  # non-trivial BN statistics, as after training
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def _load(tmp_path, conv_type, num_slices, state):
    path = tmp_path / 'exported.pth'
    torch.save(state, path)
    net = TruncatedDenseNet3D(conv_type=conv_type, num_slices=num_slices,
                              init_cfg=dict(type='Pretrained', checkpoint=str(path)), **SMALL)
    net.init_weights()
    return net.eval()


def test_torchvision_key_format_and_rgb_stem():
    net = _trained_2d()
    out = export_2d_state_dict({'backbone.' + k: v for k, v in net.state_dict().items()})
    assert out['features.conv0.weight'].shape == (16, 3, 7, 7)
    # conv2 maps the bottleneck (bn_size 4 x growth 8 = 32) to the growth (8)
    assert out['features.denseblock1.denselayer1.conv2.weight'].shape == (8, 32, 3, 3)
    assert 'features.denseblock1.denselayer1.norm1.running_var' in out
    torch.testing.assert_close(out['features.conv0.weight'].sum(1),
                               net.conv0.weight.reshape(16, 7, 7))


def test_round_trip_gives_the_same_network(tmp_path):
    net = _trained_2d()
    back = _load(tmp_path, '2.5d', 1, export_2d_state_dict(net.state_dict(), prefix=''))
    x = torch.randn(2, 1, 1, 32, 32)
    for a, b in zip(net(x), back(x)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_acs_takes_it_directly_and_3d_inflated(tmp_path):
    net = _trained_2d()
    state = export_2d_state_dict(net.state_dict(), prefix='')
    acs = _load(tmp_path, 'acs', 3, state)
    w2d = net.denseblock2.denselayer1.conv2.weight
    torch.testing.assert_close(acs.denseblock2.denselayer1.conv2.weight, w2d)
    torch.testing.assert_close(acs.conv0.weight, net.conv0.weight)
    i3d = _load(tmp_path, '3d', 3, state)
    w3d = i3d.denseblock2.denselayer1.conv2.weight
    assert w3d.shape == (8, 32, 3, 3, 3)
    torch.testing.assert_close(w3d.sum(2), w2d.reshape(w2d.shape[0], w2d.shape[1], 3, 3))
    torch.testing.assert_close(i3d.norm0.running_var, net.norm0.running_var)


def test_errors():
    with pytest.raises(KeyError, match="no key starts with 'backbone.'"):
        export_2d_state_dict({'neck.w': torch.zeros(1)})
    net3d = TruncatedDenseNet3D(conv_type='3d', num_slices=3, **SMALL)
    with pytest.raises(ValueError, match=r'backbone.conv0.weight has shape \(16, 1, 7, 7, 7\)'):
        export_2d_state_dict({'backbone.' + k: v for k, v in net3d.state_dict().items()})
    with pytest.raises(KeyError, match='stem backbone.conv0.weight not found'):
        export_2d_state_dict({'backbone.norm0.weight': torch.ones(2)})


def test_cli(tmp_path):
    net = _trained_2d()
    ckpt = tmp_path / 'det.pth'
    torch.save({'meta': {}, 'state_dict': {'backbone.' + k: v
                                           for k, v in net.state_dict().items()}}, ckpt)
    tool = osp.join(REPO, 'tools', 'model_converters', 'export_2d_backbone.py')
    out = tmp_path / 'densenet2d.pth'
    proc = subprocess.run([sys.executable, tool, str(ckpt), str(out)], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    state = torch.load(out, weights_only=True)
    assert state['features.conv0.weight'].shape == (16, 3, 7, 7)
    bad = subprocess.run([sys.executable, tool, str(ckpt), str(tmp_path / 'x.pth'),
                          '--prefix', 'neck.'], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and not (tmp_path / 'x.pth').exists()
    assert bad.stderr.strip().splitlines()[-1].startswith(
        "export_2d_backbone.py: error: export_2d_state_dict: no key starts with 'neck.'")
    missing = subprocess.run([sys.executable, tool, str(tmp_path / 'nope.pth'), str(out)],
                             capture_output=True, text=True, cwd=REPO)
    assert missing.returncode == 2 and 'nope.pth' in missing.stderr
