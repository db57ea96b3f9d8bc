"""Helpers shared by the public-dataset converters of ``data_prep/`` (LIDC-IDRI, LiTS,
PROMISE12, BraTS18): seeded splits, atomic writes of json / ``.npz`` / NIfTI, progress bars,
the image / label geometry check and :func:`run_converter`.
See docs/segmentation_data.md.

Every converter run is all-or-nothing: :func:`run_converter` runs it inside
:func:`~acsdet.data_prep.output_guard.staged_output`, and the writers here
(:func:`atomic_save_nifti`, :func:`atomic_savez`, :func:`write_split_json`) stage their files
until the whole run has succeeded. A run that fails on a later case leaves the output folder as
it was before: the files of an earlier successful run are kept unchanged, and nothing of the
failed run remains. A converter writes its files through these writers only, and checks its
output folder first with :func:`~acsdet.data_prep.output_guard.check_writable`.
"""
import os.path as osp
import sys
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .deeplesion_coco import atomic_write_json
from .output_guard import OutputNotWritableError, check_writable, output_file_path, staged_output

__all__ = ['seeded_split', 'write_split_json', 'atomic_savez', 'atomic_save_nifti',
           'progress', 'atomic_write_json', 'add_split_args', 'run_converter', 'check_writable',
           'read_geometry', 'check_same_geometry', 'SPACING_TOL_MM', 'ORIGIN_TOL_MM',
           'DIRECTION_TOL']

#: Largest difference of spacing / origin (mm) and direction cosines that
#: :func:`check_same_geometry` accepts between an image and its label.
SPACING_TOL_MM = 1e-3
ORIGIN_TOL_MM = 1e-3
DIRECTION_TOL = 1e-4


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
    """Save a nibabel image to ``path`` (``.nii`` / ``.nii.gz``) atomically (staged inside
    :func:`run_converter`)."""
    import nibabel as nib
    with output_file_path(path) as tmp:
        nib.save(image, tmp)


def atomic_savez(path: str, **arrays: np.ndarray) -> None:
    """``np.savez_compressed(path, **arrays)``, atomically (staged inside
    :func:`run_converter`)."""
    with output_file_path(path) as tmp, open(tmp, 'wb') as f:
        np.savez_compressed(f, **arrays)


def _fmt(values, decimals: int) -> str:
    """``(0.8, 0.8, 2.5)``: fixed decimals, trailing zeros dropped, no ``-0``."""
    out = []
    for v in values:
        text = f'{float(v):.{decimals}f}'.rstrip('0').rstrip('.')
        out.append('0' if text in ('-0', '') else text)
    return f'({", ".join(out)})'


def read_geometry(path: str) -> dict:
    """The voxel grid of a volume file, from its header (the voxels are not read).

    The values are the ones :func:`acsdet.fileio.read_volume` gives, read with the same
    SimpleITK calls (``ImageFileReader`` header only): ``size`` (x, y, z[, ...]),
    ``spacing`` (sx, sy, sz) mm, ``origin`` (mm, LPS) and ``direction`` (9 cosines, row
    major), each of the first 3 axes.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: SimpleITK cannot read the header (one line naming the file).
    """
    import SimpleITK as sitk
    if not osp.isfile(path):
        raise FileNotFoundError(f'input not found: {path}')
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else type(err).__name__
        raise ValueError(f'{path}: SimpleITK cannot read its header ({detail})') from None
    dim = reader.GetDimension()
    direction = np.asarray(reader.GetDirection(), np.float64).reshape(dim, dim)[:3, :3]
    return dict(size=tuple(int(v) for v in reader.GetSize()),
                spacing=tuple(float(v) for v in reader.GetSpacing()[:3]),
                origin=tuple(float(v) for v in reader.GetOrigin()[:3]),
                direction=tuple(float(v) for v in direction.ravel()))


def check_same_geometry(image_path: str, label_path: str, reference: str = 'the image',
                        image_geometry: Optional[dict] = None) -> None:
    """Refuse a label (or another channel) whose grid is not the image's.

    Spacing and origin must agree within :data:`SPACING_TOL_MM` / :data:`ORIGIN_TOL_MM`
    (mm), the direction cosines within :data:`DIRECTION_TOL`. A label of the right shape on
    another grid puts every label voxel at another place in the patient, and no later step
    would notice.

    Args:
        image_path (str): The reference volume.
        label_path (str): The volume that must lie on the same grid.
        reference (str): How the message names the reference. Default: ``'the image'``.
        image_geometry (dict, optional): :func:`read_geometry` of ``image_path``, when the
            caller has it already.

    The values in the message are SimpleITK's, as :func:`acsdet.fileio.read_volume` reports
    them: the origin in LPS mm (a NIfTI's RAS x and y flipped), the direction as 9 cosines.

    Raises:
        ValueError: One line naming both files and the differing values, e.g.
            ``LABEL: geometry differs from the image IMAGE: spacing (0.8, 0.8, 3) vs
            (0.8, 0.8, 2.5) mm (tolerance 0.001 mm)``.
    """
    ref = image_geometry or read_geometry(image_path)
    geo = read_geometry(label_path)
    diffs = []
    for key, tol, unit, frame, decimals in (('spacing', SPACING_TOL_MM, ' mm', '', 4),
                                            ('origin', ORIGIN_TOL_MM, ' mm', 'LPS; ', 4),
                                            ('direction', DIRECTION_TOL, '', '', 5)):
        a, b = np.asarray(geo[key]), np.asarray(ref[key])
        if a.shape != b.shape or np.abs(a - b).max() > tol:
            diffs.append(f'{key} {_fmt(a, decimals)} vs {_fmt(b, decimals)}{unit} '
                         f'({frame}tolerance {tol:g}{unit})')
    if diffs:
        raise ValueError(f'{label_path}: geometry differs from {reference} {image_path}: '
                         f'{"; ".join(diffs)}')


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
    """Run ``convert(args)`` all-or-nothing; print ``summary(result)`` and return 0, or print
    the one-line ``error: ...`` of a ``FileNotFoundError`` / ``ValueError`` /
    :class:`~acsdet.data_prep.output_guard.OutputNotWritableError` to stderr and return 1.

    The files ``convert`` writes through this module's writers are staged and replace their
    targets only when ``convert`` returns. On any error (or Ctrl-C) they are removed, with
    the folders the run created, so the output folder is left as it was before the run.

    Args:
        convert (Callable): ``args -> dict`` (``out`` and counts ``train`` / ``val`` /
            ``test``, or what ``summary`` reads).
        args: Parsed arguments.
        summary (Callable | None): Result -> one line; default:
            ``wrote OUT: N training / M validation / K test cases``.
    """
    try:
        with staged_output():
            info = convert(args)
    except (FileNotFoundError, ValueError, OutputNotWritableError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print((summary or _split_summary)(info))
    return 0
