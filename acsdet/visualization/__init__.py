"""CT-window visualisation: windows and a ``DetLocalVisualizer`` for CT slices."""
from .ct_det_visualizer import CTDetLocalVisualizer
from .ct_window import CT_WINDOWS, apply_window, window_bounds

__all__ = ['CTDetLocalVisualizer', 'CT_WINDOWS', 'apply_window', 'window_bounds']
from .display_image import read_display_image  # noqa: E402
from .finding_tiles import decode_rle, finding_caption, render_finding_tile, top_findings  # noqa: E402,E501
from .contact_sheet import make_contact_sheet, write_contact_sheet  # noqa: E402
from .html_report import build_html_report, png_data_uri, write_html_report  # noqa: E402

__all__ += [
    'read_display_image', 'decode_rle', 'finding_caption', 'render_finding_tile', 'top_findings',
    'make_contact_sheet', 'write_contact_sheet', 'build_html_report', 'png_data_uri',
    'write_html_report'
]
