"""A minimal mmengine segmentor for volumes: a network that outputs logits, plus its losses.

It follows mmengine's ``BaseModel`` protocol (``loss`` / ``predict`` / ``tensor`` modes) so
``tools/train.py`` / ``tools/test.py`` drive it with any dataset whose samples carry
``inputs`` (C, D, H, W) and a ``gt_sem_seg`` label map (D, H, W) -- or 2D images (C, H, W)
with label maps (H, W) for a 2D network (e.g. pretraining :class:`UNet2D`).  ``predict`` runs
on the whole volume, or with ``test_cfg=dict(mode='slide', ...)`` by sliding-window inference
(:func:`acsdet.models.inferers.sliding_window.sliding_window_inference`).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from acsdet.models.inferers import BLEND_MODES, sliding_window_inference
from acsdet.models.utils.batch_inputs import stack_inputs
from acsdet.registry import MODELS

__all__ = ['VolumeSegmentor']


_AXES = {2: '(H, W)', 3: '(D, H, W)'}


def _label_tensor(value, index: int, spatial_dims: int = 3) -> torch.Tensor:
    """A label map (*S) (or (1, *S)) of ``spatial_dims`` axes as int64."""
    if value is None:
        raise KeyError(f'VolumeSegmentor: data sample {index} has no gt_sem_seg')
    if isinstance(value, BaseDataElement):
        value = value.data
    value = torch.as_tensor(value)
    if value.dim() == spatial_dims + 1 and value.shape[0] == 1:
        value = value[0]
    if value.dim() != spatial_dims:
        axes = _AXES[spatial_dims]
        raise ValueError(f'VolumeSegmentor: gt_sem_seg of data sample {index} must be '
                         f'{axes} or (1, {axes[1:]}, got shape {tuple(value.shape)}')
    return value.long()


@MODELS.register_module()
class VolumeSegmentor(BaseModel):
    """Semantic segmentation of volumes with one network and a sum of losses.

    Args:
        network (dict): Config of a whole network mapping (B, C, D, H, W) to logits
            (B, K, D, H, W), e.g. ``dict(type='GSPUNet3D', num_classes=K)``
            (:mod:`acsdet.models.seg_networks`); or a 2D one, (B, C, H, W) -> (B, K, H, W),
            e.g. ``dict(type='UNet2D', num_classes=K)``.
        loss (dict | list[dict]): Loss config(s) called as ``loss(logits, labels)`` with
            labels (B, D, H, W); each loss's ``loss_name`` (default ``'loss_<index>'``) is its
            key in the loss dict. Defaults to ``dict(type='SoftDiceLoss')``.
        data_preprocessor (dict | None): Defaults to mmengine's ``BaseDataPreprocessor``
            (moves the data to the device).
        test_cfg (dict | None): Inference in ``predict`` mode. None or
            ``dict(mode='whole')``: one forward pass on the whole volume.
            ``dict(mode='slide', window=(d, h, w), overlap=0.25, blend='constant',
            sigma_scale=0.125, sw_batch_size=1)``: sliding-window inference (arguments of
            :func:`sliding_window_inference`); volumes of any size. ``'tensor'`` and
            ``'loss'`` modes always use the whole input. Defaults to None.
        init_cfg (dict | None): Defaults to None.

    Data: ``inputs`` is a (B, C, D, H, W) tensor or a list of B (C, D, H, W) tensors of one
    size; ``data_samples`` are ``BaseDataElement``s whose ``gt_sem_seg`` is a label map
    (D, H, W) (tensor, or element with ``.data``). ``predict`` sets ``pred_sem_seg``
    (``BaseDataElement`` with ``data`` (D, H, W) long) on each sample, the format
    :class:`acsdet.evaluation.metrics.DiceMetric` reads. 2D data works the same way with
    one spatial axis less: inputs (B, C, H, W), labels and predictions (H, W) (sliding
    windows then take ``window=(h, w)``).
    """

    def __init__(self,
                 network: dict,
                 loss: Union[dict, Sequence[dict]] = dict(type='SoftDiceLoss'),
                 data_preprocessor: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.test_cfg = dict(test_cfg or dict(mode='whole'))
        mode = self.test_cfg.pop('mode', 'whole')
        if mode not in ('whole', 'slide'):
            raise ValueError(f"VolumeSegmentor: test_cfg.mode must be 'whole' or 'slide', "
                             f'got {mode!r}')
        if mode == 'slide':
            allowed = {'window', 'overlap', 'blend', 'sigma_scale', 'sw_batch_size'}
            unknown = sorted(set(self.test_cfg) - allowed)
            if unknown or 'window' not in self.test_cfg:
                raise ValueError(f"VolumeSegmentor: test_cfg mode 'slide' needs 'window' and "
                                 f'takes {sorted(allowed)}; got keys {sorted(self.test_cfg)}')
            if self.test_cfg.get('blend', 'constant') not in BLEND_MODES:
                raise ValueError(f'VolumeSegmentor: test_cfg.blend must be one of '
                                 f"{BLEND_MODES}, got {self.test_cfg['blend']!r}")
        elif self.test_cfg:
            raise ValueError(f"VolumeSegmentor: test_cfg mode 'whole' takes no other keys, got "
                             f'{sorted(self.test_cfg)}')
        self.test_mode = mode
        self.network = MODELS.build(network)
        loss_cfgs = [loss] if isinstance(loss, dict) else list(loss)
        if not loss_cfgs:
            raise ValueError('VolumeSegmentor: at least one loss is needed')
        self.losses = torch.nn.ModuleList(MODELS.build(cfg) for cfg in loss_cfgs)

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """Run in ``'tensor'`` (logits (B, K, D, H, W), or (B, K, H, W) for 2D inputs),
        ``'loss'`` (dict of losses) or ``'predict'`` (list of data samples with
        ``pred_sem_seg``) mode."""
        inputs = stack_inputs(inputs, 'VolumeSegmentor')
        if mode == 'predict' and self.test_mode == 'slide':
            return self.predict(
                sliding_window_inference(inputs, self.network, **self.test_cfg), data_samples)
        logits = self.network(inputs)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            return self.loss(logits, data_samples)
        if mode == 'predict':
            return self.predict(logits, data_samples)
        raise ValueError(f"VolumeSegmentor: mode must be 'tensor', 'loss' or 'predict', "
                         f'got {mode!r}')

    def loss(self, logits: torch.Tensor,
             data_samples: Sequence[BaseDataElement]) -> Dict[str, torch.Tensor]:
        """Losses of logits (B, K, *S) (S = (D, H, W) or (H, W)) against the samples'
        ``gt_sem_seg`` (*S)."""
        if data_samples is None or len(data_samples) != logits.shape[0]:
            raise ValueError('VolumeSegmentor: loss mode needs one data sample per input')
        labels = torch.stack([
            _label_tensor(ds.get('gt_sem_seg'), i, logits.dim() - 2)
            for i, ds in enumerate(data_samples)
        ]).to(logits.device)
        if labels.shape[1:] != logits.shape[2:]:
            raise ValueError(f'VolumeSegmentor: gt_sem_seg size {tuple(labels.shape[1:])} != '
                             f'logits size {tuple(logits.shape[2:])}')
        losses = {}
        for i, loss in enumerate(self.losses):
            name = getattr(loss, 'loss_name', f'loss_{i}')
            value = loss(logits, labels)
            losses[name] = losses[name] + value if name in losses else value
        return losses

    def predict(self, logits: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None
                ) -> List[BaseDataElement]:
        """Arg-max label maps (*S) of logits (B, K, *S) stored as ``pred_sem_seg`` on each
        data sample."""
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(logits.shape[0])]
        labels = logits.argmax(dim=1)
        for ds, label in zip(data_samples, labels):
            ds.pred_sem_seg = BaseDataElement(data=label)
        return list(data_samples)
