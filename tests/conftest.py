"""Shared pytest fixtures.

``shared_dir`` is the read-only ``../shared`` folder beside the repository (real DeepLesion rows
and key slices); set ``ACSDET_SHARED`` to point elsewhere.
"""
import os
import os.path as osp
import sys

import pytest
from mmengine.visualization import Visualizer

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DIR = os.environ.get('ACSDET_SHARED', osp.join(osp.dirname(REPO_ROOT), 'shared'))


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def shared_dir() -> str:
    if not osp.isdir(SHARED_DIR):
        pytest.fail(f'the shared data folder is missing: {SHARED_DIR} (set ACSDET_SHARED)')
    return SHARED_DIR


@pytest.fixture(scope='session')
def python_exe() -> str:
    """The interpreter running the tests, for subprocess calls of the tools."""
    return sys.executable


def _visualizer_classes(cls=Visualizer):
    yield cls
    for sub in cls.__subclasses__():
        yield from _visualizer_classes(sub)


@pytest.fixture(autouse=True)
def fresh_visualizers():
    """Forget the visualizers a test created, as a new process would.

    mmengine keeps every visualizer in a per-class registry by name and hands an existing
    one back (with its old ``save_dir``) to a Runner asking for the same name; a later test
    would then write into an earlier test's tmp dir, which pytest deletes once that test
    passed.
    """
    yield
    for cls in _visualizer_classes():
        cls._instance_dict.clear()
