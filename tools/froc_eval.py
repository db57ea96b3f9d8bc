"""Score any detector's lesion detections with the DeepLesion FROC.

    python tools/froc_eval.py GT_JSON RESULTS [--out-dir DIR] [--iou-thr 0.5]
        [--hit-rule iou|iobb|center] [--noisy drop|ignore] [--split test]

GT_JSON is a DeepLesion COCO json (see docs/froc.md); RESULTS is a COCO results json
(``[{"image_id", "bbox": [x, y, w, h], "score", "category_id"}, ...]``) or the ``.pkl``
written by ``tools/test.py --out`` (mmdet ``pred_instances`` in original image pixels).
Every image of GT_JSON (after ``--split``) is an evaluated image, with or without
detections. Prints the table (all lesions and the breakdowns) and writes
``<out-dir>/froc.png`` and ``<out-dir>/froc_metrics.json`` (same keys as ``FROCMetric``).
The computation is :func:`acsdet.evaluation.functional.evaluate_froc`, the one
``FROCMetric`` runs inside a Runner.
"""
import argparse
import json
import os
import os.path as osp
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='froc_eval.py',
        description='FROC (sensitivity at 0.5, 1, 2, 4, 8, 16 false positives per image) of '
        'lesion detections against a DeepLesion COCO ground truth, with breakdowns by lesion '
        'type, size and slice interval.')
    parser.add_argument('gt_json', metavar='GT_JSON', help='DeepLesion COCO ground truth')
    parser.add_argument('results', metavar='RESULTS',
                        help='COCO results .json or mmdet .pkl from tools/test.py --out '
                        '(a .pkl is unpickled with an allow-list of array/tensor types)')
    parser.add_argument('--out-dir', default=None,
                        help='where froc.png and froc_metrics.json go (default: the folder '
                        'of RESULTS)')
    parser.add_argument('--iou-thr', type=float, default=0.5,
                        help='threshold of the iou / iobb hit rules (default 0.5)')
    parser.add_argument('--hit-rule', choices=['iou', 'iobb', 'center'], default='iou',
                        help='iou: IoU >= thr (DeepLesion, default); iobb: intersection over '
                        'the detected box >= thr; center: detection centre inside the lesion box')
    parser.add_argument('--noisy', choices=['drop', 'ignore'], default='drop',
                        help='noisy lesions: drop them (published, default: a detection on '
                        'one is a FP) or use them as ignore regions (neither TP nor FP)')
    parser.add_argument('--split', default=None,
                        help="evaluate only the images whose 'split' is this (e.g. test); "
                        'detections on other images are then dropped')
    parser.add_argument('--fp-rates', type=float, nargs='+',
                        default=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0],
                        help='operating points (default 0.5 1 2 4 8 16)')
    parser.add_argument('--mean-fp-rates', type=float, nargs='+', default=[0.5, 1.0, 2.0, 4.0],
                        help='FP rates averaged into froc/mean (default 0.5 1 2 4)')
    parser.add_argument('--no-plot', action='store_true', help='do not write froc.png')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported here so that --help answers without loading mmdet.
    from acsdet.evaluation.functional import (evaluate_froc, format_froc_table, load_detections,
                                              load_lesion_gt, plot_froc_curves)
    from acsdet.utils.atomic_write import write_text_atomic
    try:
        gt = load_lesion_gt(args.gt_json, noisy=args.noisy, split=args.split)
        dets = load_detections(args.results, gt,
                               unknown='drop' if args.split is not None else 'error')
        result = evaluate_froc(gt, dets, hit_rule=args.hit_rule, iou_thr=args.iou_thr,
                               fp_rates=args.fp_rates, mean_fp_rates=args.mean_fp_rates)
    except (ValueError, FileNotFoundError) as err:
        print(f'froc_eval.py: error: {err}', file=sys.stderr)
        return 1
    result.settings['noisy'] = args.noisy
    print(format_froc_table(result))
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.results))
    os.makedirs(out_dir, exist_ok=True)
    metrics = {f'froc/{k}': v for k, v in result.to_metrics('all').items()}
    metrics_file = osp.join(out_dir, 'froc_metrics.json')
    write_text_atomic(metrics_file, json.dumps(metrics, indent=1))
    print(f'metrics written to {metrics_file}')
    if not args.no_plot:
        png = osp.join(out_dir, 'froc.png')
        plot_froc_curves([(osp.basename(args.results), result.overall)], out_file=png,
                         title=f'FROC ({result.num_images} images, '
                         f'{result.overall.num_lesions} lesions)')
        print(f'plot written to {png}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
