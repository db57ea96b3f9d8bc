"""Offline data preparation: DeepLesion -> COCO (with GrabCut RECIST pseudo-masks), the
DeepLesion-format demo data, the ACS paper's proof-of-concept shapes, the GSP-Conv CPU
benchmark volumes, LIDC malignancy labels, generated nodules and the helpers shared by
the volume converters of ``data_prep/``.  Nothing here is registered: the registered datasets
and transforms that read the prepared files are in :mod:`acsdet.datasets`."""
from .deeplesion_coco import atomic_write_json, convert_deeplesion
from .deeplesion_demo import make_demo_deeplesion, prepare_demo_deeplesion
from .deeplesion_info import DLInfoError, DLInfoRecord, drop_duplicate_rows, read_dl_info
from .gsp_bench_volumes import generate_gsp_bench, make_gsp_bench_sample
from .malignancy import malignancy_label, malignancy_mode
from .output_guard import OutputNotWritableError, check_writable, staged_output
from .poc_shapes import (POC_CLASSES, generate_poc_shapes, load_poc_sample, make_poc_sample,
                         poc_sample_rng)
from .recist_grabcut import recist_ellipse_mask, recist_grabcut_mask
from .synthetic_nodules import generate_synthetic_nodules, make_synthetic_nodule

__all__ = [
    'atomic_write_json', 'convert_deeplesion', 'make_demo_deeplesion', 'prepare_demo_deeplesion',
    'DLInfoError', 'DLInfoRecord', 'read_dl_info', 'drop_duplicate_rows',
    'OutputNotWritableError', 'check_writable', 'staged_output', 'POC_CLASSES',
    'generate_poc_shapes', 'load_poc_sample', 'make_poc_sample', 'poc_sample_rng',
    'recist_ellipse_mask', 'recist_grabcut_mask', 'generate_gsp_bench', 'make_gsp_bench_sample',
    'malignancy_mode', 'malignancy_label', 'generate_synthetic_nodules', 'make_synthetic_nodule'
]
