"""Shared pytest fixtures.

``shared_dir`` is the read-only ``../shared`` folder beside the repository (real DeepLesion rows
and key slices); set ``ACSDET_SHARED`` to point elsewhere.
"""
import os
import os.path as osp
import sys

import pytest

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
