"""Draw the ground truth of a DeepLesion-style COCO json (box, RECIST, pseudo-mask) on its slices.

    python tools/browse_dataset.py CONFIG|ANN_FILE [--split train|val|test] [--img-dir DIR]
        [--output-dir DIR] [--window soft_tissue|lung|bone|liver|brain|LOW,HIGH]
        [--max-images N] [--not-show] [--augment] [--image-hu-range LOW HIGH]
        [--show-interval 2] [--alpha 0.4] [--cfg-options k=v ...]

CONFIG: the ``<split>_dataloader.dataset`` of the config names the json and the image folder
(a demo config generates its data first).  ANN_FILE: a json written by
data_prep/deeplesion_to_coco.py; images under ``--img-dir`` (default: ``../Images_png`` beside
the json's folder when it exists, else the json's folder).

Without --augment the json itself is drawn: green boxes, green pseudo-masks (RLE or polygons,
decoded by pycocotools), yellow RECIST long and short axes; 16-bit PNG slices are read as HU
(value - 32768) and shown in --window.  With --augment (CONFIG only) each sample goes through the
split's pipeline first (like mmdet's browse_dataset) and the middle slice of the network input
is drawn with the transformed ground truth.  With --output-dir one PNG per image,
``<series>_<key>.png`` (the file name with '/' replaced by '_'), written atomically.

Bad input (missing json / image file, a malformed annotation) stops the tool before anything
is drawn with one line ``error: <json>: image <id> (<file>): ...`` and exit code 2; so does an
``--output-dir`` that cannot be written (a file, a read-only folder, an output PNG name taken
by a folder), checked first.  Bad numbers are argparse's usage errors (``--max-images`` >= 1,
``--alpha`` in [0, 1], ``--show-interval`` >= 0, ``--image-hu-range`` LOW < HIGH), and so are
options that do not apply: ``--split`` / ``--cfg-options`` with a json, ``--image-hu-range``
with ``--augment``, ``--show-interval`` with ``--not-show``.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


class BrowseError(ValueError):
    """Bad input, reported as one line."""


def parse_args(argv=None):
    from acsdet.utils.cli_types import (OrderedPair, finite_float, nonnegative_float,
                                        positive_int, probability)
    p = argparse.ArgumentParser(prog='browse_dataset.py', description=__doc__.split('\n')[0])
    p.add_argument('source', help='config file (.py) or COCO json (.json)')
    p.add_argument('--split', default=None, choices=('train', 'val', 'test'),
                   help='which dataloader of CONFIG (default: train); CONFIG only')
    p.add_argument('--img-dir', default=None, help='image folder of ANN_FILE')
    p.add_argument('--output-dir', default=None, help='write one PNG per image here')
    p.add_argument('--window', default='soft_tissue',
                   help='CT window: soft_tissue, lung, bone, liver, brain or LOW,HIGH (HU)')
    p.add_argument('--max-images', type=positive_int, default=None,
                   help='draw at most N images (N >= 1)')
    p.add_argument('--not-show', action='store_true', help='do not open a window')
    p.add_argument('--augment', action='store_true',
                   help='CONFIG only: draw samples after the pipeline (augmentations)')
    p.add_argument('--image-hu-range', nargs=2, type=finite_float, action=OrderedPair,
                   default=None, metavar=('LOW', 'HIGH'),
                   help='show 8-bit grey images as HU mapped from LOW..HIGH (e.g. -1024 3071 '
                   'for ../shared/data/deeplesion_keyslices); default: as they are; not with '
                   '--augment')
    p.add_argument('--show-interval', type=nonnegative_float, default=None,
                   help='seconds per shown image (default 2; not with --not-show)')
    p.add_argument('--alpha', type=probability, default=0.4,
                   help='mask opacity in [0, 1] (the lesion stays visible under it); '
                   'default 0.4')
    from mmengine.config import DictAction
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   metavar='KEY=VALUE', help='override config settings (CONFIG only)')
    args = p.parse_args(argv)
    is_json = args.source.endswith('.json')
    for option, given, applies, needed in (
            ('--split', args.split is not None, not is_json, 'a CONFIG source (not a json)'),
            ('--cfg-options', args.cfg_options is not None, not is_json,
             'a CONFIG source (not a json)'),
            ('--image-hu-range', args.image_hu_range is not None, not args.augment,
             'the json drawn as it is (not with --augment, whose pipeline reads the images)'),
            ('--show-interval', args.show_interval is not None, not args.not_show,
             'images shown in a window (not with --not-show)')):
        if given and not applies:
            p.error(f'{option} applies only to {needed}')
    if args.split is None:
        args.split = 'train'
    if args.show_interval is None:
        args.show_interval = 2.0
    return args


def parse_window(text: str):
    """A window name, or ``'LOW,HIGH'`` -> (low, high)."""
    from acsdet.visualization import window_bounds
    value = text
    if ',' in text:
        try:
            value = tuple(float(v) for v in text.split(','))
        except ValueError:
            raise BrowseError(f'--window {text!r}: expected a name or LOW,HIGH') from None
    try:
        window_bounds(value)
    except (ValueError, TypeError) as err:
        raise BrowseError(f'--window {text!r}: {err}') from None
    return value


def _dataset_cfg(args):
    from mmengine.config import Config

    from acsdet.apis import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.source)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    key = f'{args.split}_dataloader'
    if key not in cfg:
        raise BrowseError(f'{args.source}: no {key} in the config')
    return cfg, cfg[key]['dataset']


def resolve_source(args):
    """(ann_file, img_dir) of a json, or of the config's ``<split>`` dataset."""
    if not osp.exists(args.source):
        raise BrowseError(f'{args.source}: file not found')
    if args.source.endswith('.json'):
        ann_file = args.source
        img_dir = args.img_dir
        if img_dir is None:
            guess = osp.join(osp.dirname(osp.dirname(osp.abspath(ann_file))), 'Images_png')
            img_dir = guess if osp.isdir(guess) else osp.dirname(osp.abspath(ann_file))
        return ann_file, img_dir
    from acsdet.registry import DATASETS
    _, ds_cfg = _dataset_cfg(args)
    dataset = DATASETS.build(dict(ds_cfg, lazy_init=True))  # paths joined, no annotations read
    return dataset.ann_file, args.img_dir or dataset.data_prefix.get('img', '')


