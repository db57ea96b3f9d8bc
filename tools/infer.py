"""Detect lesions on a user's own CT: NIfTI, DICOM series folder, PNG series or one image.

    python tools/infer.py CONFIG CHECKPOINT INPUT [--input-type auto|nifti|dicom|png_series|image]
        [--out-dir DIR] [--slices FIRST LAST] [--batch-size 4] [--score-thr T]
        [--pixel-spacing MM] [--slice-interval MM] [--image-hu-range LOW HIGH]
        [--group-3d [--group-score-thr 0.5]]
        [--overlays [--overlay-score-thr 0.3] [--max-overlays 20]]
        [--contact-sheet] [--report] [--top-n 16] [--finding-score-thr 0.3]
        [--window soft_tissue|lung|bone|...] [--no-hu-check] [--device cpu]

Writes (all atomically) DIR/detections.json; with --overlays DIR/overlays/slice_XXXX.png for
the slices holding the highest-scoring findings; with --contact-sheet DIR/contact_sheet.png
(the --top-n findings as zoomed, captioned tiles); with --report DIR/report.html (one static
file, thumbnails embedded as base64 PNGs, links to the contact sheet / overlays).  See
docs/inference.md for the JSON format and coordinate frames.

Checked before the model is loaded, each a one-line error: every number (argparse: counts
>= 1, scores in [0, 1], spacings > 0, LOW < HIGH, FIRST <= LAST < depth); options that do not
apply (--pixel-spacing: PNG series and single images; --slice-interval: PNG series;
--image-hu-range: --input-type image; the picture options without --overlays /
--contact-sheet / --report; --group-score-thr without --group-3d); --out-dir (a folder, or
creatable, and writable; none of the output files a folder).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


# defaults of the options that only apply with another option or to some inputs (None in
# the parser, so that main() can tell a value the user gave from the default)
DEFAULTS = dict(group_score_thr=0.5, window='soft_tissue', overlay_score_thr=0.3,
                max_overlays=20, top_n=16, finding_score_thr=0.3)
# which resolved input types each input option applies to (read_volume's contract)
INPUT_OPTIONS = (('--pixel-spacing', 'pixel_spacing', ('png_series', 'image')),
                 ('--slice-interval', 'slice_interval', ('png_series', )))


def parse_args(argv=None):
    from acsdet.fileio.volume_io import DEFAULT_IMAGE_HU_RANGE, INPUT_TYPES
    from acsdet.utils.cli_types import (OrderedPair, finite_float, nonnegative_int,
                                        positive_float, positive_int, probability)
    p = argparse.ArgumentParser(prog='infer.py', description=__doc__.split('\n')[0],
                                epilog=__doc__[__doc__.index('Writes'):],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('input', help='NIfTI file, DICOM folder, PNG series folder or one image')
    p.add_argument('--input-type', default='auto', choices=INPUT_TYPES)
    p.add_argument('--out-dir', default='infer_out')
    p.add_argument('--slices', nargs=2, type=nonnegative_int, action=OrderedPair, strict=False,
                   metavar=('FIRST', 'LAST'), help='0-based inclusive slice range (default: all)')
    p.add_argument('--batch-size', type=positive_int, default=4)
    p.add_argument('--score-thr', type=probability, default=None,
                   help='override model.test_cfg.rcnn.score_thr (in [0, 1])')
    p.add_argument('--pixel-spacing', type=positive_float, default=None,
                   help='mm, PNG series and single images only (default 1)')
    p.add_argument('--slice-interval', type=positive_float, default=None,
                   help='mm, PNG series only (default 2)')
    p.add_argument('--image-hu-range', nargs=2, type=finite_float, action=OrderedPair,
                   default=None, metavar=('LOW', 'HIGH'),
                   help='HU of grey 0 and 255 of an 8-bit image (--input-type image only; '
                   f'default {DEFAULT_IMAGE_HU_RANGE[0]:g} {DEFAULT_IMAGE_HU_RANGE[1]:g})')
    p.add_argument('--no-hu-check', action='store_true',
                   help='accept NIfTI/DICOM volumes without air (< -500 HU)')
    p.add_argument('--group-3d', action='store_true',
                   help='link detections on consecutive slices into 3D candidates')
    p.add_argument('--group-score-thr', type=probability, default=None,
                   help='with --group-3d (default 0.5)')
    p.add_argument('--overlays', action='store_true', help='write overlay PNGs')
    p.add_argument('--window', default=None,
                   help='CT window of the overlays, contact sheet and report thumbnails '
                   '(default soft_tissue)')
    p.add_argument('--overlay-score-thr', type=probability, default=None,
                   help='with --overlays (default 0.3)')
    p.add_argument('--max-overlays', type=positive_int, default=None,
                   help='with --overlays (default 20)')
    p.add_argument('--contact-sheet', action='store_true',
                   help='write DIR/contact_sheet.png: the --top-n findings, zoomed tiles')
    p.add_argument('--report', action='store_true',
                   help='write DIR/report.html: static HTML report with embedded thumbnails')
    p.add_argument('--top-n', type=positive_int, default=None,
                   help='findings on the contact sheet (the report lists up to 3 x top-n); '
                   'default 16')
    p.add_argument('--finding-score-thr', type=probability, default=None,
                   help='findings below this score are left off the sheet and report '
                   '(default 0.3)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    pictures = args.overlays or args.contact_sheet or args.report
    needs = (('--group-score-thr', 'group_score_thr', args.group_3d, '--group-3d'),
             ('--overlay-score-thr', 'overlay_score_thr', args.overlays, '--overlays'),
             ('--max-overlays', 'max_overlays', args.overlays, '--overlays'),
             ('--window', 'window', pictures, '--overlays, --contact-sheet or --report'),
             ('--top-n', 'top_n', args.contact_sheet or args.report,
              '--contact-sheet or --report'),
             ('--finding-score-thr', 'finding_score_thr', args.contact_sheet or args.report,
              '--contact-sheet or --report'),
             ('--image-hu-range', 'image_hu_range', args.input_type == 'image',
              '--input-type image (8-bit pictures)'))
    for option, dest, applies, needed in needs:
        if getattr(args, dest) is not None and not applies:
            p.error(f'{option} applies only with {needed}')
    for dest, value in DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    if args.image_hu_range is None:
        args.image_hu_range = list(DEFAULT_IMAGE_HU_RANGE)
    return args


def check_input_options(args, input_type: str):
    """One-line message when an input option does not apply to ``input_type`` (else None)."""
    for option, dest, types in INPUT_OPTIONS:
        if getattr(args, dest) is not None and input_type not in types:
            why = 'one slice' if input_type == 'image' else 'its spacing is read from the file'
            return (f'{option} applies only to {" and ".join(types)} input; {args.input} is '
                    f'{input_type} input ({why})')
    return None


def _raise_if(message) -> None:
    if message:
        raise ValueError(message)


def output_files(args):
    """(files, folders) that the run writes in --out-dir."""
    files = ['detections.json'] + (['contact_sheet.png'] if args.contact_sheet else []) \
        + (['report.html'] if args.report else [])
    return files, (['overlays'] if args.overlays else [])


def write_json_atomic(path: str, obj) -> None:
    """Write JSON to a temp file in the same folder, then ``os.replace``."""
    from acsdet.utils.atomic_write import write_text_atomic
    write_text_atomic(path, json.dumps(obj, indent=1))


def write_overlays(volume, results, out_dir, window, score_thr, max_overlays):
    """Draw the slices holding the top-scoring detections; returns the files written."""
    import numpy as np
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from acsdet.utils.atomic_write import atomic_file_path
    from acsdet.visualization import CTDetLocalVisualizer, decode_rle
    vis = CTDetLocalVisualizer(name=f'infer_{os.getpid()}', window=window)
    ranked = sorted((r for r in results if r['detections']
                     and r['detections'][0]['score'] >= score_thr),
                    key=lambda r: -r['detections'][0]['score'])[:max_overlays]
    files = []
    for res in sorted(ranked, key=lambda r: r['slice_index']):
        dets = [d for d in res['detections'] if d['score'] >= score_thr]
        inst = InstanceData()
        inst.bboxes = torch.tensor([d['bbox'] for d in dets], dtype=torch.float32)
        inst.scores = torch.tensor([d['score'] for d in dets], dtype=torch.float32)
        inst.labels = torch.tensor([d['label'] for d in dets], dtype=torch.long)
        if dets and all('mask_rle' in d for d in dets):
            masks = np.stack([decode_rle(d['mask_rle']) for d in dets])
            inst.masks = torch.from_numpy(masks)
        if dets and all('recist' in d for d in dets):
            inst.recists = torch.tensor([d['recist'] for d in dets], dtype=torch.float32)
        sample = DetDataSample()
        sample.pred_instances = inst
        path = osp.join(out_dir, f'slice_{res["slice_index"]:04d}.png')
        with atomic_file_path(path) as tmp:  # a reader never sees half a PNG
            vis.add_datasample(path, volume.hu[res['slice_index']], sample, draw_gt=False,
                               out_file=tmp, pred_score_thr=score_thr)
        files.append(path)
    return files


def main(argv=None) -> int:
    args = parse_args(argv)
    from acsdet.utils.cli_types import check_output_dir
    try:  # every check before the model is loaded (or anything written)
        files, folders = output_files(args)
        check_output_dir(args.out_dir, '--out-dir', files=files, folders=folders)
        if args.input_type != 'auto':
            _raise_if(check_input_options(args, args.input_type))
        if args.overlays or args.contact_sheet or args.report:
            from acsdet.visualization import window_bounds
            try:
                window_bounds(args.window)
            except ValueError as err:
                raise ValueError(f'--window: {err}') from None
        from acsdet.apis import check_detection_geometry
        from acsdet.fileio import read_volume
        volume = read_volume(args.input, args.input_type, pixel_spacing=args.pixel_spacing,
                             slice_interval=args.slice_interval,
                             image_hu_range=args.image_hu_range,
                             check_hu=not args.no_hu_check, orient=True)
        _raise_if(check_input_options(args, volume.input_type))
        check_detection_geometry(volume)
        slices = None
        if args.slices:
            first, last = args.slices
            depth = volume.hu.shape[0]
            if last >= depth:
                raise ValueError(f'--slices {first} {last} outside 0..{depth - 1} of '
                                 f'{args.input}')
            slices = range(first, last + 1)
    except (ValueError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    from acsdet.apis import group_detections_3d, infer_volume, load_detector
    try:  # a missing, unreadable or other model's checkpoint / config: one line
        model, cfg = load_detector(args.config, args.checkpoint, args.device, args.score_thr)
    except (ValueError, KeyError, FileNotFoundError) as err:
        # KeyError quotes its message in str(): print the message itself
        print(f'error: {err.args[0] if err.args else err}', file=sys.stderr)
        return 2
    results = infer_volume(model, cfg, volume, slices, batch_size=args.batch_size,
                           progress=not args.no_progress)
    out = dict(
        input=osp.abspath(args.input), input_type=volume.input_type,
        # the volume is read in the axial LPS convention (acsdet.fileio.orient_axial): a
        # sagittal / coronal / flipped file is reoriented, so slices are axial ones
        orientation=volume.orientation,
        shape_zyx=list(volume.hu.shape), spacing_xyz_mm=list(volume.spacing),
        origin_mm=list(volume.origin), direction=volume.direction.reshape(-1).tolist(),
        frame=('bbox: pixels [x1, y1, x2, y2], 0-based, pixel i spans [i, i+1); bbox_mm: '
               'bbox times (sx, sy), mm from the top-left edge of the slice; '
               'centre_patient_mm: ITK/DICOM patient (LPS) mm of the box centre, '
               'origin + direction @ (spacing * (x - 0.5, y - 0.5, slice_index))'),
        config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
        slices=results)
    if args.group_3d:
        out['lesions_3d'] = group_detections_3d(results, abs(volume.spacing[2]),
                                                score_thr=args.group_score_thr)
    json_path = osp.join(args.out_dir, 'detections.json')
    write_json_atomic(json_path, out)
    n = sum(len(r['detections']) for r in results)
    print(f'{n} detections on {len(results)} slices -> {json_path}')
    if args.overlays:
        files = write_overlays(volume, results, osp.join(args.out_dir, 'overlays'), args.window,
                               args.overlay_score_thr, args.max_overlays)
        print(f'{len(files)} overlays -> {osp.join(args.out_dir, "overlays")}')
    write_pictures(args, volume, out)
    return 0


def write_pictures(args, volume, out) -> None:
    """--contact-sheet and --report (after detections.json, which they read from ``out``)."""
    from acsdet.visualization import top_findings, write_contact_sheet, write_html_report
    links = {}
    if args.contact_sheet:
        findings = top_findings(out['slices'], args.top_n, args.finding_score_thr,
                                out.get('lesions_3d'))
        path = write_contact_sheet(osp.join(args.out_dir, 'contact_sheet.png'), volume.hu,
                                   findings, window=args.window)
        links['contact sheet'] = path
        print(f'{len(findings)} findings -> {path}')
    if args.overlays and osp.isdir(osp.join(args.out_dir, 'overlays')):
        links['overlays folder'] = osp.join(args.out_dir, 'overlays')
    if args.report:
        path = write_html_report(osp.join(args.out_dir, 'report.html'), out, volume.hu,
                                 top_n=3 * args.top_n, score_thr=args.finding_score_thr,
                                 window=args.window, links=links)
        print(f'report -> {path}')


if __name__ == '__main__':
    sys.exit(main())
