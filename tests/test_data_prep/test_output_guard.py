"""acsdet.data_prep.output_guard: the write probe and the all-or-nothing output of one run."""
import os
import os.path as osp

import pytest

from acsdet.data_prep.output_guard import (OutputNotWritableError, check_writable,
                                           output_file_path, staged_output)


def _write(path, text):
    with output_file_path(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


def test_probe_leaves_nothing_and_creates_no_folder(tmp_path):
    check_writable(str(tmp_path))
    check_writable(str(tmp_path / 'a' / 'b'))     # probed in tmp_path, not created
    assert os.listdir(tmp_path) == []
    (tmp_path / 'f').write_text('x')
    with pytest.raises(OutputNotWritableError, match=r'output folder .*/f/out cannot be '
                                                     r'created: .*/f is not a folder'):
        check_writable(str(tmp_path / 'f' / 'out'))


def test_stage_commits_only_at_the_end(tmp_path):
    old = tmp_path / 'old.json'
    old.write_text('old')
    os.chmod(old, 0o640)
    with staged_output() as stage:
        _write(str(old), 'new')
        _write(str(tmp_path / 'sub' / 'x.txt'), 'x')
        assert old.read_text() == 'old' and not (tmp_path / 'sub' / 'x.txt').exists()
        with staged_output() as inner:              # a nested stage joins the outer one
            assert inner is stage
            _write(str(tmp_path / 'y.txt'), 'y')
        assert not (tmp_path / 'y.txt').exists()
        assert len(stage.staged) == 3
    assert old.read_text() == 'new' and os.stat(old).st_mode & 0o777 == 0o640
    assert (tmp_path / 'sub' / 'x.txt').read_text() == 'x'
    assert sorted(os.listdir(tmp_path)) == ['old.json', 'sub', 'y.txt']   # no temp files


@pytest.mark.parametrize('error', [ValueError, KeyboardInterrupt])
def test_stage_rolls_back_on_error_or_interrupt(tmp_path, error):
    old = tmp_path / 'old.json'
    old.write_text('old')
    with pytest.raises(error):
        with staged_output():
            _write(str(old), 'new')
            _write(str(tmp_path / 'a' / 'b' / 'x.txt'), 'x')
            raise error('stop')
    assert old.read_text() == 'old'
    assert os.listdir(tmp_path) == ['old.json']    # new folders and temp files removed


def test_without_a_stage_each_file_is_written_at_once(tmp_path):
    _write(str(tmp_path / 'x.txt'), 'x')
    assert (tmp_path / 'x.txt').read_text() == 'x'
    assert osp.isfile(tmp_path / 'x.txt') and os.listdir(tmp_path) == ['x.txt']
