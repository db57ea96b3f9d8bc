"""Global average pooling + a linear layer: the classification head of the ACS paper's LIDC
classifiers (the authors' ``ClsResNet`` / ``ClsVGG`` / ``ClsDenseNet`` all end in an adaptive
average pool and one ``Linear(C, 2)``), and its loss."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from acsdet.registry import MODELS

__all__ = ['PooledLinearClsHead']


@MODELS.register_module()
class PooledLinearClsHead(BaseModule):
    """Mean over every spatial position, optional dropout, ``Linear(in_channels,
    num_classes)``.

    Args:
        num_classes (int): Classes (2 for malignancy: benign, malignant). Defaults to 2.
        in_channels (int | None): Feature channels; None takes the network's
            ``out_channels`` (:class:`~acsdet.models.classifiers.VolumeClassifier` fills it).
            Defaults to None.
        dropout (float): Dropout before the linear layer (the paper uses none).
            Defaults to 0.
        loss (dict): Loss config called as ``loss(logits (B, K), labels (B, ))``. Defaults to
            mmdet's ``CrossEntropyLoss`` (softmax cross entropy over the K classes; the
            authors' ``F.cross_entropy`` on 2 logits).
        init_cfg (dict | None): Defaults to None.

    Shape:
        feats (Tensor): (B, C, *S) with any number of spatial axes (3D or 2D) -> logits
        (B, num_classes).
    """

    def __init__(self, num_classes: int = 2, in_channels: Optional[int] = None,
                 dropout: float = 0.0,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'PooledLinearClsHead: num_classes must be >= 2 (softmax over '
                             f'the classes), got {num_classes}')
        if not 0 <= dropout < 1:
            raise ValueError(f'PooledLinearClsHead: dropout must be in [0, 1), got {dropout}')
        if in_channels is None:
            raise ValueError('PooledLinearClsHead: in_channels is None; build the head inside '
                             'a VolumeClassifier (it takes the network\'s out_channels) or '
                             'set it')
        self.num_classes, self.in_channels = num_classes, int(in_channels)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(self.in_channels, num_classes)
        self.loss_module = MODELS.build(loss)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """feats (Tensor): (B, C, *S) -> logits (B, num_classes)."""
        if feats.dim() < 3 or feats.shape[1] != self.in_channels:
            raise ValueError(f'PooledLinearClsHead: features must be (B, {self.in_channels}, '
                             f'*spatial), got shape {tuple(feats.shape)}')
        return self.fc(self.dropout(feats.flatten(2).mean(dim=2)))

    def loss(self, feats: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cross entropy of the logits of ``feats`` against ``labels`` (B, ) int64."""
        return dict(loss_cls=self.loss_module(self(feats), labels))