def _numbers(value, n: int, what: str, where: str):
    ok = isinstance(value, (list, tuple)) and len(value) == n and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok:
        raise BrowseError(f'{where}: "{what}" must be {n} numbers, got {value!r}')
    return [float(v) for v in value]


def load_ground_truth(ann_file: str, img_dir: str, max_images=None):
    """Read and check the json; returns (classes, [(image, [annotations], path)])."""
    try:
        with open(ann_file) as f:
            coco = json.load(f)
    except json.JSONDecodeError as err:
        raise BrowseError(f'{ann_file}: not valid json ({err})') from None
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(coco.get(key), list):
            raise BrowseError(f'{ann_file}: no "{key}" list')
    cats = sorted(c['id'] for c in coco['categories'])
    names = {c['id']: c.get('name', str(c['id'])) for c in coco['categories']}
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann.get('image_id'), []).append(ann)
    images = sorted(coco['images'], key=lambda im: im.get('id', 0))
    if max_images is not None:
        images = images[:max(0, max_images)]
    items = []
    for im in images:
        where = f'{ann_file}: image {im.get("id")} ({im.get("file_name")})'
        for key in ('id', 'file_name', 'width', 'height'):
            if key not in im:
                raise BrowseError(f'{where}: lacks "{key}"')
        path = osp.join(img_dir, im['file_name'])
        if not osp.isfile(path):
            raise BrowseError(f'{where}: file not found: {path}')
        anns = by_image.get(im['id'], [])
        for ann in anns:
            a_where = f'{where}, annotation {ann.get("id")}'
            _numbers(ann.get('bbox'), 4, 'bbox', a_where)
            if 'recist' in ann:
                _numbers(ann['recist'], 8, 'recist', a_where)
            if ann.get('category_id') not in names:
                raise BrowseError(f'{a_where}: unknown category_id {ann.get("category_id")!r}')
        items.append((im, anns, path))
    return tuple(names[c] for c in cats), {c: i for i, c in enumerate(cats)}, items


