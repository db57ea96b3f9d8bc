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


def test_accepted_arguments_follow_kwargs_up_the_mro():
    import torch

    from acsdet.engine.runner_setup import accepted_arguments

    class Base:
        def __init__(self, a, b=1):
            pass

    class Child(Base):
        def __init__(self, c, **kwargs):
            super().__init__(**kwargs)

    class NoInit(Base):
        pass

    class KeepsKwargs(torch.nn.Module):
        def __init__(self, d, **kwargs):
            super().__init__()
            self.extra = kwargs

    class Plain(torch.nn.Module):
        pass

    assert accepted_arguments(Child) == {'a', 'b', 'c'}
    assert accepted_arguments(NoInit) == {'a', 'b'}
    assert accepted_arguments(KeepsKwargs) is None  # its **kwargs stop at nn.Module: any key
    assert accepted_arguments(Plain) == set()
    assert accepted_arguments(lambda x, *, y=0: None) == {'x', 'y'}
    assert accepted_arguments(lambda **kw: None) is None


def test_one_line_messages():
    from acsdet.engine.runner_setup import one_line
    assert one_line(KeyError('X is not in the registry')) == 'X is not in the registry'
    assert one_line(ValueError('first\n  second\n')) == 'first second'
    assert one_line(TypeError()) == 'TypeError'
