"""Snapshot of every shipped config: merged model / dataset dicts and the built model's
parameter count.

``tests/data/config_snapshot.json`` was written by this file on the tree *before* the layout
change of issue 13 (``python tests/test_configs/config_snapshot.py OUT.json`` with that tree on
``PYTHONPATH``); :mod:`test_config_snapshot` checks that every config still merges to the same
dicts (after the renames of docs/contributing.md) and builds a model of the same size.
"""
import glob
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATASET_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def config_paths():
    """Every runnable config (``configs/**/*.py`` outside ``_base_``), repo-relative."""
    paths = glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, REPO) for p in paths if '_base_' not in p.split(osp.sep))


def _plain(value):
    """JSON-able copy (tuples -> lists), the form both sides are compared in."""
    return json.loads(json.dumps(value, default=str))


def merged_dicts(rel_path: str) -> dict:
    """``{'model': ..., 'train_dataloader': ..., ...}`` of the merged config."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, rel_path))
    out = {'model': _plain(cfg.model.to_dict())}
    for key in DATASET_KEYS:
        loader = cfg.get(key)
        if loader is not None:
            out[key] = _plain(loader.to_dict()['dataset'])
    return out


def _clear_2d_files(model_cfg: dict) -> None:
    """Drop pre-layout ``pretrained_2d`` entries (read at build time then)."""
    for value in model_cfg.values():
        if isinstance(value, dict):
            _clear_2d_files(value)
    if 'pretrained_2d' in model_cfg:
        model_cfg['pretrained_2d'] = None


def parameter_count(rel_path: str) -> int:
    """Parameters of the model built from the config (no weight file is read)."""
    from mmengine.config import Config, ConfigDict
    from mmengine.registry import DefaultScope
    try:
        from acsdet.apis import register_all_modules
    except ImportError:  # the tree before the layout change
        from acsdet.utils import register_all_modules
    from acsdet.registry import MODELS
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(REPO, rel_path))
    model_cfg = cfg.model.to_dict()
    _clear_2d_files(model_cfg)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'acsdet')):
        model = MODELS.build(ConfigDict(model_cfg))
    return sum(p.numel() for p in model.parameters())


def main(out_file: str) -> None:
    snapshot = {}
    for path in config_paths():
        entry = merged_dicts(path)
        entry['num_parameters'] = parameter_count(path)
        snapshot[path] = entry
        print(f'{path}: {entry["num_parameters"]:,} parameters', flush=True)
    with open(out_file, 'w') as f:
        json.dump(snapshot, f, indent=1, sort_keys=True)


if __name__ == '__main__':
    main(sys.argv[1])