def gt_sample(image: dict, anns, label_of, where: str):
    """COCO annotations -> ``DetDataSample`` with ``gt_instances`` (bboxes xyxy, labels, masks,
    recists when every annotation has them)."""
    import numpy as np
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    from pycocotools import mask as mask_utils

    h, w = int(image['height']), int(image['width'])
    inst = InstanceData()
    boxes = [[x, y, x + bw, y + bh] for x, y, bw, bh in (a['bbox'] for a in anns)]
    inst.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    inst.labels = torch.tensor([label_of[a['category_id']] for a in anns], dtype=torch.long)
    if anns and all(a.get('segmentation') for a in anns):
        masks = []
        for a in anns:
            seg = a['segmentation']
            try:
                if isinstance(seg, list):  # polygons
                    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
                elif isinstance(seg.get('counts'), list):  # uncompressed RLE
                    rle = mask_utils.frPyObjects(seg, h, w)
                else:
                    rle = dict(seg, counts=seg['counts'].encode('ascii')
                               if isinstance(seg['counts'], str) else seg['counts'])
                m = mask_utils.decode(rle)
            except Exception as err:  # pycocotools raises several types on bad input
                raise BrowseError(f'{where}, annotation {a.get("id")}: undecodable '
                                  f'"segmentation" ({type(err).__name__}: {err})') from None
            if m.shape != (h, w):
                raise BrowseError(f'{where}, annotation {a.get("id")}: mask is '
                                  f'{m.shape[1]}x{m.shape[0]}, image {w}x{h}')
            masks.append(m.astype(bool))
        inst.masks = torch.from_numpy(np.stack(masks))
    if anns and all('recist' in a for a in anns):
        inst.recists = torch.tensor([a['recist'] for a in anns], dtype=torch.float32)
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    sample.gt_instances = inst
    return sample


def _draw(vis, name, image, sample, args, out_name):
    import contextlib

    from acsdet.utils.atomic_write import atomic_file_path
    out_file = osp.join(args.output_dir, out_name) if args.output_dir else None
    with (contextlib.nullcontext() if out_file is None else atomic_file_path(out_file)) as tmp:
        vis.add_datasample(name, image, sample, draw_pred=False, show=not args.not_show,
                           wait_time=args.show_interval, out_file=tmp)
    return out_file


def _png_name(image: dict) -> str:
    """The output file of a json image: its file name with '/' replaced by '_', .png."""
    name = image['file_name'].replace('/', '_').replace('\\', '_')
    return name if name.lower().endswith('.png') else osp.splitext(name)[0] + '.png'


def browse_json(args, window) -> int:
    from acsdet.visualization import CTDetLocalVisualizer, read_display_image
    ann_file, img_dir = resolve_source(args)
    classes, label_of, items = load_ground_truth(ann_file, img_dir, args.max_images)
    vis = CTDetLocalVisualizer(name=f'browse_{os.getpid()}', window=window, alpha=args.alpha)
    vis.dataset_meta = dict(classes=classes, palette=[vis.gt_color] * len(classes))
    samples = []
    for im, anns, path in items:  # check everything before drawing anything
        where = f'{ann_file}: image {im["id"]} ({im["file_name"]})'
        samples.append(gt_sample(im, anns, label_of, where))
    check_output(args, [_png_name(im) for im, _, _ in items])
    for (im, anns, path), sample in zip(items, samples):
        try:
            image = read_display_image(path, args.image_hu_range)
        except (ValueError, FileNotFoundError) as err:
            raise BrowseError(f'{ann_file}: image {im["id"]} ({im["file_name"]}): {err}') \
                from None
        if image.shape[:2] != (int(im['height']), int(im['width'])):
            raise BrowseError(f'{ann_file}: image {im["id"]} ({im["file_name"]}): file is '
                              f'{image.shape[1]}x{image.shape[0]}, json says '
                              f'{im["width"]}x{im["height"]}')
        name = _png_name(im)
        _draw(vis, name, image, sample, args, name)
    print(f'{len(items)} images of {ann_file}'
          + (f' -> {args.output_dir}' if args.output_dir else ''))
    return 0


