#!/usr/bin/env python
"""Generate the synthetic malignancy-like nodule set (smooth "benign" against lobulated /
spiculated "malignant" nodules in lung-like background, HU), seeded, in the layout of
data_prep/lidc_to_npz.py, so the LIDC classification configs run on it.

    python data_prep/make_synthetic_nodules.py data/synthetic_nodules            # 48^3, 1 mm
    python data_prep/make_synthetic_nodules.py data/synthetic_nodules_cpu --num 300 \\
        --size 20 --spacing 2                                                      # CPU run

writes OUT/nodules/synNNNNN.npz (image HU int16, label uint8 nodule mask, spacing, malignancy
= the readers' ratings) and OUT/lidc_nodules.json ("training" / "validation", 4:1 at random,
each entry with malignancy_ratings / _mode / _label; label null for mode 3).  OUT gets a write
probe before any work (a one-line error, exit code 2).  See docs/classification.md.
"""
import argparse
import sys

from acsdet.data_prep.output_guard import OutputNotWritableError
from acsdet.data_prep.synthetic_nodules import generate_synthetic_nodules
from acsdet.utils.cli_types import positive_float, positive_int


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('out_dir', help='output folder (nodules/, lidc_nodules.json)')
    p.add_argument('--num', type=positive_int, default=300, help='nodules (default: 300)')
    p.add_argument('--size', type=positive_int, default=48,
                   help='crop edge in voxels (default: 48, the paper\'s)')
    p.add_argument('--spacing', type=positive_float, default=1.0,
                   help='isotropic voxel size in mm (default: 1.0)')
    p.add_argument('--val-ratio', type=float, default=0.2,
                   help='validation share of the random split (default: 0.2)')
    p.add_argument('--radius-mm', type=positive_float, nargs=2, default=(3.0, 9.0),
                   metavar=('LOW', 'HIGH'), help='nodule radius range in mm (default: 3 9)')
    p.add_argument('--seed', type=int, default=0, help='base seed (default: 0)')
    p.add_argument('--quiet', action='store_true', help='no progress output')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def progress(done, total):
        if not args.quiet and (done == total or done % 50 == 0):
            print(f'nodules: {done}/{total}', flush=True)

    try:
        meta = generate_synthetic_nodules(args.out_dir, num=args.num, size=args.size,
                                          spacing=args.spacing, val_ratio=args.val_ratio,
                                          seed=args.seed, radius_mm=args.radius_mm,
                                          progress=progress)
    except (ValueError, OutputNotWritableError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'wrote {args.out_dir}/lidc_nodules.json: labels {meta["labels"]} (null: mode 3, left '
          f'out), split {meta["split"]}, shapes {meta["shapes"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
