"""mmdet's ``DetVisualizationHook`` for CT: the key slice read as HU and shown in a CT window."""
import contextlib
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmdet.engine.hooks import DetVisualizationHook
from mmdet.structures.bbox import BaseBoxes
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist

from acsdet.registry import HOOKS
from acsdet.utils.atomic_write import atomic_file_path
from acsdet.visualization.ct_window import apply_window
from acsdet.visualization.display_image import read_display_image

__all__ = ['CTDetVisualizationHook']


def _box_tensor(bboxes) -> torch.Tensor:
    return bboxes.tensor if isinstance(bboxes, BaseBoxes) else torch.as_tensor(bboxes)


@HOOKS.register_module()
class CTDetVisualizationHook(DetVisualizationHook):
    """Draw ground truth and predictions of the val / test loop on the key slice.

    What differs from :class:`mmdet.engine.hooks.DetVisualizationHook` (which reads
    ``img_path`` with ``mmcv.imread``, so a DeepLesion 16-bit PNG -- HU + 32768 -- comes out
    as a meaningless 8-bit picture):

    - the image is read with :func:`read_display_image`: a 16-bit single-channel PNG as HU,
      drawn by the runner's :class:`CTDetLocalVisualizer` in ``window``; any other picture
      (e.g. the smoke config's RGB COCO images) as 8-bit RGB, drawn as is;
    - ground truth stored in the network-input frame (DeepLesion pipelines load annotations
      *before* ``Resize``) is mapped back to the original slice (``ori_shape``), where mmdet
      puts the predictions; boxes, masks and RECIST points (``gt_instances.recists``) alike;
    - files are named after the key slice (``<series>_<key:03d>.png`` when the sample carries
      ``series`` / ``key_slice``; DeepLesion's ``<key>.png`` base names repeat across series),
      else after the image's base name, and written atomically to
      ``<work_dir>/<timestamp>/<test_out_dir>/``.

    With both ground truth and predictions the image is two panels side by side (GT left).

    Args:
        draw (bool): Draw at all (``tools/test.py --show / --show-dir`` turn it on).
            Default: False.
        interval (int): Validation: draw every ``interval`` iterations. Default: 50.
        score_thr (float): Predictions below it are not drawn. Default: 0.3.
        show (bool): Show in a window instead of the backends. Default: False.
        wait_time (float): Seconds per shown image. Default: 0.
        test_out_dir (str, optional): Test loop: folder under ``<work_dir>/<timestamp>``.
        window (str | Sequence[float], optional): CT window for HU images (``soft_tissue``,
            ``lung``, ``bone``, ... or (low, high) HU); None: the visualizer's. Default: None.
        image_hu_range (Sequence[float], optional): Show 8-bit grey images as HU mapped from
            this range (see :func:`read_display_image`). Default: None (as is).
        gt_frame (str): Frame of the samples' ground truth: ``'auto'`` (the ground-truth masks'
            size tells; without masks, ``'original'``), ``'input'`` (after ``Resize``) or
            ``'original'``. Default: ``'auto'``.
        backend_args (dict, optional): Unused (kept for mmdet's signature). Default: None.
    """

    def __init__(self, draw: bool = False, interval: int = 50, score_thr: float = 0.3,
                 show: bool = False, wait_time: float = 0., test_out_dir: Optional[str] = None,
                 window: Optional[Union[str, Sequence[float]]] = None,
                 image_hu_range: Optional[Sequence[float]] = None, gt_frame: str = 'auto',
                 backend_args: Optional[dict] = None):
        super().__init__(draw=draw, interval=interval, score_thr=score_thr, show=show,
                         wait_time=wait_time, test_out_dir=test_out_dir,
                         backend_args=backend_args)
        if gt_frame not in ('auto', 'input', 'original'):
            raise ValueError(f"gt_frame must be 'auto', 'input' or 'original', got {gt_frame!r}")
        self.gt_frame = gt_frame
        self.image_hu_range = image_hu_range
        self.window = window
        if window is not None:
            apply_window(np.zeros((1, 1)), window)  # validate now
            if hasattr(self._visualizer, 'window'):
                self._visualizer.window = window

    # -- helpers ---------------------------------------------------------------------------
    def _image(self, img_path: str) -> np.ndarray:
        """HU (H, W) for a visualizer that windows (``to_rgb``), else (H, W, 3) RGB."""
        image = read_display_image(img_path, self.image_hu_range)
        if image.ndim == 2 and not hasattr(self._visualizer, 'to_rgb'):
            grey = apply_window(image, self.window or 'soft_tissue')
            image = np.repeat(grey[:, :, None], 3, axis=2)
        return image

    def _gt_in_input_frame(self, gt, img_shape) -> bool:
        if self.gt_frame != 'auto':
            return self.gt_frame == 'input'
        masks = gt.get('masks', None)
        if masks is None:
            return False
        size = (masks.height, masks.width) if hasattr(masks, 'height') else tuple(
            masks.shape[-2:])
        return tuple(size) == tuple(img_shape[:2])

    def original_frame(self, sample):
        """A copy of ``sample`` whose ``gt_instances`` lie in the ``ori_shape`` frame."""
        sample = sample.clone()
        gt = sample.get('gt_instances', None)
        if gt is None:
            return sample  # (an empty gt_instances is mapped too: its masks carry the size)
        if 'bboxes' in gt:
            gt.bboxes = _box_tensor(gt.bboxes).float()
        ori_h, ori_w = sample.ori_shape[:2]
        img_h, img_w = sample.get('img_shape', sample.ori_shape)[:2]
        if (ori_h, ori_w) == (img_h, img_w) or not self._gt_in_input_frame(gt, (img_h, img_w)):
            return sample
        sx, sy = img_w / ori_w, img_h / ori_h
        scale = gt.bboxes.new_tensor([sx, sy, sx, sy])
        gt.bboxes = gt.bboxes / scale
        if 'masks' in gt:
            masks = gt.masks
            if hasattr(masks, 'resize'):
                gt.masks = masks.resize((ori_h, ori_w))
            else:
                gt.masks = torch.nn.functional.interpolate(
                    torch.as_tensor(masks)[None].float(), size=(ori_h, ori_w),
                    mode='nearest')[0] > 0.5
        if 'recists' in gt:
            rec = torch.as_tensor(gt.recists).float()
            scale8 = rec.new_tensor([sx, sy] * 4)
            gt.recists = (rec + 0.5) / scale8 - 0.5   # pixel-index points (centre at i)
        return sample

    @staticmethod
    def image_name(sample) -> str:
        """``<series>_<key_slice:03d>.png`` or the base name of ``img_path``."""
        series, key = sample.get('series', None), sample.get('key_slice', None)
        if series is not None and key is not None:
            return f'{series}_{int(key):03d}.png'
        return osp.basename(sample.img_path)

    # -- hook points -----------------------------------------------------------------------
    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs) -> None:
        """Draw the first sample of every ``interval``-th validation batch to the backends."""
        if self.draw is False:
            return
        total_curr_iter = runner.iter + batch_idx
        if total_curr_iter % self.interval != 0:
            return
        sample = outputs[0]
        self._visualizer.add_datasample(
            self.image_name(sample) if self.show else 'val_img',
            self._image(sample.img_path), data_sample=self.original_frame(sample),
            show=self.show, wait_time=self.wait_time, pred_score_thr=self.score_thr,
            step=total_curr_iter)

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                        outputs) -> None:
        """Draw every test sample; with ``test_out_dir`` one PNG per key slice."""
        if self.draw is False:
            return
        out_dir = None
        if self.test_out_dir is not None:
            out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mkdir_or_exist(out_dir)
        for sample in outputs:
            self._test_index += 1
            name = self.image_name(sample)
            with (contextlib.nullcontext() if out_dir is None else
                  atomic_file_path(osp.join(out_dir, name))) as tmp:
                self._visualizer.add_datasample(
                    name if self.show else 'test_img', self._image(sample.img_path),
                    data_sample=self.original_frame(sample), show=self.show,
                    wait_time=self.wait_time, pred_score_thr=self.score_thr, out_file=tmp,
                    step=self._test_index)