def _input_image(inputs, pipeline):
    """Packed ``inputs`` -> what the visualizer draws: the middle slice as HU (DeepLesion
    stacks, (1, D, H, W) in [0, 1]) or (H, W, 3) RGB (mmdet's (3, H, W) BGR)."""
    import numpy as np
    x = inputs.numpy() if hasattr(inputs, 'numpy') else np.asarray(inputs)
    if x.ndim == 4:
        hu_range = next((t.hu_range for t in pipeline.transforms if hasattr(t, 'hu_range')),
                        (-1024.0, 2050.0))
        low, high = (float(v) for v in hu_range)
        return low + x[0, x.shape[1] // 2].astype(np.float32) * (high - low)
    return np.ascontiguousarray(x.transpose(1, 2, 0)[:, :, ::-1]).astype(np.uint8)


def browse_pipeline(args, window) -> int:
    import torch

    from acsdet.registry import DATASETS
    from acsdet.visualization import CTDetLocalVisualizer
    if args.source.endswith('.json') or not osp.exists(args.source):
        raise BrowseError(f'{args.source}: --augment needs a config file')
    _, ds_cfg = _dataset_cfg(args)
    dataset = DATASETS.build(ds_cfg)
    vis = CTDetLocalVisualizer(name=f'browse_{os.getpid()}', window=window, alpha=args.alpha)
    classes = dataset.metainfo.get('classes', ('lesion', ))
    vis.dataset_meta = dict(classes=classes, palette=[vis.gt_color] * len(classes))
    n = len(dataset) if args.max_images is None else min(len(dataset), args.max_images)
    for i in range(n):
        item = dataset[i]
        sample = item['data_samples']
        gt = sample.gt_instances
        if 'bboxes' in gt and hasattr(gt.bboxes, 'tensor'):
            gt.bboxes = gt.bboxes.tensor
        if 'masks' in gt and hasattr(gt.masks, 'to_ndarray'):
            gt.masks = torch.from_numpy(gt.masks.to_ndarray().astype(bool))
        series, key = sample.metainfo.get('series'), sample.metainfo.get('key_slice')
        name = (f'{series}_{int(key):03d}.png' if series is not None and key is not None
                else osp.splitext(osp.basename(sample.img_path))[0] + '.png')
        _draw(vis, name, _input_image(item['inputs'], dataset.pipeline), sample, args, name)
    print(f'{n} augmented samples of the {args.split} split'
          + (f' -> {args.output_dir}' if args.output_dir else ''))
    return 0


def check_output(args, names=()) -> None:
    """--output-dir: a folder (or creatable) that can be written, and none of ``names`` (the
    PNGs to write) a folder; checked before anything is read or drawn."""
    if args.output_dir is None:
        return
    from acsdet.utils.cli_types import check_output_dir
    try:
        check_output_dir(args.output_dir, '--output-dir', files=names)
    except ValueError as err:
        raise BrowseError(str(err)) from None


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_output(args)
        window = parse_window(args.window)
        return browse_pipeline(args, window) if args.augment else browse_json(args, window)
    except (BrowseError, FileNotFoundError, KeyError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f'error: {msg}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
