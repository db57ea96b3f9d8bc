"""Batch multi-slice CT samples (1, D, H, W) into (B, 1, D, H, W) for 3D-context detectors."""
import math
from numbers import Number
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.models.utils.misc import samplelist_boxtype2tensor
from mmengine.utils import is_seq_of
from torch import Tensor

from acsdet.registry import MODELS

__all__ = ['MultiSliceDetDataPreprocessor']


@MODELS.register_module()
class MultiSliceDetDataPreprocessor(DetDataPreprocessor):
    """mmdet's :class:`DetDataPreprocessor` for multi-slice inputs: pads H and W only.

    mmdet's pre-processor treats the first axis after the channels as the image height, so a
    (1, D, H, W) sample gets its depth padded to ``pad_size_divisor`` (D=5 becomes 32).  This
    one pads only H and W (to the batch maximum, rounded up to ``pad_size_divisor``), never D,
    optionally normalises, stacks to (B, 1, D, H, W), and writes ``batch_input_shape`` and
    ``pad_shape`` as (H, W) into the data samples so mmdet's 2D RPN / RoI / mask heads work
    unchanged.  Ground-truth masks are padded to ``batch_input_shape`` when ``pad_mask``.

    Args:
        mean (Sequence[Number], optional): Subtracted from the input (one value, or one per
            input channel). Defaults to None (the transform already normalised the HU values).
        std (Sequence[Number], optional): Divides the input. Defaults to None.
        pad_size_divisor (int): H and W are padded to a multiple of it. Defaults to 32.
        pad_value (Number): Value of the padded voxels. Defaults to 0.
        pad_mask (bool): Pad ``gt_instances.masks`` while training. Defaults to True.
        mask_pad_value (int): Defaults to 0.
        boxtype2tensor (bool): Turn ``BaseBoxes`` into tensors. Defaults to True.
        non_blocking (bool): Defaults to False.

    Shapes:
        - data['inputs']: a list of B tensors (C, D, H_b, W_b) (usually C = 1), or a
          (B, C, D, H, W) tensor; all with the same C and D.
        - returned ``inputs``: (B, C, D, H, W), float32.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 pad_size_divisor: int = 32,
                 pad_value: Union[float, int] = 0,
                 pad_mask: bool = True,
                 mask_pad_value: int = 0,
                 boxtype2tensor: bool = True,
                 non_blocking: Optional[bool] = False):
        super().__init__(mean=mean, std=std, pad_size_divisor=pad_size_divisor,
                         pad_value=pad_value, pad_mask=pad_mask, mask_pad_value=mask_pad_value,
                         boxtype2tensor=boxtype2tensor, non_blocking=non_blocking)

    def _check(self, shapes: List[torch.Size]) -> None:
        name = type(self).__name__
        for i, shape in enumerate(shapes):
            if len(shape) != 4:
                raise ValueError(f'{name}: sample {i} has shape {tuple(shape)}, expected '
                                 '(C, D, H, W) (a multi-slice stack)')
        if len({tuple(s[:2]) for s in shapes}) > 1:
            raise ValueError(f'{name}: all samples of a batch need the same (C, D), got '
                             f'{[tuple(s[:2]) for s in shapes]}')

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise, pad H and W, stack; set ``batch_input_shape`` / ``pad_shape``.

        Args:
            data (dict): ``inputs`` (list of (C, D, H, W) tensors or a (B, C, D, H, W) tensor)
                and ``data_samples`` (list of :class:`DetDataSample`, optional).
            training (bool): Whether training (masks are padded only then). Defaults to False.

        Returns:
            dict: ``inputs`` (B, C, D, H, W) and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, Tensor):
            if inputs.dim() != 5:
                raise ValueError(f'{type(self).__name__}: a batched input must be '
                                 f'(B, C, D, H, W), got {tuple(inputs.shape)}')
            inputs = list(inputs)
        elif not is_seq_of(inputs, Tensor):
            raise TypeError(f'{type(self).__name__}: inputs must be a list of tensors or a '
                            f'tensor, got {type(inputs).__name__}')
        self._check([x.shape for x in inputs])

        div = self.pad_size_divisor
        max_h = max(x.shape[-2] for x in inputs)
        max_w = max(x.shape[-1] for x in inputs)
        batch_h, batch_w = math.ceil(max_h / div) * div, math.ceil(max_w / div) * div
        padded = []
        for x in inputs:
            x = x.float()
            if self._enable_normalize:
                # mean / std are (C, 1, 1); add a depth axis so they broadcast over (C, D, H, W)
                x = (x - self.mean.unsqueeze(-1)) / self.std.unsqueeze(-1)
            x = F.pad(x, (0, batch_w - x.shape[-1], 0, batch_h - x.shape[-2]),
                      mode='constant', value=self.pad_value)
            padded.append(x)
        batch_inputs = torch.stack(padded, dim=0)

        data_samples = data.get('data_samples', None)
        if data_samples is not None:
            for sample, x in zip(data_samples, inputs):
                pad_shape = (math.ceil(x.shape[-2] / div) * div,
                             math.ceil(x.shape[-1] / div) * div)
                sample.set_metainfo({'batch_input_shape': (batch_h, batch_w),
                                     'pad_shape': pad_shape})
            if self.boxtype2tensor:
                samplelist_boxtype2tensor(data_samples)
            if self.pad_mask and training:
                self.pad_gt_masks(data_samples)
        return {'inputs': batch_inputs, 'data_samples': data_samples}
