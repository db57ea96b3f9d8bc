"""The published DeepLesion FROC loop (3DCE / MULAN ``FROC`` + ``sens_at_FP``), transcribed
with continuous-coordinate IoU, as an independent reference for acsdet's vectorised FROC
(tests) and as the speed baseline (``benchmarks/bench_froc.py``).  Not for real use: one Python
iteration per detection."""
from typing import Sequence

import numpy as np

__all__ = ['published_froc_sens_at']


def published_froc_sens_at(boxes_all: Sequence[np.ndarray], gts_all: Sequence[np.ndarray],
                           avg_fp: Sequence[float], iou_th: float = 0.5) -> np.ndarray:
    """Sensitivity at ``avg_fp`` false positives per image, overall only.

    Args:
        boxes_all: Per image, detections (N_i, 5) as x1, y1, x2, y2, score.
        gts_all: Per image, lesion boxes (M_i, 4) as x1, y1, x2, y2 (M_i may be 0).
        avg_fp: FP-per-image rates to read the curve at.
        iou_th (float): Hit threshold. Default 0.5.

    Returns:
        ndarray: (len(avg_fp), ) sensitivities; past the curve's end its last value.
    """
    n_img = len(boxes_all)
    img_idxs = np.repeat(np.arange(n_img), [len(b) for b in boxes_all])
    boxes_cat = np.vstack(boxes_all)
    order = np.argsort(boxes_cat[:, -1])[::-1]
    boxes_cat, img_idxs = boxes_cat[order, :4], img_idxs[order]
    hits = [np.zeros(len(g), bool) for g in gts_all]
    n_hits = n_miss = 0
    tps, fps = [], []
    for i in range(len(boxes_cat)):
        g, b = gts_all[img_idxs[i]], boxes_cat[i]
        if len(g):
            iw = np.maximum(np.minimum(g[:, 2], b[2]) - np.maximum(g[:, 0], b[0]), 0)
            ih = np.maximum(np.minimum(g[:, 3], b[3]) - np.maximum(g[:, 1], b[1]), 0)
            inter = iw * ih
            uni = (b[2] - b[0]) * (b[3] - b[1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter
            ov = inter / uni
        else:
            ov = np.zeros(1)
        if ov.max() < iou_th:
            n_miss += 1
        else:
            for j in range(len(g)):
                if ov[j] >= iou_th and not hits[img_idxs[i]][j]:
                    hits[img_idxs[i]][j] = True
                    n_hits += 1
        tps.append(n_hits)
        fps.append(n_miss)
    sens = np.array(tps, float) / sum(len(g) for g in gts_all)
    fp_per_img = np.array(fps, float) / n_img
    fp_in = [a for a in avg_fp if a <= fp_per_img[-1]]
    fp_out = [a for a in avg_fp if a > fp_per_img[-1]]
    return np.hstack([np.interp(fp_in, fp_per_img, sens), sens[-1] * np.ones(len(fp_out))])
