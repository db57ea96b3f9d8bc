"""Killing the conversion (SIGKILL) leaves no partial json; the re-run gives byte-identical
outputs to an uninterrupted run."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from acsdet.data_prep.deeplesion_demo import make_demo_deeplesion


def _files(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def _convert(python_exe, repo_root, root):
    proc = subprocess.run([python_exe, 'data_prep/deeplesion_to_coco.py', str(root),
                           '--workers', '0'], cwd=repo_root, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_killed_conversion_leaves_nothing_and_rerun_is_identical(tmp_path, python_exe,
                                                                 repo_root):
    root = tmp_path / 'demo'
    make_demo_deeplesion(str(root), num_series=20, image_size=128, seed=0)
    out = root / 'annotations'

    _convert(python_exe, repo_root, root)  # uninterrupted reference
    reference = _files(out)
    assert sorted(reference) == ['deeplesion_conversion_report.json', 'deeplesion_test.json',
                                 'deeplesion_train.json', 'deeplesion_val.json']
    shutil.rmtree(out)

    # kill as soon as the progress bar appears: the conversion is under way
    proc = subprocess.Popen([python_exe, 'data_prep/deeplesion_to_coco.py', str(root),
                             '--workers', '0'], cwd=repo_root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen = b''
    deadline = time.time() + 120
    while b'key slices' not in seen and time.time() < deadline:
        chunk = os.read(proc.stderr.fileno(), 256)
        if not chunk:
            break
        seen += chunk
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL and b'key slices' in seen
    proc.stderr.close()
    assert not out.exists() or os.listdir(out) == []  # no partial json, no temp file

    _convert(python_exe, repo_root, root)
    assert _files(out) == reference
