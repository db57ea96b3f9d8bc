"""ROC analysis of a binary classifier's scores: the curve, its AUC and the operating point at a
threshold, with scikit-learn's ``roc_curve`` / ``roc_auc_score`` (ties handled as sklearn
does: tied scores move the curve diagonally, i.e. count half); and the curve as a picture."""
from typing import NamedTuple, Optional

import numpy as np

from .froc_report import save_png_atomic

__all__ = ['ROCResult', 'binary_roc', 'plot_roc_curve']


class ROCResult(NamedTuple):
    """``auc`` (nan with one class only), the curve (``fpr``, ``tpr``, ``thresholds``,
    sklearn's), and at ``threshold``: ``accuracy``, ``sensitivity`` (TP / P),
    ``specificity`` (TN / N); ``num_pos`` / ``num_neg``."""
    auc: float
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    threshold: float
    accuracy: float
    sensitivity: float
    specificity: float
    num_pos: int
    num_neg: int


def binary_roc(labels, scores, threshold: float = 0.5) -> ROCResult:
    """ROC of ``scores`` (probability of the positive class) against ``labels`` (0 / 1).

    Args:
        labels (array-like): (N, ) 0 / 1.
        scores (array-like): (N, ) finite scores; a score >= ``threshold`` is positive.
        threshold (float): Operating point of accuracy / sensitivity / specificity.
            Defaults to 0.5.

    Returns:
        ROCResult: AUC and the curve are nan / empty when ``labels`` hold one class only
        (sklearn's AUC is undefined then); sensitivity (specificity) is nan without
        positives (negatives).

    Raises:
        ValueError: Labels other than 0 / 1, non-finite scores, different lengths, or no
            sample.
    """
    from sklearn.metrics import roc_auc_score, roc_curve
    y = np.asarray(labels).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.size == 0 or y.size != s.size:
        raise ValueError(f'binary_roc: needs as many labels as scores (> 0), got {y.size} '
                         f'and {s.size}')
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f'binary_roc: labels must be 0 or 1, got {sorted(set(y.tolist()))}')
    if not np.isfinite(s).all():
        raise ValueError(f'binary_roc: {int((~np.isfinite(s)).sum())} non-finite scores')
    y = y.astype(np.int64)
    pos, neg = int(y.sum()), int((1 - y).sum())
    if pos and neg:
        fpr, tpr, thr = roc_curve(y, s)
        auc = float(roc_auc_score(y, s))
    else:
        fpr = tpr = thr = np.zeros(0)
        auc = float('nan')
    pred = s >= threshold
    tp, tn = int((pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
    return ROCResult(auc=auc, fpr=fpr, tpr=tpr, thresholds=thr, threshold=float(threshold),
                     accuracy=(tp + tn) / y.size, sensitivity=tp / pos if pos else float('nan'),
                     specificity=tn / neg if neg else float('nan'), num_pos=pos, num_neg=neg)


def plot_roc_curve(result: ROCResult, out_file: Optional[str] = None, title: str = 'ROC',
                   dpi: int = 100) -> np.ndarray:
    """Plot one ROC curve (and its operating point) and return the image.

    Args:
        result (ROCResult): From :func:`binary_roc`.
        out_file (str, optional): Also write the PNG there (atomically). Defaults to None.
        title (str): Figure title. Defaults to 'ROC'.
        dpi (int): Resolution; the figure is 5 x 5 inches. Defaults to 100.

    Returns:
        ndarray: (H, W, 3) uint8 RGB, ready for ``Visualizer.add_image``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color='0.7', lw=1, ls='--')
    if result.fpr.size:
        ax.plot(result.fpr, result.tpr, lw=1.8, label=f'AUC {result.auc:.3f}')
    if np.isfinite(result.sensitivity) and np.isfinite(result.specificity):
        ax.plot([1 - result.specificity], [result.sensitivity], 'o', ms=6,
                label=f'threshold {result.threshold:g}: sens {result.sensitivity:.2f}, '
                f'spec {result.specificity:.2f}')
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel('1 - specificity (false-positive rate)')
    ax.set_ylabel('sensitivity (true-positive rate)')
    ax.set_title(f'{title} ({result.num_pos} positive, {result.num_neg} negative)',
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right', fontsize=8)
    fig.tight_layout()
    canvas = fig.canvas
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    if out_file is not None:
        save_png_atomic(image, out_file)
    return image
