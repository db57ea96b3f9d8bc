"""tools/browse_dataset.py: ground truth (box, RECIST, pseudo-mask) drawn from the demo json
and from a json built from the real key slices in ../shared/data; bad input is one line."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest


@pytest.fixture(scope='module')
def browse(repo_root):
    spec = importlib.util.spec_from_file_location(
        'acsdet_browse_tool', osp.join(repo_root, 'tools', 'browse_dataset.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    from acsdet.data_prep.deeplesion_demo import prepare_demo_deeplesion
    return prepare_demo_deeplesion(str(tmp_path_factory.mktemp('demo')), num_series=6,
                                   image_size=96, seed=0)


def _greenish(img):
    """Fraction of pixels tinted green (GT boxes / masks) more than grey CT can be."""
    px = img.reshape(-1, 3).astype(int)
    return float((px[:, 1] - np.maximum(px[:, 0], px[:, 2]) > 50).mean())


def _colour_fraction(img, colour, tol=40):
    return float((np.abs(img.reshape(-1, 3).astype(int) - colour).max(1) <= tol).mean())


def test_demo_json_box_recist_mask_drawn_on_windowed_hu(browse, demo_data, tmp_path):
    out = tmp_path / 'out'
    assert browse.main([demo_data['train'], '--output-dir', str(out), '--max-images', '3',
                        '--not-show']) == 0
    with open(demo_data['train']) as f:
        coco = json.load(f)
    images = sorted(coco['images'], key=lambda im: im['id'])[:3]
    names = sorted(im['file_name'].replace('/', '_') for im in images)
    assert sorted(p.name for p in out.iterdir()) == names
    for im in images:
        img = cv2.imread(str(out / im['file_name'].replace('/', '_')))[:, :, ::-1]
        assert img.shape == (96, 96, 3)
        anns = [a for a in coco['annotations'] if a['image_id'] == im['id']]
        # RECIST end points of the long axis: yellow within a pixel
        for a in anns:
            x1, y1, x2, y2 = (int(round(v)) for v in a['recist'][:4])
            mid = img[(y1 + y2) // 2 - 1:(y1 + y2) // 2 + 2, (x1 + x2) // 2 - 1:(x1 + x2) // 2 + 2]
            assert _colour_fraction(mid, (255, 255, 0), tol=60) > 0, 'RECIST line missing'
        assert _greenish(img) > 0.01  # box + mask
        # soft-tissue window of the HU slice: black air around the body
        assert (img.max(axis=2) < 10).mean() > 0.1


def _keyslice_json(shared_dir, tmp_path, names):
    """A COCO json over real key slices: the .tru boxes, a polygon pseudo-mask (the box's
    inscribed diamond) and, for the first lesion, an 8-number RECIST along the box axes."""
    root = osp.join(shared_dir, 'data', 'deeplesion_keyslices')
    images, anns = [], []
    for i, name in enumerate(names, start=1):
        split = 'train' if osp.isfile(osp.join(root, 'train', name + '.jpg')) else 'test'
        images.append(dict(id=i, file_name=f'{split}/{name}.jpg', width=512, height=512))
        with open(osp.join(root, split, name + '.tru')) as f:
            rows = [line.split() for line in f if line.strip()]
        for j, (cls, ymin, xmin, ymax, xmax) in enumerate(rows):
            x1, y1, x2, y2 = (float(v) * 512 for v in (xmin, ymin, xmax, ymax))
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            ann = dict(id=len(anns) + 1, image_id=i, category_id=1,
                       bbox=[x1, y1, x2 - x1, y2 - y1], iscrowd=0, lesion_type=int(cls),
                       segmentation=[[cx, y1, x2, cy, cx, y2, x1, cy]],
                       recist=[x1, cy, x2, cy, cx, y1, cx, y2])
            anns.append(ann)
    path = tmp_path / 'keyslices.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[
        dict(id=1, name='lesion')])))
    return str(path), root


def test_real_key_slices_json(browse, shared_dir, tmp_path):
    names = ['000001_01_01_109', '000016_01_01_030']
    ann, root = _keyslice_json(shared_dir, tmp_path, names)
    out = tmp_path / 'out'
    assert browse.main([ann, '--img-dir', root, '--output-dir', str(out), '--not-show',
                        '--image-hu-range', '-1024', '3071', '--window', 'soft_tissue']) == 0
    assert sorted(p.name for p in out.iterdir()) == ['train_000001_01_01_109.png',
                                                     'train_000016_01_01_030.png']
    coco = json.loads(open(ann).read())
    for im in coco['images']:
        img = cv2.imread(str(out / im['file_name'].replace('/', '_').replace('.jpg', '.png')))
        img = img[:, :, ::-1]
        assert img.shape == (512, 512, 3)
        for a in (a for a in coco['annotations'] if a['image_id'] == im['id']):
            x, y, w, h = a['bbox']
            cy = int(y + h / 2)
            # the polygon mask (green tint) covers the box centre, outside the RECIST lines
            px = img[cy - 2:cy + 3, int(x + w / 4) - 1:int(x + w / 4) + 2].reshape(-1, 3)
            assert (px[:, 1].astype(int) - px[:, 0] > 20).any()
            # the RECIST long axis (yellow) crosses the box centre row
            assert _colour_fraction(img[cy - 1:cy + 2, int(x) + 2:int(x + w) - 2],
                                    (255, 255, 0), tol=70) > 0.3
    # shown as is (no --image-hu-range): the 8-bit JPEG grey, not windowed
    raw = tmp_path / 'raw'
    assert browse.main([ann, '--img-dir', root, '--output-dir', str(raw), '--not-show',
                        '--max-images', '1']) == 0
    a = cv2.imread(str(raw / 'train_000001_01_01_109.png'))
    b = cv2.imread(str(out / 'train_000001_01_01_109.png'))
    assert a.shape == b.shape and np.abs(a.astype(int) - b).mean() > 10


def test_bad_input_is_one_line_error(browse, demo_data, tmp_path, capsys):
    with open(demo_data['train']) as f:
        coco = json.load(f)
    coco['images'][1]['file_name'] = '000099_01_01/001.png'
    bad = tmp_path / 'annotations' / 'missing_image.json'
    bad.parent.mkdir()
    bad.write_text(json.dumps(coco))
    img_dir = demo_data['images_dir']
    assert browse.main([str(bad), '--img-dir', img_dir, '--output-dir', str(tmp_path / 'o'),
                        '--not-show']) == 2
    err = capsys.readouterr().err.strip()
    assert '\n' not in err
    assert err.startswith(f'error: {bad}: image {coco["images"][1]["id"]} '
                          '(000099_01_01/001.png): file not found: ')
    assert err.endswith(osp.join(img_dir, '000099_01_01', '001.png'))
    assert not (tmp_path / 'o').exists()  # checked before anything is drawn

    with open(demo_data['train']) as f:
        coco = json.load(f)
    coco['annotations'][0]['recist'] = [1, 2, 3]
    bad.write_text(json.dumps(coco))
    assert browse.main([str(bad), '--img-dir', img_dir, '--not-show']) == 2
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and err.endswith(
        f'annotation {coco["annotations"][0]["id"]}: "recist" must be 8 numbers, got [1, 2, 3]')

    coco['annotations'][0]['recist'] = [0.0] * 8
    coco['annotations'][0]['segmentation'] = {'size': [96, 96], 'counts': 'not rle !!'}
    bad.write_text(json.dumps(coco))
    assert browse.main([str(bad), '--img-dir', img_dir, '--not-show']) == 2
    assert 'undecodable "segmentation"' in capsys.readouterr().err

    assert browse.main([str(tmp_path / 'nope.json'), '--not-show']) == 2
    assert capsys.readouterr().err.strip() == f'error: {tmp_path / "nope.json"}: file not found'
    assert browse.main([demo_data['train'], '--window', 'abdomen', '--not-show']) == 2
    assert "--window 'abdomen': unknown CT window" in capsys.readouterr().err


@pytest.mark.slow
def test_config_after_augmentation(browse, repo_root, demo_data, tmp_path):
    demo = osp.join(repo_root, 'configs', 'acs_maskrcnn_deeplesion_demo.py')
    root = demo_data['root'] + '/'
    cfg = tmp_path / 'demo_tiny.py'
    cfg.write_text(f'''
_base_ = {demo!r}
data_root = {root!r}
demo_cfg = dict(num_series=6, image_size=96, seed=0)
train_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
''')
    out = tmp_path / 'aug'
    assert browse.main([str(cfg), '--augment', '--output-dir', str(out), '--max-images', '2',
                        '--not-show']) == 0
    files = sorted(out.iterdir())
    assert len(files) == 2
    for p in files:
        img = cv2.imread(str(p))
        assert img.shape == (128, 128, 3)  # the pipeline's Resize to 128
        assert img.std() > 20 and _greenish(img[:, :, ::-1]) > 0.005
    # without --augment the config's json and image folder are drawn
    raw = tmp_path / 'raw'
    assert browse.main([str(cfg), '--output-dir', str(raw), '--max-images', '2',
                        '--not-show']) == 0
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in files)
    assert cv2.imread(str(next(raw.iterdir()))).shape == (96, 96, 3)
