"""Case 22 of docs/robustness.md: a NIfTI volume without voxel spacing, met by tools/infer.py."""
import subprocess

import nibabel as nib
import numpy as np

CONFIG = 'configs/acs_maskrcnn_deeplesion_demo.py'


def test_nifti_without_spacing_through_infer_tool(tmp_path, python_exe, repo_root):
    path = tmp_path / 'no_spacing.nii'
    hu = np.full((4, 32, 32), -1000, np.int16)  # (x, y, z) as nibabel stores it
    hu[:, 8:24, 8:24] = 40
    nib.save(nib.Nifti1Image(hu, np.diag([0.7, 0.7, 2.0, 1.0])), str(path))
    with open(path, 'r+b') as f:  # pixdim[1] (float32 at byte 80 of the NIfTI-1 header) = 0
        f.seek(80)
        f.write(np.float32(0).tobytes())
    out = tmp_path / 'out'
    proc = subprocess.run(
        [python_exe, 'tools/infer.py', CONFIG, str(tmp_path / 'never_loaded.pth'), str(path),
         '--out-dir', str(out)], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'error: {path}: voxel spacing')
    assert 'zero or negative' in lines[0]
    assert not out.exists() or not any(out.iterdir())  # nothing written
