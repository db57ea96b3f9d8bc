"""Visualisation of segmentation runs: a few slices of image / ground truth / prediction."""
import logging
import os.path as osp
import re
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from acsdet.registry import HOOKS
from acsdet.utils.atomic_write import atomic_file_path
from acsdet.visualization.seg_slices import render_seg_slices

__all__ = ['SegVisualizationHook']

_EXTENSIONS = ('.nii.gz', '.nii', '.npz', '.npy', '.nrrd', '.mha', '.mhd', '.png')


def _tensor(value) -> Optional[torch.Tensor]:
    """A label map / image of a data sample as a CPU tensor (None stays None)."""
    if value is None:
        return None
    if isinstance(value, dict):  # BaseDataElement.to_dict()
        value = value['data']
    elif hasattr(value, 'data') and not isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.data  # BaseDataElement / PixelData
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return torch.as_tensor(np.asarray(value))


def _get(sample, key: str):
    getter = getattr(sample, 'get', None)
    return getter(key, None) if getter is not None else None


@HOOKS.register_module()
class SegVisualizationHook(Hook):
    """Draw a few slices of the validation (and test) samples of a segmentation run as PNGs.

    For the samples of :class:`acsdet.models.segmentors.VolumeSegmentor` (``predict``):
    ``data_batch['inputs']`` (the loader's batch, as :class:`PackVolumeInputs` packs it) is a
    list of B tensors (C, D, H, W) (or one (B, C, D, H, W) tensor), and ``outputs`` the B data
    samples with ``pred_sem_seg.data`` (D, H, W) and, when labelled, ``gt_sem_seg`` (D, H, W)
    (tensor or element with ``.data``; a leading axis of 1 is dropped).  2D samples work the
    same way with inputs (C, H, W) and label maps (H, W).

    Each drawn sample becomes one PNG (:func:`acsdet.visualization.render_seg_slices`): for
    ``num_slices`` evenly spaced axial slices (through the ground-truth foreground when the
    sample has some, else through the whole volume around its middle slice; one row for a 2D
    sample) a row of three panels, image | ground truth overlay | prediction overlay.  The
    image is input channel ``channel`` in the 1st-99th percentile range of its volume; labels
    are tinted with :data:`~acsdet.visualization.SEG_PALETTE` at ``alpha`` (0 and the ignore
    label untinted).  Files are named after the sample's ``case_id`` (else its ``img_path``
    without folder and extension, else ``sample_<n>``; a repeated name gets ``_<n>``) and
    written atomically:

    - validation: the first ``max_samples`` samples of every ``interval``-th validation run
      (the 1st, the ``interval + 1``-th, ...), to
      ``<work_dir>/<timestamp>/<val_out_dir>/epoch_<e>/`` (``iter_<i>`` with
      ``by_epoch=False``), on the main process only;
    - test: only with ``test_out_dir`` (``tools/test.py --show-dir DIR`` sets it): every test
      sample, to ``<work_dir>/<timestamp>/<test_out_dir>/``.

    Args:
        interval (int): Draw every ``interval``-th validation run. Default: 1.
        max_samples (int): Samples drawn per validation run. Default: 2.
        num_slices (int): Axial slices (rows) per volume. Default: 3.
        draw (bool): Draw at all. Default: True.
        test_out_dir (str, optional): Test-loop folder under ``<work_dir>/<timestamp>``; None:
            nothing is drawn at test time (as mmdet's ``DetVisualizationHook``).
        val_out_dir (str): Validation folder under ``<work_dir>/<timestamp>``.
            Default: ``'vis_seg'``.
        by_epoch (bool): Name validation folders by epoch, else by iteration. Default: True.
        channel (int): Input channel shown (e.g. a BraTS modality). Default: 0.
        alpha (float): Label opacity in [0, 1]. Default: 0.5.
        min_panel_size (int): Small slices are scaled up by an integer factor until their
            longer side reaches this. Default: 128.
        show (bool): Also show each picture in a window (``runner.visualizer.show``;
            ``tools/test.py --show``). Default: False.
        wait_time (float): Seconds per shown picture. Default: 0.
    """

    def __init__(self, interval: int = 1, max_samples: int = 2, num_slices: int = 3,
                 draw: bool = True, test_out_dir: Optional[str] = None,
                 val_out_dir: str = 'vis_seg', by_epoch: bool = True, channel: int = 0,
                 alpha: float = 0.5, min_panel_size: int = 128, show: bool = False,
                 wait_time: float = 0.) -> None:
        for name, value in (('interval', interval), ('max_samples', max_samples),
                            ('num_slices', num_slices), ('min_panel_size', min_panel_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'SegVisualizationHook: {name} must be an int >= 1, got '
                                 f'{value!r}')
        if isinstance(channel, bool) or not isinstance(channel, int) or channel < 0:
            raise ValueError(f'SegVisualizationHook: channel must be an int >= 0, got '
                             f'{channel!r}')
        for name, value in (('draw', draw), ('by_epoch', by_epoch), ('show', show)):
            if not isinstance(value, bool):
                raise ValueError(f'SegVisualizationHook: {name} must be a bool, got {value!r}')
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or \
                not 0 <= alpha <= 1:
            raise ValueError(f'SegVisualizationHook: alpha must be a number in [0, 1], got '
                             f'{alpha!r}')
        for name, value in (('test_out_dir', test_out_dir), ('val_out_dir', val_out_dir)):
            if value is None and name == 'test_out_dir':
                continue
            if not isinstance(value, str) or not value:
                raise ValueError(f'SegVisualizationHook: {name} must be a non-empty str'
                                 f'{" or None" if name == "test_out_dir" else ""}, got '
                                 f'{value!r}')
        self.interval = interval
        self.max_samples = max_samples
        self.num_slices = num_slices
        self.draw = draw
        self.test_out_dir = test_out_dir
        self.val_out_dir = val_out_dir
        self.by_epoch = by_epoch
        self.channel = channel
        self.alpha = float(alpha)
        self.min_panel_size = min_panel_size
        self.show = show
        self.wait_time = wait_time
        self._val_run = -1       # index of the current validation run
        self._val_drawn = 0      # samples drawn in it
        self._names = set()      # file names used in the current output folder
        self._test_index = 0
        self._out_dir = None     # folder of the last validation / test drawing

    # -- helpers ---------------------------------------------------------------------------
    def _sample_name(self, sample, index: int) -> str:
        name = _get(sample, 'case_id')
        if name is None and _get(sample, 'img_path') is not None:
            name = osp.basename(str(_get(sample, 'img_path')))
            for ext in _EXTENSIONS:
                if name.lower().endswith(ext):
                    name = name[:-len(ext)]
                    break
        name = re.sub(r'[^A-Za-z0-9._-]+', '_', str(name)).strip('._') if name is not None \
            else ''
        name = name or f'sample_{index}'
        if name in self._names:
            name = f'{name}_{index}'
        self._names.add(name)
        return name

    def _arrays(self, inputs, b: int, sample):
        """(image, gt or None, pred) numpy arrays of one sample, all (D, H, W) or (H, W);
        None (with a warning) when their shapes differ."""
        pred = _tensor(_get(sample, 'pred_sem_seg'))
        if pred is None:
            raise KeyError('SegVisualizationHook: a data sample has no pred_sem_seg')
        if pred.dim() == 4 and pred.shape[0] == 1:
            pred = pred[0]
        if pred.dim() not in (2, 3):
            raise ValueError(f'SegVisualizationHook: pred_sem_seg must be (D, H, W) or (H, W), '
                             f'got shape {tuple(pred.shape)}')
        gt = _tensor(_get(sample, 'gt_sem_seg'))
        if gt is not None and gt.dim() == pred.dim() + 1 and gt.shape[0] == 1:
            gt = gt[0]
        image = _tensor(inputs[b])
        if image.dim() == pred.dim() + 1:
            if self.channel >= image.shape[0]:
                raise ValueError(f'SegVisualizationHook: channel {self.channel} out of range '
                                 f'for inputs of {image.shape[0]} channels')
            image = image[self.channel]
        for name, value in (('inputs', image), ('gt_sem_seg', gt)):
            if value is not None and tuple(value.shape) != tuple(pred.shape):
                # e.g. a data preprocessor that pads: skip the picture, not the run
                print_log(f'SegVisualizationHook: sample not drawn, {name} shape '
                          f'{tuple(value.shape)} != pred_sem_seg shape {tuple(pred.shape)}',
                          logger='current', level=logging.WARNING)
                return None
        return (image.float().numpy(), None if gt is None else gt.numpy(), pred.numpy())

    def _draw(self, runner, inputs, b: int, sample, out_dir: str, index: int) -> bool:
        """Write the picture of sample ``b``; False when it cannot be drawn."""
        arrays = self._arrays(inputs, b, sample)
        if arrays is None:
            return False
        image, gt, pred = arrays
        picture = render_seg_slices(image, gt, pred, num_slices=self.num_slices,
                                    alpha=self.alpha, min_panel_size=self.min_panel_size)
        name = self._sample_name(sample, index)
        if self.show:
            runner.visualizer.show(picture, win_name=name, wait_time=self.wait_time)
        with atomic_file_path(osp.join(out_dir, f'{name}.png'), '.png') as tmp:
            if not cv2.imwrite(tmp, np.ascontiguousarray(picture[:, :, ::-1])):
                raise OSError(f'SegVisualizationHook: cannot write {tmp}')
        return True

    # -- hook points -----------------------------------------------------------------------
    def before_val_epoch(self, runner) -> None:
        """Start a validation run: count it, reset the samples drawn."""
        self._val_run += 1
        self._val_drawn = 0
        self._names = set()
        self._out_dir = None

    def after_val_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        """Draw this batch's samples while fewer than ``max_samples`` were drawn this run."""
        if not self.draw or not outputs or not is_main_process():
            return
        if max(self._val_run, 0) % self.interval != 0 or self._val_drawn >= self.max_samples:
            return
        tag = f'epoch_{runner.epoch}' if self.by_epoch else f'iter_{runner.iter}'
        out_dir = osp.join(runner.work_dir, runner.timestamp, self.val_out_dir, tag)
        inputs = data_batch['inputs']
        for b, sample in enumerate(outputs):
            if self._val_drawn >= self.max_samples:
                break
            if self._draw(runner, inputs, b, sample, out_dir, self._val_drawn):
                self._val_drawn += 1
                self._out_dir = out_dir

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Log where this run's pictures went."""
        if self._out_dir is not None and is_main_process():
            print_log(f'SegVisualizationHook: {self._val_drawn} pictures written to '
                      f'{self._out_dir}', logger='current')

    def before_test_epoch(self, runner) -> None:
        """Start the test run (file names restart)."""
        self._names = set()
        self._test_index = 0
        self._out_dir = None

    def after_test_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        """With ``test_out_dir``: draw every test sample."""
        if not self.draw or self.test_out_dir is None or not outputs:
            return
        out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
        inputs = data_batch['inputs']
        for b, sample in enumerate(outputs):
            if self._draw(runner, inputs, b, sample, out_dir, self._test_index):
                self._out_dir = out_dir
            self._test_index += 1

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Log where the test pictures went."""
        if self._out_dir is not None:
            print_log(f'SegVisualizationHook: test pictures written to {self._out_dir}',
                      logger='current')
