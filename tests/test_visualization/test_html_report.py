"""The static HTML report: parses, every image is embedded or exists, text is escaped."""
import base64
import os.path as osp
from html.parser import HTMLParser

import cv2
import numpy as np

from acsdet.visualization import build_html_report, png_data_uri, write_html_report


class _Collect(HTMLParser):
    """Tags, <img> / <a> attributes and text of a document; checks that tags nest."""

    VOID = {'meta', 'img', 'br', 'hr', 'link', 'input'}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.imgs, self.links, self.text, self.tags = [], [], [], [], []
        self.errors = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == 'img':
            self.imgs.append(dict(attrs))
        if tag == 'a':
            self.links.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f'</{tag}> closes {self.stack[-1:]}')
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(text):
    p = _Collect()
    p.feed(text)
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return p


def test_report_lists_findings_with_embedded_thumbnails_and_escapes_text(ct_result, tmp_path):
    hu, result = ct_result
    sheet = tmp_path / 'contact_sheet.png'
    cv2.imwrite(str(sheet), np.zeros((4, 4, 3), np.uint8))
    out = write_html_report(str(tmp_path / 'rep' / 'report.html'), result, hu, top_n=4,
                            score_thr=0.3, links={'contact sheet': str(sheet)})
    text = open(out, encoding='utf-8').read()
    assert text.startswith('<!DOCTYPE html>')
    p = _parse(text)
    # the file name with <script> comes out as text, never as a tag
    assert 'script' not in p.tags
    assert '<script>' not in text and '&lt;script&gt;alert(1)&lt;/script&gt;scan.nii.gz' in text
    assert 'ckpt&quot;&lt;b&gt;.pth' in text and 'configs/demo&amp;.py' in text
    body = ''.join(p.text)
    assert '/data/<script>alert(1)</script>scan.nii.gz' in body  # readable after unescaping
    # 4 findings >= 0.3 (0.95, 0.9, 0.7, 0.5), each with an embedded PNG thumbnail
    assert len(p.imgs) == 4
    for img in p.imgs:
        src = img['src']
        assert src.startswith('data:image/png;base64,')
        thumb = cv2.imdecode(np.frombuffer(base64.b64decode(src.split(',', 1)[1]), np.uint8),
                             cv2.IMREAD_COLOR)
        assert thumb.shape == (96, 96, 3) and thumb.std() > 5
    # the table: rank, slice, score, RECIST and the 3D candidate with its volume
    assert '4 listed of 5 detections' in body
    rows = text.split('<tr>')
    first = rows[[i for i, r in enumerate(rows) if '<td>1</td>' in r][0]]
    det = result['slices'][2]['detections'][0]
    assert '<td>0.950</td>' in first and '<td>2</td>' in first and '<td>1234</td>' in first
    assert f'{det["long_diameter_mm"]:.1f} x {det["short_diameter_mm"]:.1f}' in first
    assert '3D candidates' in body and '1-3' in body
    assert 'nifti' in body and '4 x 96 x 80' in body and '0.7, 0.8, 2' in body
    # links are relative to the report and exist
    assert [a['href'] for a in p.links] == ['../contact_sheet.png']
    for a in p.links:
        assert osp.isfile(osp.join(osp.dirname(out), a['href']))
    assert sorted(x.name for x in (tmp_path / 'rep').iterdir()) == ['report.html']


def test_report_without_volume_or_grouping(ct_result):
    _, result = ct_result
    result = dict(result)
    del result['lesions_3d']
    p = _parse(build_html_report(result, None, top_n=50))
    assert not p.imgs and '3D candidates' not in ''.join(p.text)
    assert '5 listed of 5 detections' in ''.join(p.text)


def test_png_data_uri_round_trip():
    img = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    uri = png_data_uri(img)
    back = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(',', 1)[1]), np.uint8),
                        cv2.IMREAD_COLOR)[:, :, ::-1]
    np.testing.assert_array_equal(back, img)
