#!/usr/bin/env python
"""Write a small synthetic dataset in the exact DeepLesion layout, then convert it to COCO.

    python data_prep/make_demo_deeplesion.py data/deeplesion_demo

writes data/deeplesion_demo/{Images_png/, DL_info.csv, distractors.json,
annotations/deeplesion_*.json}.  ``--sheet PNG`` also draws test lesions beside look-alikes
over the slices around the key slice (docs/results/deeplesion_demo_lookalikes.png).
Idempotent: re-running with the same arguments does nothing (--force regenerates).  The
folder gets a write probe before any work (a one-line error, exit code 2).
See docs/deeplesion_data.md.
"""
import argparse
import logging
import sys

from acsdet.data_prep.deeplesion_demo import prepare_demo_deeplesion
from acsdet.data_prep.output_guard import OutputNotWritableError
from acsdet.visualization.lookalike_sheet import lookalike_contact_sheet


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('root', nargs='?', default='data/deeplesion_demo',
                   help='output folder (default: data/deeplesion_demo)')
    p.add_argument('--num-series', type=int, default=200,
                   help='key slices = series (default: 200: 120 train, 20 val, 60 test)')
    p.add_argument('--image-size', type=int, default=512, help='slice size (default: 512)')
    p.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    p.add_argument('--workers', type=int, default=0,
                   help='conversion worker processes (default: 0, in-process)')
    p.add_argument('--no-distractors', action='store_true',
                   help='leave out the lesion look-alikes')
    p.add_argument('--force', action='store_true', help='regenerate and reconvert')
    p.add_argument('--sheet', metavar='PNG',
                   help='also draw 6 test lesions beside 6 look-alikes (5 slices each)')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    try:
        paths = prepare_demo_deeplesion(args.root, num_series=args.num_series,
                                        image_size=args.image_size, seed=args.seed,
                                        distractors=not args.no_distractors,
                                        workers=args.workers, force=args.force, progress=True)
        if args.sheet:
            paths['sheet'] = lookalike_contact_sheet(args.root, args.sheet)
    except (OutputNotWritableError, FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for key in ('images_dir', 'dl_info', 'distractors_json', 'train', 'val', 'test', 'sheet'):
        if key in paths:
            print(f'{key:10s} {paths[key]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
