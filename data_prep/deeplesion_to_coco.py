#!/usr/bin/env python
"""Convert DeepLesion (DL_info.csv + Images_png/) to COCO json files with GrabCut masks.

    python data_prep/deeplesion_to_coco.py data/DeepLesion --workers 2

writes data/DeepLesion/annotations/deeplesion_{train,val,test}.json and
deeplesion_conversion_report.json (skips per kind, mask quality).  The output folder gets a
write probe before any work, so an unwritable location is a one-line error at once, not after
GrabCut has run over the whole dataset.  See docs/deeplesion_data.md.
"""
import argparse
import json
import logging
import os
import os.path as osp
import sys

from acsdet.data_prep.deeplesion_coco import convert_deeplesion
from acsdet.data_prep.deeplesion_info import DLInfoError
from acsdet.data_prep.output_guard import OutputNotWritableError


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('root', help='DeepLesion folder holding DL_info.csv and Images_png/')
    p.add_argument('--dl-info', help='DL_info.csv (default: <root>/DL_info.csv)')
    p.add_argument('--images', help='Images_png folder (default: <root>/Images_png)')
    p.add_argument('--out', help='output folder (default: <root>/annotations)')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                   help='worker processes, 0 = in-process (default: all cores)')
    p.add_argument('--no-grabcut', action='store_true',
                   help='RECIST-ellipse masks only (no GrabCut)')
    p.add_argument('--margin', type=float, default=0.25,
                   help='GrabCut crop margin, fraction of the box side (default: 0.25)')
    p.add_argument('--iterations', type=int, default=3, help='GrabCut iterations (default: 3)')
    p.add_argument('--skip-bad-rows', action='store_true',
                   help='log and skip malformed csv rows instead of stopping')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    dl_info = args.dl_info or osp.join(args.root, 'DL_info.csv')
    images = args.images or osp.join(args.root, 'Images_png')
    out = args.out or osp.join(args.root, 'annotations')
    if not osp.isdir(images):
        print(f'error: Images_png folder not found: {images}', file=sys.stderr)
        return 2
    try:
        report = convert_deeplesion(
            dl_info, images, out, workers=args.workers, grabcut=not args.no_grabcut,
            grabcut_cfg=dict(margin=args.margin, iterations=args.iterations),
            skip_bad_rows=args.skip_bad_rows, progress=not args.no_progress)
    except (DLInfoError, FileNotFoundError, OutputNotWritableError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for split, s in report['splits'].items():
        print(f'{split:5s}: {s["images"]} key slices, {s["lesions"]} lesions '
              f'({s["noisy_lesions"]} noisy) -> {s["file"]}')
    for kind, e in report['events'].items():
        print(f'{kind}: {e["count"]}')
    print('mask quality:', json.dumps(report['mask_quality']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
