#!/usr/bin/env python
"""BraTS 2018 -> 4-channel NIfTI volumes with remapped labels + a dataset json that
``VolumeDataset`` reads (the Medical Segmentation Decathlon's Task01 layout).

    python data_prep/brats18_to_json.py data/MICCAI_BraTS_2018_Data_Training data/brats18

Input: case folders ``<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz`` anywhere under ROOT
(the challenge's ``HGG/`` and ``LGG/``); folders without ``_seg`` (the validation release)
go to the "test" list.

Output (OUT_DIR): ``imagesTr/<case>.nii.gz`` (X, Y, Z, 4) in the channel order flair, t1,
t1ce, t2 (read as (4, D, H, W)), ``labelsTr/<case>.nii.gz`` with the labels remapped
{0, 1, 2, 4} -> {0, 1, 2, 3} (0 background, 1 necrotic / non-enhancing core, 2 oedema,
3 enhancing tumour; any other value is an error naming the file), ``imagesTs/`` for cases
without labels, and ``brats18.json``.  Files already written are kept (delete them or pass
``--overwrite`` to redo).  A run is all-or-nothing: its files replace the old ones only when
every case has been converted, so a run that fails on a later case leaves OUT_DIR as it was.

Checks (each a one-line error naming the file): the four modalities and the segmentation lie
on the flair's grid (shape, then spacing, origin and direction from the headers, read with the
SimpleITK calls training uses; tolerance 1e-3 mm, 1e-4), every file is readable, and the
labels are BraTS labels.  OUT_DIR gets a write probe before any work.

Split: the GSP-Conv paper splits the 285 labelled cases 8:2 at random: ``--val-ratio 0.2``
(default), seeded (``--seed``).  See docs/segmentation_data.md.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

from acsdet.data_prep.volume_prep import (add_split_args, atomic_save_nifti, check_same_geometry,
                                          check_writable, progress, read_geometry,
                                          run_converter, seeded_split, write_split_json)

MODALITIES = ('flair', 't1', 't1ce', 't2')
LABEL_MAP = {0: 0, 1: 1, 2: 2, 4: 3}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('root', help='BraTS18 folder (case folders searched recursively)')
    p.add_argument('out_dir', help='output folder (imagesTr/, labelsTr/, brats18.json)')
    p.add_argument('--overwrite', action='store_true', help='rewrite existing outputs')
    add_split_args(p, 'cases')
    return p.parse_args(argv)


def find_cases(root: str) -> dict:
    """case name -> folder, for every folder holding ``<folder name>_flair.nii[.gz]``."""
    cases = {}
    for folder, _, files in os.walk(root):
        case = osp.basename(folder)
        if any(f in files for f in (f'{case}_flair.nii.gz', f'{case}_flair.nii')):
            if case in cases:
                raise ValueError(f'{folder}: case {case} also in {cases[case]}')
            cases[case] = folder
    return cases


def _case_file(folder: str, case: str, kind: str, required: bool = True):
    for ext in ('.nii.gz', '.nii'):
        path = osp.join(folder, f'{case}_{kind}{ext}')
        if osp.isfile(path):
            return path
    if required:
        raise FileNotFoundError(f'{osp.join(folder, case + "_" + kind)}.nii.gz: missing '
                                f'(a BraTS case needs {", ".join(MODALITIES)})')
    return None


def remap_labels(label: np.ndarray, path: str) -> np.ndarray:
    """{0, 1, 2, 4} -> {0, 1, 2, 3} as uint8; another value is an error naming ``path``."""
    values = np.unique(label)
    bad = sorted(set(values.tolist()) - set(LABEL_MAP))
    if bad:
        raise ValueError(f'{path}: BraTS labels must be in {{0, 1, 2, 4}}, found {bad}')
    lut = np.zeros(max(LABEL_MAP) + 1, np.uint8)
    for src, dst in LABEL_MAP.items():
        lut[src] = dst
    return lut[label.astype(np.int64)]


def _unreadable(path: str, err: Exception) -> ValueError:
    lines = str(err).strip().splitlines()
    return ValueError(f'{path}: unreadable NIfTI ({type(err).__name__}: '
                      f'{lines[0] if lines else ""})')


def _load(path: str):
    """nibabel image of ``path``; a damaged file is a one-line ``ValueError``."""
    import nibabel as nib
    try:
        return nib.load(path)
    except Exception as err:  # nibabel raises several types for broken files
        raise _unreadable(path, err) from None


def _voxels(img, path: str) -> np.ndarray:
    """The voxels of a nibabel image; a truncated or corrupt file is a one-line error."""
    try:
        return np.asarray(img.dataobj)
    except Exception as err:  # EOFError, zlib.error, OSError, ValueError of a damaged file
        raise _unreadable(path, err) from None


def convert_case(folder: str, case: str, image_out: str, label_out) -> None:
    """Stack the 4 modalities into ``image_out`` and write the remapped labels."""
    import nibabel as nib
    paths = [_case_file(folder, case, m) for m in MODALITIES]
    seg_path = _case_file(folder, case, 'seg', required=False) if label_out else None
    ref = _load(paths[0])
    ref_geo = read_geometry(paths[0])
    arrays = []
    for path in paths:
        img = _load(path)
        if img.shape != ref.shape or len(img.shape) != 3:
            raise ValueError(f'{path}: shape {img.shape} differs from the flair '
                             f'{ref.shape} (all modalities must be the same 3D grid)')
        if path != paths[0]:
            check_same_geometry(paths[0], path, 'the flair', ref_geo)
        arrays.append(_voxels(img, path))
    label = None
    if seg_path:  # checked before anything is written
        seg = _load(seg_path)
        if seg.shape != ref.shape:
            raise ValueError(f'{seg_path}: shape {seg.shape} differs from the images '
                             f'{ref.shape}')
        check_same_geometry(paths[0], seg_path, 'the flair', ref_geo)
        label = remap_labels(_voxels(seg, seg_path), seg_path)
    dtype = np.result_type(*arrays)
    image = np.stack(arrays, axis=-1).astype(dtype, copy=False)
    atomic_save_nifti(nib.Nifti1Image(image, ref.affine), image_out)
    if label is not None:
        atomic_save_nifti(nib.Nifti1Image(label, ref.affine), label_out)


def convert(args) -> dict:
    root, out_dir = osp.abspath(args.root), osp.abspath(args.out_dir)
    if not osp.isdir(root):
        raise FileNotFoundError(f'BraTS root folder not found: {root}')
    check_writable(out_dir)
    cases = find_cases(root)
    if not cases:
        raise FileNotFoundError(f'{root}: no <case>/<case>_flair.nii.gz folders found')
    entries, tests = {}, []
    for case in progress(sorted(cases), 'BraTS cases', args.quiet):
        folder = cases[case]
        labelled = _case_file(folder, case, 'seg', required=False) is not None
        sub = ('imagesTr', 'labelsTr') if labelled else ('imagesTs', None)
        image_out = osp.join(out_dir, sub[0], f'{case}.nii.gz')
        label_out = osp.join(out_dir, sub[1], f'{case}.nii.gz') if labelled else None
        done = osp.isfile(image_out) and (label_out is None or osp.isfile(label_out))
        if args.overwrite or not done:
            convert_case(folder, case, image_out, label_out)
        if labelled:
            entries[case] = dict(image=f'imagesTr/{case}.nii.gz',
                                 label=f'labelsTr/{case}.nii.gz')
        else:
            tests.append(dict(image=f'imagesTs/{case}.nii.gz'))
    train, val = seeded_split(list(entries), args.val_ratio, args.seed)
    meta = dict(dataset='BraTS18', modalities=list(MODALITIES),
                classes=['background', 'necrotic/non-enhancing core', 'oedema',
                         'enhancing tumour'],
                label_map={str(k): v for k, v in LABEL_MAP.items()},
                val_ratio=args.val_ratio, seed=args.seed, num_labelled=len(entries))
    out = osp.join(out_dir, 'brats18.json')
    write_split_json(out, entries, train, val, meta, test=tests)
    return dict(out=out, train=len(train), val=len(val), test=len(tests))


def main(argv=None) -> int:
    return run_converter(convert, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
