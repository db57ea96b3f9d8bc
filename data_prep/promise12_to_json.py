#!/usr/bin/env python
"""PROMISE12 (prostate MR segmentation challenge) -> a dataset json that ``VolumeDataset``
reads (``LoadVolumeFromFile`` reads ``.mhd`` through SimpleITK, with the voxel spacing).

    python data_prep/promise12_to_json.py data/promise12          # data/promise12/promise12.json

Input: the training cases ``CaseNN.mhd`` (+ ``CaseNN.raw``) and ``CaseNN_segmentation.mhd``
(+ ``.raw``; 0 background, 1 prostate) anywhere under ROOT (e.g. the challenge's
``TrainingData_Part1..3/``).  No voxel is rewritten: the json points at the original files.

Split: the GSP-Conv paper splits the 50 labelled cases 8:2 at random for training and
validation: ``--val-ratio 0.2`` (default) with a seeded shuffle (``--seed``).

Checks (each a one-line error naming the file): every segmentation has its image's size and
grid (spacing, origin and direction from the MetaImage headers; tolerance 1e-3 mm, 1e-4).
The output folder gets a write probe before any work.
See docs/segmentation_data.md.
"""
import argparse
import os
import os.path as osp
import re
import sys

from acsdet.data_prep.volume_prep import (add_split_args, check_same_geometry, check_writable,
                                          progress, read_geometry, run_converter, seeded_split,
                                          write_split_json)

CASE_RE = re.compile(r'^(Case\d+)(_segmentation)?\.mhd$', re.IGNORECASE)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('root', help='folder holding CaseNN.mhd / CaseNN_segmentation.mhd '
                   '(searched recursively)')
    p.add_argument('--out', help='output json (default: ROOT/promise12.json)')
    add_split_args(p, 'cases')
    return p.parse_args(argv)


def convert(args) -> dict:
    root = osp.abspath(args.root)
    if not osp.isdir(root):
        raise FileNotFoundError(f'PROMISE12 root folder not found: {root}')
    out = osp.abspath(args.out or osp.join(root, 'promise12.json'))
    check_writable(osp.dirname(out))
    images, segs = {}, {}
    for folder, _, files in os.walk(root):
        for name in files:
            m = CASE_RE.match(name)
            if m:
                target = segs if m.group(2) else images
                case = m.group(1)
                if case in target:
                    raise ValueError(f'{osp.join(folder, name)}: {case} also in '
                                     f'{osp.dirname(target[case])} (one case per name)')
                target[case] = osp.join(folder, name)
    if not images:
        raise FileNotFoundError(f'{root}: no CaseNN.mhd files found')
    for case in sorted(images):
        if case not in segs:
            raise FileNotFoundError(f'{images[case]}: no {case}_segmentation.mhd beside it')
    for case in sorted(set(segs) - set(images)):
        raise FileNotFoundError(f'{segs[case]}: no {case}.mhd for it')
    rel = lambda p: osp.relpath(p, osp.dirname(out))  # noqa: E731
    entries = {}
    for case in progress(sorted(images), 'PROMISE12 cases', args.quiet):
        igeo, sgeo = read_geometry(images[case]), read_geometry(segs[case])
        isize, ssize = igeo['size'], sgeo['size']
        if isize != ssize or len(isize) != 3:
            raise ValueError(f'{segs[case]}: size {ssize} does not match {case}.mhd {isize} '
                             f'(both must be 3D)')
        check_same_geometry(images[case], segs[case], image_geometry=igeo)
        entries[case] = dict(image=rel(images[case]), label=rel(segs[case]))
    train, val = seeded_split(list(entries), args.val_ratio, args.seed)
    meta = dict(dataset='PROMISE12', classes=['background', 'prostate'],
                val_ratio=args.val_ratio, seed=args.seed, num_cases=len(entries))
    write_split_json(out, entries, train, val, meta)
    return dict(out=out, train=len(train), val=len(val))


def main(argv=None) -> int:
    return run_converter(convert, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
