"""Load a command-line script (e.g. ``data_prep/lits_to_json.py``) as a module, to call its
``main(argv)`` in-process in tests (no interpreter start, no re-import of torch / mmdet)."""
import importlib.util
import os.path as osp
from types import ModuleType

__all__ = ['load_script']


def load_script(repo_root: str, rel_path: str) -> ModuleType:
    """Import ``repo_root/rel_path`` under the module name of its file stem.

    Args:
        repo_root (str): Repository root.
        rel_path (str): e.g. ``'data_prep/lits_to_json.py'``.
    """
    path = osp.join(repo_root, rel_path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'script not found: {path}')
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0] + '_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
