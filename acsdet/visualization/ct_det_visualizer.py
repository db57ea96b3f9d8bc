"""mmdet's ``DetLocalVisualizer`` for CT slices: windowed HU in, RECIST axes drawn."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmdet.visualization import DetLocalVisualizer

from acsdet.registry import VISUALIZERS

from .ct_window import apply_window

__all__ = ['CTDetLocalVisualizer']


@VISUALIZERS.register_module()
class CTDetLocalVisualizer(DetLocalVisualizer):
    """Draw ground truth and predictions on a CT slice shown in a CT window.

    Differences from :class:`mmdet.visualization.DetLocalVisualizer`:

    - ``add_datasample`` accepts the slice as (H, W) HU (float) and shows it through
      ``window`` (see :mod:`acsdet.visualization.ct_window`); an (H, W, 3) uint8 image is
      drawn as is.
    - Ground truth and predictions get their own colours (``gt_color`` / ``pred_color``;
      instances with ``scores`` are predictions).
    - ``recists`` (N, 8) in the instances (long axis x1, y1, x2, y2, short axis x3, y3, x4,
      y4, pixels) are drawn as two lines (``recist_color``).

    Args:
        name (str): Instance name. Default: ``'visualizer'``.
        window (str | Sequence[float]): CT window name (``soft_tissue``, ``lung``, ``bone``,
            ...) or (low, high) HU. Default: ``'soft_tissue'``.
        gt_color (tuple[int]): RGB of ground-truth boxes / masks. Default: green.
        pred_color (tuple[int]): RGB of predicted boxes / masks. Default: orange-red.
        recist_color (tuple[int]): RGB of RECIST lines. Default: yellow.
        line_width (int | float): Default: 1.
        alpha (float): Mask / box transparency. Default: 0.8.
        **kwargs: Passed to ``DetLocalVisualizer`` (``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self, name: str = 'visualizer',
                 window: Union[str, Sequence[float]] = 'soft_tissue',
                 gt_color: Tuple[int, int, int] = (0, 255, 0),
                 pred_color: Tuple[int, int, int] = (255, 64, 0),
                 recist_color: Tuple[int, int, int] = (255, 255, 0),
                 line_width: Union[int, float] = 1, alpha: float = 0.8, **kwargs):
        super().__init__(name=name, line_width=line_width, alpha=alpha, **kwargs)
        apply_window(np.zeros((1, 1)), window)  # validate the window now
        self.window = window
        self.gt_color = tuple(gt_color)
        self.pred_color = tuple(pred_color)
        self.recist_color = tuple(recist_color)
        if not self.dataset_meta:
            self.dataset_meta = dict(classes=('lesion', ), palette=[self.pred_color])

    def to_rgb(self, image: np.ndarray) -> np.ndarray:
        """(H, W) HU -> windowed (H, W, 3) uint8; (H, W, 3) uint8 unchanged."""
        image = np.asarray(image)
        if image.ndim == 2:
            grey = apply_window(image, self.window)
            return np.repeat(grey[:, :, None], 3, axis=2)
        if image.ndim == 3 and image.shape[2] == 3:
            return image.astype(np.uint8)
        raise ValueError(f'{type(self).__name__}: expected an (H, W) HU slice or an '
                         f'(H, W, 3) image, got shape {image.shape}')

    def _draw_instances(self, image: np.ndarray, instances, classes: Optional[Sequence[str]],
                        palette: Optional[Sequence]) -> np.ndarray:
        color = self.pred_color if 'scores' in instances else self.gt_color
        saved = self.bbox_color, self.mask_color, self.text_color
        self.bbox_color = self.mask_color = self.text_color = color
        try:
            drawn = super()._draw_instances(image, instances, classes, palette)
        finally:
            self.bbox_color, self.mask_color, self.text_color = saved
        if 'recists' in instances and len(instances) > 0:
            rec = instances.recists
            rec = rec.cpu().numpy() if isinstance(rec, torch.Tensor) else np.asarray(rec)
            rec = rec.reshape(-1, 8)
            self.set_image(drawn)
            for r in rec:
                self.draw_lines(np.array([r[0], r[2]]), np.array([r[1], r[3]]),
                                colors=self.recist_color, line_widths=self.line_width)
                self.draw_lines(np.array([r[4], r[6]]), np.array([r[5], r[7]]),
                                colors=self.recist_color, line_widths=self.line_width)
            drawn = self.get_image()
        return drawn

    def add_datasample(self, name: str, image: np.ndarray, data_sample=None, draw_gt: bool = True,
                       draw_pred: bool = True, show: bool = False, wait_time: float = 0,
                       out_file: Optional[str] = None, pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """As :meth:`DetLocalVisualizer.add_datasample`; ``image`` may be (H, W) HU.

        Args:
            name (str): Image name.
            image (np.ndarray): (H, W) HU or (H, W, 3) RGB uint8.
            data_sample (DetDataSample, optional): ``gt_instances`` / ``pred_instances``
                (``bboxes`` (N, 4), ``labels`` (N,), optional ``masks`` (N, H, W),
                ``recists`` (N, 8), ``scores`` (N,) for predictions).
            draw_gt (bool): Default: True.  With both, the two panels sit side by side.
            draw_pred (bool): Default: True.
            show (bool): Default: False.
            wait_time (float): Default: 0.
            out_file (str, optional): Write the drawing here (PNG) instead of the backends.
            pred_score_thr (float): Default: 0.3.
            step (int): Default: 0.
        """
        super().add_datasample(name, self.to_rgb(image), data_sample, draw_gt=draw_gt,
                               draw_pred=draw_pred, show=show, wait_time=wait_time,
                               out_file=out_file, pred_score_thr=pred_score_thr, step=step)
