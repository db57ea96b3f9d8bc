#!/usr/bin/env python
"""Generate the ACS paper's proof-of-concept shapes datasets (2D circles / squares, 3D spheres,
cubes, cylinders, cones, pyramids; N(0, 0.5) noise), deterministically from a seed.

    python data_prep/make_poc_shapes.py data/poc                 # paper counts
    python data_prep/make_poc_shapes.py data/poc --num 200       # at most 200 per split
    python data_prep/make_poc_shapes.py data/poc --orientation authors  # the authors' rule

writes data/poc/poc_2d/{train,test}/NNNNN.npz and data/poc/poc_3d/{train,test}/NNNNN.npz
(keys image float32, label uint8) plus a meta.json per set.  OUT_DIR gets a write probe
before any work (a one-line error, exit code 2).  See docs/gsp_conv.md.
"""
import argparse
import sys

from acsdet.data_prep.output_guard import OutputNotWritableError
from acsdet.data_prep.poc_shapes import (POC_DEFAULT_COUNTS, POC_ORIENTATIONS,
                                         generate_poc_shapes)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('out_dir', help='output root (poc_2d/ and poc_3d/ are created inside)')
    p.add_argument('--seed', type=int, default=0, help='base seed (default: 0)')
    p.add_argument('--dims', nargs='+', default=['2d', '3d'], choices=['2d', '3d'],
                   help='which datasets (default: both)')
    p.add_argument('--num', type=int,
                   help='cap every split at this many samples (CPU-sized runs)')
    for dim, splits in POC_DEFAULT_COUNTS.items():
        for split, n in splits.items():
            p.add_argument(f'--num-{dim}-{split}', type=int,
                           help=f'{dim} {split} samples (default: {n}, or --num)')
    p.add_argument('--orientation', default='uniform', choices=POC_ORIENTATIONS,
                   help="rule of the 3D cylinders / cones / pyramids: 'uniform' (6 axis-aligned "
                   "orientations, default) or 'authors' (the authors' generator: cylinders along "
                   "W, cones / pyramids along D with p 1/2; acsdet/data_prep/poc_shapes.py)")
    p.add_argument('--quiet', action='store_true', help='no progress output')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.num is not None and args.num < 0:
        print(f'error: --num must be >= 0, got {args.num}', file=sys.stderr)
        return 2
    counts = {}
    for dim, splits in POC_DEFAULT_COUNTS.items():
        counts[dim] = {}
        for split, n in splits.items():
            explicit = getattr(args, f'num_{dim}_{split}')
            counts[dim][split] = explicit if explicit is not None else \
                (min(n, args.num) if args.num is not None else n)

    def progress(dim, split, done, total):
        if not args.quiet and (done == total or done % 500 == 0):
            print(f'{dim} {split}: {done}/{total}', flush=True)

    try:
        metas = generate_poc_shapes(args.out_dir, seed=args.seed, counts=counts,
                                    dims=args.dims, orientation=args.orientation,
                                    progress=progress)
    except (ValueError, OutputNotWritableError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for dim, meta in metas.items():
        print(f'poc_{dim}: {meta["counts"]} classes {meta["classes"][1:]} '
              f'-> {args.out_dir}/poc_{dim}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
