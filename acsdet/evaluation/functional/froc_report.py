"""Human-readable FROC output: a text table and a matplotlib plot (PNG)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ...utils.atomic_write import atomic_file_path
from .froc import FROCCurve, FROCResult, sensitivity_at

__all__ = ['format_froc_table', 'plot_froc_curves', 'resample_curve', 'save_png_atomic']


def format_froc_table(result: FROCResult) -> str:
    """A plain-text table: one row for all lesions and one per stratum.

    Args:
        result (FROCResult): From :func:`evaluate_froc`.

    Returns:
        str: Multi-line table, sensitivities in percent.
    """
    curve = result.overall
    s = result.settings
    rule = s.get('hit_rule', 'iou')
    rule = 'centre in box' if rule == 'center' else f"{rule} >= {s.get('iou_thr', 0.5):g}"
    head = ['stratum', 'lesions'] + [f'@{f:g}' for f in curve.fp_rates] + [
        'mean@' + ','.join(f'{f:g}' for f in s.get('mean_fp_rates', ()))]
    rows = [['all', str(curve.num_lesions)] + _cells(curve)]
    for bd, strata in result.strata.items():
        for name, c in strata.items():
            rows.append([f'{bd}/{name}', str(c.num_lesions)] + _cells(c))
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def fmt(row):
        return '  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths)))

    lines = [
        f'FROC: {result.num_images} images, {curve.num_lesions} lesions, '
        f'{result.num_detections} detections ({result.num_fp} FP), '
        f'{result.num_ignored} ignore regions; hit: {rule}; sensitivity (%) at FPs per '
        'image (FP rate over all images for every stratum)',
        fmt(head), '  '.join('-' * w for w in widths)
    ] + [fmt(r) for r in rows]
    return '\n'.join(lines)


def _cells(curve: FROCCurve) -> List[str]:
    return [f'{100 * v:.2f}' for v in curve.sens_at] + [f'{100 * curve.mean:.2f}']


def resample_curve(curve: FROCCurve, num: int = 512, fp_min: float = 1 / 64) -> FROCCurve:
    """The curve evaluated on a log grid of FP rates, for plotting and keeping a history.

    A curve has one point per distinct detection score (~240k on DeepLesion's test set);
    ``num`` points on a log axis draw the same picture. The operating points (``sens_at``,
    ``mean``) are copied unchanged.

    Args:
        curve (FROCCurve): Full curve.
        num (int): Grid points between ``fp_min`` and the curve's last FP rate. Default 512.
        fp_min (float): Smallest FP rate of the grid (plus the origin). Default 1/64.

    Returns:
        FROCCurve: with ``thresholds`` NaN (no longer meaningful).
    """
    fp_max = max(float(curve.fps_per_image[-1]), fp_min * 2)
    grid = np.concatenate([[0.0], np.geomspace(fp_min, fp_max, num)])
    sens = sensitivity_at(curve.fps_per_image, curve.sensitivity, grid)
    return FROCCurve(grid, sens, np.full(num, np.nan), curve.fp_rates, curve.sens_at,
                     curve.mean, curve.num_lesions)


def save_png_atomic(image_rgb: np.ndarray, out_file: str) -> None:
    """Write an RGB uint8 image as PNG via a temp file in the same folder + ``os.replace``."""
    import matplotlib.image as mpimg
    with atomic_file_path(out_file, '.png') as tmp:
        mpimg.imsave(tmp, image_rgb, format='png')


def plot_froc_curves(curves: Sequence[Tuple[str, FROCCurve]], out_file: Optional[str] = None,
                     title: str = 'FROC', mark_points: bool = True,
                     dpi: int = 100) -> np.ndarray:
    """Plot FROC curves (log-scale FP axis) and return the image.

    Args:
        curves (Sequence[tuple[str, FROCCurve]]): (legend label, curve) pairs; one curve for a
            single evaluation, several to overlay evaluations or strata.
        out_file (str, optional): Also write the PNG there (atomically). Default None.
        title (str): Figure title. Default 'FROC'.
        mark_points (bool): Mark and label the operating points of the *last* curve (all
            curves get markers without labels). Default True.
        dpi (int): Resolution; the figure is 7 x 5 inches. Default 100.

    Returns:
        ndarray: (H, W, 3) uint8 RGB, ready for ``Visualizer.add_image``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A Figure with its own Agg canvas: no pyplot state, no GUI backend needed.
    fig = Figure(figsize=(7, 5), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    rates = curves[-1][1].fp_rates if curves else ()
    x_lo = min(rates) / 2 if rates else 0.125
    x_hi = max(rates) * 2 if rates else 32.0
    cmap = matplotlib_cmap(len(curves))
    for i, (label, c) in enumerate(curves):
        color = cmap[i]
        if len(c.fps_per_image) > 2048:
            c = resample_curve(c, fp_min=x_lo / 2)
        fps, sens = c.fps_per_image, c.sensitivity
        # Past the curve's end the sensitivity stays at its last value: dashed extension.
        ax.plot(np.maximum(fps, x_lo / 2), sens, color=color, lw=1.5,
                label=f'{label} (mean {100 * c.mean:.1f}%)')
        if len(fps) and fps[-1] < x_hi:
            ax.plot([max(fps[-1], x_lo / 2), x_hi * 2], [sens[-1], sens[-1]], color=color,
                    lw=1.0, ls='--')
        if mark_points:
            ax.plot(c.fp_rates, c.sens_at, 'o', color=color, ms=4)
    if mark_points and curves:
        c = curves[-1][1]
        for f, v in zip(c.fp_rates, c.sens_at):
            # below the point, or above it near the bottom (clear of the tick labels)
            ax.annotate(f'{100 * v:.1f}', (f, v), textcoords='offset points',
                        xytext=(0, -13 if v > 0.15 else 6), ha='center', fontsize=8)
    ax.set_xscale('log', base=2)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(list(rates))
    ax.set_xticklabels([f'{f:g}' for f in rates])
    ax.set_xlabel('false positives per image')
    ax.set_ylabel('sensitivity')
    ax.set_title(title)
    ax.grid(True, which='both', alpha=0.3)
    if curves:
        ax.legend(loc='lower right', fontsize=8)
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    if out_file is not None:
        save_png_atomic(image, out_file)
    return image


def matplotlib_cmap(n: int) -> List[tuple]:
    """``n`` distinct colours: tab10 for up to 10 curves, then viridis (old -> new)."""
    from matplotlib import colormaps
    if n <= 10:
        return [colormaps['tab10'](i) for i in range(n)]
    return [colormaps['viridis'](i / max(n - 1, 1)) for i in range(n)]
