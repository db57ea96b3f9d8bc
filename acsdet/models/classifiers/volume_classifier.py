"""A minimal mmengine classifier for volumes: a feature network and a classification head.

It follows mmengine's ``BaseModel`` protocol (``loss`` / ``predict`` / ``tensor`` modes) so
``tools/train.py`` / ``tools/test.py`` drive it with any dataset whose samples carry
``inputs`` (C, D, H, W) and a ``gt_label`` (e.g. :class:`acsdet.datasets.VolumeClsDataset`:
LIDC nodule crops and their malignancy), or 2D images (C, H, W) for a 2D network.

Written here because mmpretrain's ``ImageClassifier`` (not an acsdet dependency) expects 2D
images and its own data samples.
"""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from acsdet.models.utils.batch_inputs import stack_inputs
from acsdet.registry import MODELS

__all__ = ['VolumeClassifier']


def _label(sample: BaseDataElement, index: int) -> int:
    value = sample.get('gt_label') if sample is not None else None
    if value is None:
        raise KeyError(f'VolumeClassifier: data sample {index} has no gt_label')
    value = torch.as_tensor(value).reshape(-1)
    if value.numel() != 1:
        raise ValueError(f'VolumeClassifier: gt_label of data sample {index} must be one '
                         f'class index, got {value.numel()} values')
    return int(value[0])


@MODELS.register_module()
class VolumeClassifier(BaseModel):
    """Classification of volumes (or images) with one network and one head.

    Args:
        network (dict): Config of a network mapping (B, C, D, H, W) to features
            (B, C', d, h, w) with an ``out_channels`` attribute, e.g.
            ``dict(type='ClsResNet3D', conv_type='acs')`` (:mod:`acsdet.models.cls_networks`;
            ``TorchvisionClsNetwork`` converts any torchvision classifier).
        head (dict): Head config; ``in_channels`` defaults to the network's
            ``out_channels``. Defaults to ``dict(type='PooledLinearClsHead', num_classes=2)``.
        data_preprocessor (dict | None): Defaults to mmengine's ``BaseDataPreprocessor``.
        init_cfg (dict | None): Defaults to None.

    Data: ``inputs`` is a (B, C, D, H, W) tensor or a list of B (C, D, H, W) tensors of one
    size; ``data_samples`` carry ``gt_label`` (an int or a one-element tensor).
    ``predict`` sets ``pred_score`` (the K class probabilities, softmax) and ``pred_label``
    on each sample, the format :class:`acsdet.evaluation.metrics.BinaryClsMetric` reads.
    """

    def __init__(self,
                 network: dict,
                 head: dict = dict(type='PooledLinearClsHead', num_classes=2),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.network = MODELS.build(network)
        head = dict(head)
        if head.get('in_channels') is None:
            if not hasattr(self.network, 'out_channels'):
                raise ValueError(f'VolumeClassifier: {type(self.network).__name__} has no '
                                 f'out_channels; set head.in_channels')
            head['in_channels'] = int(self.network.out_channels)
        self.head = MODELS.build(head)

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: logits (B, K); ``'loss'``: dict of losses; ``'predict'``: the data
        samples with ``pred_score`` (K, ) and ``pred_label``."""
        feats = self.network(stack_inputs(inputs, 'VolumeClassifier'))
        if mode == 'tensor':
            return self.head(feats)
        if mode == 'loss':
            if data_samples is None or len(data_samples) != feats.shape[0]:
                raise ValueError('VolumeClassifier: loss mode needs one data sample per input')
            labels = torch.tensor([_label(ds, i) for i, ds in enumerate(data_samples)],
                                  dtype=torch.long, device=feats.device)
            if labels.min() < 0 or labels.max() >= self.head.num_classes:
                raise ValueError(f'VolumeClassifier: gt_label outside 0..'
                                 f'{self.head.num_classes - 1}: {labels.tolist()}')
            return self.head.loss(feats, labels)
        if mode == 'predict':
            return self.predict(self.head(feats), data_samples)
        raise ValueError(f"VolumeClassifier: mode must be 'tensor', 'loss' or 'predict', "
                         f'got {mode!r}')

    def predict(self, logits: torch.Tensor,
                data_samples: Optional[Sequence[BaseDataElement]] = None
                ) -> List[BaseDataElement]:
        """Softmax probabilities of logits (B, K) as ``pred_score`` (K, ), their arg-max as
        ``pred_label``, on each data sample."""
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(logits.shape[0])]
        probs = logits.float().softmax(dim=1)
        for ds, p in zip(data_samples, probs):
            ds.pred_score = p
            ds.pred_label = p.argmax()
        return list(data_samples)
