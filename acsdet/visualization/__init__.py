"""Pictures: CT windows and a ``DetLocalVisualizer`` for CT slices, finding tiles, contact
sheets and HTML reports of detections, the demo's lesion / look-alike sheet, and slices of
segmentation volumes."""
from .contact_sheet import make_contact_sheet, write_contact_sheet
from .ct_det_visualizer import CTDetLocalVisualizer
from .ct_window import CT_WINDOWS, apply_window, window_bounds
from .display_image import read_display_image
from .finding_tiles import decode_rle, finding_caption, render_finding_tile, top_findings
from .html_report import build_html_report, png_data_uri, write_html_report
from .lookalike_sheet import lookalike_contact_sheet
from .seg_slices import (SEG_PALETTE, intensity_window, label_colors, overlay_labels, pick_slices,
                         render_seg_slices)

__all__ = [
    'CTDetLocalVisualizer', 'CT_WINDOWS', 'apply_window', 'window_bounds', 'read_display_image',
    'decode_rle', 'finding_caption', 'render_finding_tile', 'top_findings', 'make_contact_sheet',
    'write_contact_sheet', 'build_html_report', 'png_data_uri', 'write_html_report',
    'SEG_PALETTE', 'intensity_window', 'label_colors', 'overlay_labels', 'pick_slices',
    'render_seg_slices', 'lookalike_contact_sheet'
]
