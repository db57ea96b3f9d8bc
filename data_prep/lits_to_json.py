#!/usr/bin/env python
"""LiTS (Liver Tumor Segmentation challenge) -> a dataset json that ``VolumeDataset`` reads.

    python data_prep/lits_to_json.py data/lits                    # writes data/lits/lits.json
    python data_prep/lits_to_json.py data/lits --val-ratio 0.2 --seed 0 --check-labels

Input: ``volume-N.nii`` and ``segmentation-N.nii`` (labels 0 background, 1 liver, 2 tumour)
anywhere under ROOT (e.g. the challenge's ``Training Batch 1/`` and ``Training Batch 2/``);
the unlabelled challenge test scans ``test-volume-N.nii`` go to the "test" list.  No voxel is
rewritten: the json points at the original files (paths relative to the json's folder).

Split: the ACS paper (IV-C) trains on the 131 labelled scans and reports the challenge's 70
test scans; it gives no validation split, so "validation" is a seeded random part of the
labelled cases (``--val-ratio``, default 0.2; 0 keeps all for training).

Checks (each a one-line error naming the file): every segmentation has its volume's shape and
grid (spacing, origin and direction, read from the headers with the SimpleITK calls training
uses; tolerance 1e-3 mm, 1e-4), and the labels are 0 / 1 / 2 (``--check-labels``).  The output
folder gets a write probe before any work.
See docs/segmentation_data.md.
"""
import argparse
import os
import os.path as osp
import re
import sys

import numpy as np

from acsdet.data_prep.volume_prep import (add_split_args, check_same_geometry, check_writable,
                                          progress, run_converter, seeded_split,
                                          write_split_json)

VOLUME_RE = re.compile(r'^(test-)?volume-(\d+)\.nii(\.gz)?$')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('root', help='folder holding volume-N.nii / segmentation-N.nii (searched '
                   'recursively)')
    p.add_argument('--out', help='output json (default: ROOT/lits.json)')
    p.add_argument('--check-labels', action='store_true',
                   help='load every segmentation and check its labels are in {0, 1, 2} '
                   '(slow on the full data)')
    add_split_args(p, 'cases')
    return p.parse_args(argv)


def find_lits_files(root: str):
    """Map case number -> volume / segmentation paths, and test number -> volume path."""
    volumes, segs, tests = {}, {}, {}
    for folder, _, files in os.walk(root):
        for name in files:
            m = VOLUME_RE.match(name)
            if m:
                (tests if m.group(1) else volumes)[int(m.group(2))] = osp.join(folder, name)
            m = re.match(r'^segmentation-(\d+)\.nii(\.gz)?$', name)
            if m:
                segs[int(m.group(1))] = osp.join(folder, name)
    return volumes, segs, tests


def check_case(vol: str, seg: str, check_labels: bool) -> None:
    """Header checks (3D, same shape), optionally the label values, then the same grid."""
    import nibabel as nib
    try:
        vshape, sshape = nib.load(vol).shape, nib.load(seg).shape
    except Exception as err:  # nibabel raises several types for broken files
        raise ValueError(f'unreadable NIfTI in the pair {vol} / {seg}: '
                         f'{type(err).__name__}: {err}') from None
    if len(vshape) != 3 or tuple(vshape) != tuple(sshape):
        raise ValueError(f'{seg}: shape {tuple(sshape)} does not match the volume '
                         f'{tuple(vshape)} of {osp.basename(vol)} (both must be 3D)')
    if check_labels:
        values = np.unique(np.asarray(nib.load(seg).dataobj))
        bad = sorted(set(values.tolist()) - {0, 1, 2})
        if bad:
            raise ValueError(f'{seg}: labels must be 0 / 1 / 2, found {bad}')
    check_same_geometry(vol, seg)


def convert(args) -> dict:
    root = osp.abspath(args.root)
    if not osp.isdir(root):
        raise FileNotFoundError(f'LiTS root folder not found: {root}')
    out = osp.abspath(args.out or osp.join(root, 'lits.json'))
    check_writable(osp.dirname(out))
    volumes, segs, tests = find_lits_files(root)
    if not volumes:
        raise FileNotFoundError(f'{root}: no volume-N.nii files found')
    missing = sorted(set(volumes) - set(segs))
    if missing:
        raise FileNotFoundError(f'{volumes[missing[0]]}: no segmentation-{missing[0]}.nii '
                                f'beside it ({len(missing)} volume(s) without labels)')
    orphan = sorted(set(segs) - set(volumes))
    if orphan:
        raise FileNotFoundError(f'{segs[orphan[0]]}: no volume-{orphan[0]}.nii for it')
    rel = lambda p: osp.relpath(p, osp.dirname(out))  # noqa: E731
    entries = {}
    for n in progress(sorted(volumes), 'LiTS cases', args.quiet):
        check_case(volumes[n], segs[n], args.check_labels)
        entries[f'volume-{n}'] = dict(image=rel(volumes[n]), label=rel(segs[n]))
    train, val = seeded_split(list(entries), args.val_ratio, args.seed)
    meta = dict(dataset='LiTS', classes=['background', 'liver', 'tumour'],
                val_ratio=args.val_ratio, seed=args.seed, num_labelled=len(entries),
                num_test=len(tests))
    # sort numerically so the json reads in case order
    key = lambda k: int(k.split('-')[1])  # noqa: E731
    write_split_json(out, entries, sorted(train, key=key), sorted(val, key=key), meta,
                     test=[dict(image=rel(tests[n])) for n in sorted(tests)])
    return dict(out=out, train=len(train), val=len(val), test=len(tests))


def main(argv=None) -> int:
    return run_converter(convert, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
