"""--resume without a path survives a run killed while mmengine wrote last_checkpoint."""
import os
import time

from mmengine.config import Config

from acsdet.engine.runner_setup import find_resumable_checkpoint, set_resume


def _touch(path, when):
    path.write_bytes(b'x')
    os.utime(path, (when, when))


def test_last_checkpoint_is_used_when_valid(tmp_path):
    now = time.time()
    _touch(tmp_path / 'iter_3.pth', now - 10)
    _touch(tmp_path / 'iter_6.pth', now)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_3.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_3.pth')


def test_torn_last_checkpoint_falls_back_on_the_newest(tmp_path):
    now = time.time()
    _touch(tmp_path / 'iter_3.pth', now - 10)
    _touch(tmp_path / 'iter_6.pth', now)
    (tmp_path / 'last_checkpoint').write_text('')  # killed between open('w') and write
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_6.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'gone.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_6.pth')


def test_nothing_to_resume_starts_from_scratch(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path / 'missing')) is None
    cfg = Config(dict(work_dir=str(tmp_path)))
    set_resume(cfg, 'auto')
    assert cfg.resume is False and cfg.load_from is None
    _touch(tmp_path / 'epoch_1.pth', time.time())
    set_resume(cfg, 'auto')
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'epoch_1.pth')
