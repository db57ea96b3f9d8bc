#!/usr/bin/env python
"""Generate the GSP-Conv CPU benchmark volumes, deterministically from a seed: a large-object
set (a target organ between unlabelled neighbours of the same intensity) and a small-object
twin (small lesions told apart by intensity), 16 x 48 x 48 at (2.5, 1, 1) mm.

    python data_prep/make_gsp_bench.py data/gsp_bench                # 40 train / 20 test each
    python data_prep/make_gsp_bench.py data/gsp_bench --num-train 8 --num-test 4
    python data_prep/make_gsp_bench.py data/gsp_bench --sheet docs/results/gsp_bench_samples.png

writes data/gsp_bench/gsp_{organ,lesion}/{train,test}/NNNNN.npz (keys image float32, label
uint8, spacing) plus a meta.json per set with the design constants and statistics.  OUT_DIR
gets a write probe before any work (a one-line error, exit code 2).  See docs/gsp_conv.md.
"""
import argparse
import sys

from acsdet.data_prep.gsp_bench_volumes import (GSP_BENCH_COUNTS, GSP_BENCH_SETS,
                                                generate_gsp_bench, gsp_bench_contact_sheet)
from acsdet.data_prep.output_guard import OutputNotWritableError
from acsdet.utils.cli_types import nonnegative_int

SHEET_VOLUMES = 6


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('out_dir', help='output root (gsp_organ/ and gsp_lesion/ are created inside)')
    p.add_argument('--seed', type=int, default=0, help='base seed (default: 0)')
    p.add_argument('--sets', nargs='+', default=list(GSP_BENCH_SETS), choices=list(GSP_BENCH_SETS),
                   help='which sets (default: both)')
    for split, n in GSP_BENCH_COUNTS.items():
        p.add_argument(f'--num-{split}', type=nonnegative_int, default=n,
                       help=f'{split} volumes per set (default: {n})')
    p.add_argument('--sheet', metavar='PNG',
                   help='also draw a contact sheet of the written sets (6 volumes per set, the '
                   'most labelled slice, plain | labels outlined)')
    p.add_argument('--quiet', action='store_true', help='no progress output')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    counts = {split: getattr(args, f'num_{split}') for split in GSP_BENCH_COUNTS}
    if args.sheet and counts['train'] < SHEET_VOLUMES:
        print(f'error: --sheet draws {SHEET_VOLUMES} training volumes per set, --num-train is '
              f'{counts["train"]}', file=sys.stderr)
        return 2

    def progress(name, split, done, total):
        if not args.quiet and (done == total or done % 20 == 0):
            print(f'{name} {split}: {done}/{total}', flush=True)

    try:
        metas = generate_gsp_bench(args.out_dir, seed=args.seed, counts=counts, sets=args.sets,
                                   progress=progress)
        if args.sheet:
            gsp_bench_contact_sheet(args.out_dir, args.sheet, num=SHEET_VOLUMES)
    except (ValueError, OutputNotWritableError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for name, meta in metas.items():
        print(f'gsp_{name}: {meta["counts"]} classes {meta["classes"][1:]} '
              f'-> {args.out_dir}/gsp_{name}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
