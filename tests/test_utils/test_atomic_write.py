"""acsdet.utils.atomic_write: the target appears whole or keeps its old content, no temp
file is left either way, temp names keep the target's extension and are unique."""
import os

import cv2
import numpy as np
import pytest

from acsdet.utils.atomic_write import (atomic_file_path, atomic_savez, atomic_text_file,
                                       write_text_atomic)


def _listing(folder):
    return sorted(os.listdir(folder))


def test_text_success_and_failure_keep_folder_clean(tmp_path):
    target = tmp_path / 'sub' / 'out.json'
    write_text_atomic(str(target), 'first')
    assert target.read_text() == 'first' and _listing(target.parent) == ['out.json']
    with pytest.raises(RuntimeError, match='boom'):
        with atomic_text_file(str(target)) as f:
            f.write('half of the second')
            raise RuntimeError('boom')
    assert target.read_text() == 'first' and _listing(target.parent) == ['out.json']
    with pytest.raises(KeyboardInterrupt):
        with atomic_file_path(str(target)) as tmp:
            open(tmp, 'w').write('partial')
            raise KeyboardInterrupt
    assert target.read_text() == 'first' and _listing(target.parent) == ['out.json']


def test_temp_names_keep_extension_and_are_unique(tmp_path):
    target = str(tmp_path / 'vol.nii.gz')
    with atomic_file_path(target) as a, atomic_file_path(target) as b:
        assert a != b and a.endswith('.nii.gz') and b.endswith('.nii.gz')
        assert os.path.dirname(a) == str(tmp_path)
        open(a, 'w').write('a')
        open(b, 'w').write('b')
    assert open(target).read() == 'a'  # the outer block finished last: its file stays
    assert _listing(tmp_path) == ['vol.nii.gz']
    with atomic_file_path(str(tmp_path / 'x.bin'), suffix='.png') as tmp:
        assert tmp.endswith('.png')


def test_writers_that_pick_the_format_from_the_name(tmp_path):
    """cv2.imwrite chooses PNG from the temp name; np.savez round-trips."""
    img = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    target = str(tmp_path / 'slice.png')
    with atomic_file_path(target) as tmp:
        assert cv2.imwrite(tmp, img)
    np.testing.assert_array_equal(cv2.imread(target, cv2.IMREAD_UNCHANGED), img)
    atomic_savez(str(tmp_path / 'a.npz'), image=img, label=img > 5000)
    with np.load(str(tmp_path / 'a.npz')) as z:
        np.testing.assert_array_equal(z['image'], img)
        np.testing.assert_array_equal(z['label'], img > 5000)
    assert _listing(tmp_path) == ['a.npz', 'slice.png']
