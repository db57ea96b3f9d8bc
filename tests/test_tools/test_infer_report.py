"""tools/infer.py --contact-sheet --report on a NIfTI written by the test, with a randomly
initialised demo-config model (score threshold 0, so there are findings)."""
import importlib.util
import json
import os.path as osp
from html.parser import HTMLParser

import cv2
import pytest
import torch


def _module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Imgs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.links = [], []

    def handle_starttag(self, tag, attrs):
        if tag == 'img':
            self.imgs.append(dict(attrs)['src'])
        if tag == 'a':
            self.links.append(dict(attrs)['href'])


@pytest.mark.slow
def test_infer_writes_contact_sheet_and_report(repo_root, tmp_path):
    from acsdet.testing import ct_files as ct
    tool = _module(osp.join(repo_root, 'tools', 'infer.py'), 'acsdet_infer_tool_r')
    from acsdet.apis import load_detector
    config = osp.join(repo_root, 'configs', 'acs_maskrcnn_deeplesion_demo.py')
    torch.manual_seed(0)
    model, _ = load_detector(config, None)
    ckpt = str(tmp_path / 'random_init.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    nii = ct.write_nifti(str(tmp_path / 'ct<b>.nii.gz'), ct.phantom(depth=4))
    out = tmp_path / 'out'
    rc = tool.main([config, ckpt, nii, '--out-dir', str(out), '--score-thr', '0',
                    '--no-progress', '--slices', '1', '2', '--group-3d', '--group-score-thr', '0',
                    '--contact-sheet', '--report', '--top-n', '5', '--finding-score-thr', '0'])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ['contact_sheet.png', 'detections.json',
                                                     'report.html']
    with open(out / 'detections.json') as f:
        result = json.load(f)
    n = sum(len(s['detections']) for s in result['slices'])
    assert n >= 5
    sheet = cv2.imread(str(out / 'contact_sheet.png'))
    tile_h = 160 + 2 * 14 + 6  # 160 px crop + two caption lines
    assert sheet.shape == (2 * (tile_h + 4) + 4, 4 * (160 + 4) + 4, 3)  # 5 findings: 2 x 4
    for i in range(5):
        r, c = divmod(i, 4)
        cell = sheet[4 + r * (tile_h + 4):4 + r * (tile_h + 4) + 160, 4 + c * 164:164 + c * 164]
        assert cell.std() > 5, f'tile {i} is uniform'
    text = (out / 'report.html').read_text(encoding='utf-8')
    parser = _Imgs()
    parser.feed(text)
    assert len(parser.imgs) == min(n, 15)  # 3 x top-n listed, thumbnails embedded
    assert all(src.startswith('data:image/png;base64,') for src in parser.imgs)
    assert parser.links == ['contact_sheet.png']
    assert 'ct&lt;b&gt;.nii.gz' in text and 'ct<b>' not in text
