"""acsdet.utils.atomic_write: the target appears whole or keeps its old content, no temp
file is left either way, temp names keep the target's extension and are unique, and the
target gets the mode a plain ``open(path, 'w')`` would give it."""
import os
import stat

import cv2
import numpy as np
import pytest

from acsdet.utils import atomic_write
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


@pytest.fixture
def set_umask():
    """Call ``set_umask(mask)`` to change the process umask; the old one comes back after
    the test, pass or fail."""
    old = os.umask(0o022)
    os.umask(old)
    try:
        yield os.umask
    finally:
        os.umask(old)


def _write_with_path(path):
    with atomic_file_path(path) as tmp:
        with open(tmp, 'w') as f:
            f.write('via a path')


WRITERS = {
    'atomic_file_path': _write_with_path,
    'write_text_atomic': lambda path: write_text_atomic(path, 'text'),
    'atomic_savez': lambda path: atomic_savez(path, a=np.zeros(2)),
}


def _mode(path):
    return oct(stat.S_IMODE(os.stat(path).st_mode))


@pytest.mark.parametrize('writer', WRITERS.values(), ids=list(WRITERS))
@pytest.mark.parametrize('umask, expected', [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)],
                         ids=['umask022', 'umask002', 'umask077'])
def test_new_file_gets_mode_of_plain_open(tmp_path, set_umask, writer, umask, expected):
    set_umask(umask)
    target = str(tmp_path / 'new.npz')
    writer(target)
    plain = str(tmp_path / 'plain.txt')
    open(plain, 'w').close()
    assert _mode(plain) == oct(expected)
    assert _mode(target) == oct(expected)
    assert os.umask(umask) == umask  # reading the umask left it as it was


@pytest.mark.parametrize('writer', WRITERS.values(), ids=list(WRITERS))
def test_existing_file_keeps_its_mode(tmp_path, set_umask, writer):
    set_umask(0o022)
    target = tmp_path / 'old.npz'
    target.write_text('old')
    os.chmod(target, 0o640)
    writer(str(target))
    assert _mode(target) == oct(0o640) and target.read_bytes() != b'old'
    os.chmod(target, 0o664)  # looser than the umask allows: kept too, as by plain open
    writer(str(target))
    assert _mode(target) == oct(0o664)


def test_umask_read_without_proc(tmp_path, set_umask, monkeypatch):
    """Without /proc/self/status (not Linux) the os.umask pair gives the same umask and
    leaves it set."""
    set_umask(0o027)
    assert atomic_write._current_umask() == 0o027
    monkeypatch.setattr(atomic_write, '_PROC_STATUS', str(tmp_path / 'no_such_file'))
    assert atomic_write._current_umask() == 0o027
    assert os.umask(0o027) == 0o027
    write_text_atomic(str(tmp_path / 'out.txt'), 'x')
    assert _mode(tmp_path / 'out.txt') == oct(0o640)
