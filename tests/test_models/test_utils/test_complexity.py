"""count_complexity: mmengine's counter, checked against hand counts; Group Shift counts 0."""
import torch.nn as nn

from acsdet.models.layers import GroupShift
from acsdet.models.seg_networks import GSPUNet3D, TinyUNet3D
from acsdet.models.utils import count_complexity


def test_conv3d_matches_the_hand_count():
    conv = nn.Conv3d(16, 8, 3, padding=1)
    got = count_complexity(conv, (1, 16, 8, 8, 8))
    assert got == dict(params=8 * (16 * 27 + 1), flops=8 * 16 * 27 * 8**3)
    strided = nn.Conv3d(4, 6, 3, stride=2, padding=1, bias=False)
    assert count_complexity(strided, (2, 4, 8, 8, 8)) == dict(params=6 * 4 * 27,
                                                              flops=2 * 6 * 4 * 27 * 4**3)


def test_group_shift_counts_zero():
    assert count_complexity(GroupShift((2, 2, 2)), (1, 16, 8, 8, 8)) == dict(params=0, flops=0)


def test_pointwise_and_gsp_unets_are_counted_alike():
    """GSPUNet3D is the pointwise (1x1x1) U-Net plus Group Shift: the same parameters and
    FLOPs as TinyUNet3D(kernel_size=1), and under a tenth of the 3x3x3 U-Net's."""
    kw = dict(in_channels=1, num_classes=2)
    shape = (1, 1, 32, 32, 32)
    gsp = count_complexity(GSPUNet3D(**kw), shape)
    pointwise = count_complexity(TinyUNet3D(kernel_size=1, **kw), shape)
    full = count_complexity(TinyUNet3D(**kw), shape)
    assert gsp == pointwise
    assert 0 < gsp['params'] < full['params'] / 10 and 0 < gsp['flops'] < full['flops'] / 10


def test_get_flops_tool(tmp_path, repo_root, python_exe):
    import json
    import subprocess
    out = tmp_path / 'f.json'
    proc = subprocess.run([python_exe, 'tools/analysis_tools/get_flops.py',
                           'configs/gsp/gsp_unet_brats18.py', '--shape', '32', '32', '32',
                           '--json', str(out)], cwd=repo_root, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(out.read_text())
    assert got['network'] == 'GSPUNet3D' and got['input'] == [1, 4, 32, 32, 32]
    assert got['params'] == count_complexity(GSPUNet3D(in_channels=4, num_classes=4),
                                             (1, 4, 32, 32, 32))['params']
    assert 'M parameters' in proc.stdout and 'GFLOPs' in proc.stdout
    bad = subprocess.run([python_exe, 'tools/analysis_tools/get_flops.py',
                          'configs/gsp/gsp_unet_brats18.py', '--shape', '32'], cwd=repo_root,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and 'error: --shape takes 2 or 3 sizes >= 1, got [32]' in bad.stderr
