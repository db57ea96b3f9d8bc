"""Static HTML report of ``tools/infer.py``'s findings: one self-contained file.

Thumbnails are embedded as base64 PNG data URIs, so the report can be moved, mailed or
archived alone (about 10-20 kB per thumbnail); other pictures written beside it (contact
sheet, overlays) are linked by *relative* path and only when they exist.  No JavaScript, no
server.  Every piece of text taken from the input (file names, config / checkpoint paths,
numbers) goes through :func:`html.escape`.
"""
import base64
import html
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import cv2
import numpy as np

from ..utils.atomic_write import write_text_atomic
from .finding_tiles import render_finding_tile, top_findings

__all__ = ['png_data_uri', 'build_html_report', 'write_html_report']

_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; font-size: 13px; }
th { background: #eee; } td.l, th.l { text-align: left; }
img.thumb { display: block; image-rendering: pixelated; }
.small { color: #666; font-size: 12px; }
"""


def png_data_uri(image_rgb: np.ndarray) -> str:
    """(H, W, 3) uint8 RGB -> ``data:image/png;base64,...``."""
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(image_rgb[:, :, ::-1]))
    if not ok:
        raise ValueError(f'cannot encode a {image_rgb.shape} image as PNG')
    return 'data:image/png;base64,' + base64.b64encode(buf.tobytes()).decode('ascii')


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt(values: Sequence[float], digits: int = 1) -> str:
    return ', '.join(f'{float(v):.{digits}f}' for v in values)


def _row(cells, header: bool = False, left: Sequence[int] = ()) -> str:
    tag = 'th' if header else 'td'
    cls = ' class="l"'
    return '<tr>' + ''.join(f'<{tag}{cls if i in left else ""}>{c}</{tag}>'
                            for i, c in enumerate(cells)) + '</tr>'


def build_html_report(result: Dict, hu: Optional[np.ndarray] = None, top_n: int = 50,
                      score_thr: float = 0.0,
                      window: Union[str, Sequence[float]] = 'soft_tissue',
                      thumb_size: int = 96, links: Optional[Dict[str, str]] = None,
                      title: str = 'acsdet findings') -> str:
    """The report as one HTML string.

    Args:
        result (dict): The content of ``detections.json`` (``input``, ``input_type``,
            ``shape_zyx``, ``spacing_xyz_mm``, ``config``, ``checkpoint``, ``slices``,
            optional ``lesions_3d``).
        hu (np.ndarray, optional): (D, H, W) HU volume for the thumbnails; None: no
            thumbnails.
        top_n (int): Findings listed (highest scores). Default: 50.
        score_thr (float): Findings below it are not listed. Default: 0.
        window (str | Sequence[float]): CT window of the thumbnails. Default:
            ``'soft_tissue'``.
        thumb_size (int): Thumbnail side, pixels. Default: 96.
        links (dict[str, str], optional): label -> path *relative to the report* of other
            pictures to link (e.g. the contact sheet).
        title (str): Page title. Default: ``'acsdet findings'``.

    Returns:
        str: A complete HTML5 document.
    """
    lesions_3d = result.get('lesions_3d')
    findings = top_findings(result['slices'], top_n, score_thr, lesions_3d)
    n_all = sum(len(s['detections']) for s in result['slices'])
    sx, sy, sz = result['spacing_xyz_mm']
    parts = [
        '<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
        f'<title>{_e(title)}: {_e(osp.basename(str(result["input"])))}</title>',
        f'<style>{_CSS}</style></head><body>', f'<h1>{_e(title)}</h1>', '<h2>Input</h2>',
        '<table>',
        _row(['file', _e(result['input'])], left=(0, 1)),
        _row(['type', _e(result.get('input_type', ''))], left=(0, 1)),
        _row(['shape (slices, rows, columns)', _e(' x '.join(str(v) for v in
                                                             result['shape_zyx']))],
             left=(0, 1)),
        _row(['spacing x, y, z (mm)', _e(f'{sx:.4g}, {sy:.4g}, {sz:.4g}')], left=(0, 1)),
        _row(['slices run', _e(len(result['slices']))], left=(0, 1)),
        _row(['model config', _e(result.get('config', ''))], left=(0, 1)),
        _row(['checkpoint', _e(result.get('checkpoint', ''))], left=(0, 1)),
        '</table>',
    ]
    if links:
        parts.append('<p>' + ' | '.join(f'<a href="{_e(path)}">{_e(label)}</a>'
                                        for label, path in links.items()) + '</p>')
    parts.append(f'<h2>Findings</h2><p>{len(findings)} listed of {n_all} detections '
                 f'(score &gt;= {_e(f"{score_thr:g}")}, top {_e(top_n)}).</p>')
    header = ['rank', 'thumbnail', 'slice', 'score', 'box (px) x1, y1, x2, y2',
              'box (mm) x1, y1, x2, y2', 'RECIST long x short (mm)', 'area (mm&sup2;)',
              '3D candidate', 'volume (mm&sup3;)']
    parts += ['<table>', _row(header, header=True)]
    for f in findings:
        det = f['detection']
        thumb = ''
        if hu is not None:
            tile = render_finding_tile(hu[f['slice_index']], f, window, thumb_size,
                                       caption=False)
            thumb = (f'<img class="thumb" src="{png_data_uri(tile)}" width="{thumb_size}" '
                     f'height="{thumb_size}" alt="finding {f["rank"]}">')
        recist = (f'{det["long_diameter_mm"]:.1f} x {det["short_diameter_mm"]:.1f}'
                  if 'long_diameter_mm' in det else '-')
        area = f'{det["area_mm2"]:.1f}' if 'area_mm2' in det else '-'
        cand = '-' if f['candidate'] is None else f['candidate']
        vol = ('-' if f['candidate_volume_mm3'] is None
               else f'{f["candidate_volume_mm3"]:.0f}')
        slice_txt = str(f['slice_index'])
        if f['slice_number'] != f['slice_index']:
            slice_txt += f' (file {f["slice_number"]})'
        parts.append(_row([_e(f['rank']), thumb, _e(slice_txt), _e(f'{det["score"]:.3f}'),
                           _e(_fmt(det['bbox'])), _e(_fmt(det['bbox_mm'])), _e(recist),
                           _e(area), _e(cand), _e(vol)]))
    parts.append('</table>')
    if lesions_3d is not None:
        parts += ['<h2>3D candidates</h2>', '<table>',
                  _row(['id', 'slices', 'number of slices', 'max score', 'volume (mm&sup3;)'],
                       header=True)]
        for cid, c in enumerate(lesions_3d, start=1):
            parts.append(_row([_e(cid), _e(f'{c["slices"][0]}-{c["slices"][1]}'),
                               _e(c['num_slices']), _e(f'{c["max_score"]:.3f}'),
                               _e(f'{c["volume_mm3"]:.0f}')]))
        parts.append('</table>')
    parts.append('<p class="small">Boxes in pixels are 0-based edges; mm from the top-left edge '
                 'of the slice. RECIST axes are estimated from the predicted mask. Written by '
                 'acsdet tools/infer.py; not a diagnosis.</p></body></html>')
    return '\n'.join(parts) + '\n'


def write_html_report(out_file: str, result: Dict, hu: Optional[np.ndarray] = None,
                      **kwargs) -> str:
    """:func:`build_html_report` written to ``out_file`` atomically; returns ``out_file``.

    ``links`` given as paths relative to the current directory are made relative to the
    report's folder.
    """
    links = kwargs.pop('links', None)
    if links:
        base = osp.dirname(osp.abspath(out_file))
        links = {k: osp.relpath(osp.abspath(v), base) for k, v in links.items()}
    write_text_atomic(out_file, build_html_report(result, hu, links=links, **kwargs))
    return out_file
