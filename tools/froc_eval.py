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
``FROCMetric`` runs inside a Runner; :func:`evaluate` is this tool without the printing and
the files.

Checks, each one line: the numbers (argparse: ``--iou-thr`` in (0, 1], FP rates >= 0;
``--iou-thr`` is refused with ``--hit-rule center``, which has no threshold); the output folder
(a folder, or creatable, and writable), before anything is read; every detection of RESULTS,
the same way for a json and a ``.pkl`` (finite box and score, x2 >= x1 and y2 >= y1, w, h >= 0
in a json, the keys present), the message naming the file and the entry
(``res.pkl: image 3 (img_id 17), detection 2: box [10, 5, 4, 9] has x2 < x1``). Scores need
not lie in [0, 1]: the FROC only uses their order (see
:func:`acsdet.evaluation.functional.froc_io.check_detections`).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

DEFAULT_IOU_THR = 0.5


def parse_args(argv=None):
    from acsdet.utils.cli_types import nonnegative_float, positive_fraction
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
    parser.add_argument('--iou-thr', type=positive_fraction, default=None,
                        help='threshold of the iou / iobb hit rules, in (0, 1] (default 0.5)')
    parser.add_argument('--hit-rule', choices=['iou', 'iobb', 'center'], default='iou',
                        help='iou: IoU >= thr (DeepLesion, default); iobb: intersection over '
                        'the detected box >= thr; center: detection centre inside the lesion box')
    parser.add_argument('--noisy', choices=['drop', 'ignore'], default='drop',
                        help='noisy lesions: drop them (published, default: a detection on '
                        'one is a FP) or use them as ignore regions (neither TP nor FP)')
    parser.add_argument('--split', default=None,
                        help="evaluate only the images whose 'split' is this (e.g. test); "
                        'detections on other images are then dropped')
    parser.add_argument('--fp-rates', type=nonnegative_float, nargs='+',
                        default=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0],
                        help='operating points (default 0.5 1 2 4 8 16)')
    parser.add_argument('--mean-fp-rates', type=nonnegative_float, nargs='+',
                        default=[0.5, 1.0, 2.0, 4.0],
                        help='FP rates averaged into froc/mean (default 0.5 1 2 4)')
    parser.add_argument('--no-plot', action='store_true', help='do not write froc.png')
    args = parser.parse_args(argv)
    if args.iou_thr is not None and args.hit_rule == 'center':
        parser.error('--iou-thr applies only to --hit-rule iou and iobb (center has no '
                     'threshold)')
    if args.iou_thr is None:
        args.iou_thr = DEFAULT_IOU_THR
    return args


def evaluate(gt_json: str, results: str, noisy: str = 'drop', split=None, hit_rule='iou',
             iou_thr: float = DEFAULT_IOU_THR, fp_rates=None, mean_fp_rates=None):
    """The core of the tool: read GT_JSON and RESULTS, return the ``FROCResult``.

    Raises ``ValueError`` / ``FileNotFoundError`` with one line naming the file (and the
    entry) at fault. ``fp_rates`` / ``mean_fp_rates``: None for the defaults.
    """
    from acsdet.evaluation.functional import (DEFAULT_FP_RATES, DEFAULT_MEAN_FP_RATES,
                                              evaluate_froc, load_detections, load_lesion_gt)
    gt = load_lesion_gt(gt_json, noisy=noisy, split=split)
    dets = load_detections(results, gt, unknown='drop' if split is not None else 'error')
    result = evaluate_froc(gt, dets, hit_rule=hit_rule, iou_thr=iou_thr,
                           fp_rates=DEFAULT_FP_RATES if fp_rates is None else fp_rates,
                           mean_fp_rates=(DEFAULT_MEAN_FP_RATES if mean_fp_rates is None
                                          else mean_fp_rates))
    result.settings['noisy'] = noisy
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported here so that --help answers without loading mmdet.
    from acsdet.evaluation.functional import format_froc_table, plot_froc_curves
    from acsdet.utils.atomic_write import write_text_atomic
    from acsdet.utils.cli_types import check_output_dir
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.results))
    try:
        check_output_dir(out_dir, '--out-dir',
                         files=['froc_metrics.json'] + ([] if args.no_plot else ['froc.png']),
                         label=None if args.out_dir else
                         f'--out-dir {out_dir} (default: the folder of RESULTS)')
        result = evaluate(args.gt_json, args.results, noisy=args.noisy, split=args.split,
                          hit_rule=args.hit_rule, iou_thr=args.iou_thr, fp_rates=args.fp_rates,
                          mean_fp_rates=args.mean_fp_rates)
    except (ValueError, FileNotFoundError) as err:
        print(f'froc_eval.py: error: {err}', file=sys.stderr)
        return 1
    print(format_froc_table(result))
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
