"""Helpers shared by the public-dataset converters of ``data_prep/`` (LIDC-IDRI, LiTS,
PROMISE12, BraTS18): seeded splits, atomic writes of json / ``.npz`` / NIfTI, progress bars.
See docs/segmentation_data.md.
"""
import sys
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from acsdet.utils.atomic_write import atomic_file_path, atomic_savez

from .deeplesion_coco import atomic_write_json

__all__ = ['seeded_split', 'write_split_json', 'atomic_savez', 'atomic_save_nifti',
           'progress', 'atomic_write_json', 'add_split_args', 'run_converter']


def seeded_split(keys: Sequence[str], val_ratio: float, seed: int) -> Tuple[List[str], List[str]]:
    """Split ``keys`` (e.g. case or patient ids) into (train, val) with a seeded shuffle.

    The keys are sorted first, so the split does not depend on the listing order; the
    validation part has ``round(len(keys) * val_ratio)`` keys, at least 1 when
    ``0 < val_ratio`` and there are 2 keys or more.

    Args:
        keys (Sequence[str]): Unique ids.
        val_ratio (float): In [0, 1). 0.2 is the papers' 8:2 (4:1) split.
        seed (int): numpy ``default_rng`` seed.

    Returns:
        tuple[list[str], list[str]]: train keys, val keys, each sorted.
    """
    if not 0 <= val_ratio < 1:
        raise ValueError(f'val_ratio must be in [0, 1), got {val_ratio}')
    keys = sorted(set(keys))
    n_val = int(round(len(keys) * val_ratio))
    if val_ratio > 0 and len(keys) >= 2:
        n_val = min(max(n_val, 1), len(keys) - 1)
    order = np.random.default_rng(seed).permutation(len(keys))
    val = sorted(keys[i] for i in order[:n_val])
    return sorted(set(keys) - set(val)), val


def write_split_json(path: str, entries: Dict[str, dict], train: Iterable[str],
                     val: Iterable[str], meta: dict, test: Sequence[dict] = ()) -> dict:
    """Write a dataset json ``VolumeDataset`` reads with ``split_key='training'`` /
    ``'validation'``: ``{"training": [entry...], "validation": [entry...], "meta": meta}``.

    Args:
        path (str): Output json (written atomically).
        entries (dict): key -> ``{"image": rel path, "label": rel path (optional), ...}``.
        train, val (Iterable[str]): Keys of each split.
        meta (dict): Converter settings (recorded for reproducibility).
        test (Sequence[dict]): Unlabelled entries (``{"image": ...}``) listed under
            ``"test"`` when not empty. Defaults to ().

    Returns:
        dict: the written content.
    """
    content = dict(training=[entries[k] for k in train], validation=[entries[k] for k in val],
                   meta=meta)
    if test:
        content['test'] = list(test)
    atomic_write_json(content, path)
    return content


def atomic_save_nifti(image, path: str) -> None:
    """Save a nibabel image to ``path`` (``.nii`` / ``.nii.gz``) atomically."""
    import nibabel as nib
    with atomic_file_path(path) as tmp:
        nib.save(image, tmp)


def progress(iterable, desc: str, quiet: bool = False, total: int = None):
    """A tqdm progress bar on stderr (plain iteration with ``quiet``)."""
    if quiet:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, total=total, unit='case')


def add_split_args(parser, unit: str = 'cases') -> None:
    """Add ``--val-ratio`` (0.2, the papers' 8:2 / 4:1), ``--seed`` (0) and ``--quiet``."""
    parser.add_argument('--val-ratio', type=float, default=0.2,
                        help=f'part of the labelled {unit} in "validation" (default: 0.2)')
    parser.add_argument('--seed', type=int, default=0, help='split seed (default: 0)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def _split_summary(info: dict) -> str:
    counts = [f'{info[k]} {name}' for k, name in
              (('train', 'training'), ('val', 'validation'), ('test', 'test')) if k in info]
    return f'wrote {info["out"]}: {" / ".join(counts)} cases'


def run_converter(convert: Callable, args,
                  summary: Optional[Callable[[dict], str]] = None) -> int:
    """Run ``convert(args)``; print ``summary(result)`` and return 0, or print the one-line
    ``error: ...`` of a ``FileNotFoundError`` / ``ValueError`` to stderr and return 1.

    Args:
        convert (Callable): ``args -> dict`` (``out`` and counts ``train`` / ``val`` /
            ``test``, or what ``summary`` reads).
        args: Parsed arguments.
        summary (Callable | None): Result -> one line; default:
            ``wrote OUT: N training / M validation / K test cases``.
    """
    try:
        info = convert(args)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print((summary or _split_summary)(info))
    return 0
