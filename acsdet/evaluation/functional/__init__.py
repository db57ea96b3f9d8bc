"""Evaluation code shared by the metrics and the tools (numpy; scikit-learn for ROC)."""
from .distractor_fp import distractor_fp_rate
from .feature_auc import channel_aucs, feature_mauc
from .froc import (DEFAULT_FP_RATES, DEFAULT_MEAN_FP_RATES, HIT_RULES, LESION_TYPE_NAMES,
                   Detections, FROCCurve, FROCResult, LesionGT, evaluate_froc, froc_curve,
                   lesion_hit_scores, lesion_strata, pair_hits, sensitivity_at)
from .froc_io import (NOISY_MODES, detections_from_coco_results, detections_from_mmdet_results,
                      lesion_gt_from_coco, load_detections, load_lesion_gt, read_json)
from .froc_report import format_froc_table, plot_froc_curves, resample_curve, save_png_atomic
from .roc import ROCResult, binary_roc, plot_roc_curve

__all__ = [
    'DEFAULT_FP_RATES', 'DEFAULT_MEAN_FP_RATES', 'HIT_RULES', 'LESION_TYPE_NAMES', 'NOISY_MODES',
    'Detections', 'FROCCurve', 'FROCResult', 'LesionGT', 'evaluate_froc', 'froc_curve',
    'lesion_hit_scores', 'lesion_strata', 'pair_hits', 'sensitivity_at',
    'detections_from_coco_results', 'detections_from_mmdet_results', 'lesion_gt_from_coco',
    'load_detections', 'load_lesion_gt', 'read_json', 'format_froc_table', 'plot_froc_curves',
    'resample_curve', 'save_png_atomic', 'channel_aucs', 'feature_mauc',
    'ROCResult', 'binary_roc', 'plot_roc_curve', 'distractor_fp_rate'
]
