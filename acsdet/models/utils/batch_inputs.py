"""The batch of a volume model's ``inputs``: what ``VolumeSegmentor`` and ``VolumeClassifier``
accept from a dataloader (a tensor, or the list of samples mmengine's ``pseudo_collate``
gives)."""
from typing import List, Sequence, Union

import torch

__all__ = ['stack_inputs']


def stack_inputs(inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                 owner: str) -> torch.Tensor:
    """A float batch (B, C, D, H, W) or (B, C, H, W) from a tensor or a list of B samples
    (C, D, H, W) / (C, H, W) of one shape.

    Args:
        inputs (Tensor | Sequence[Tensor]): The model's ``inputs``.
        owner (str): The model's name, for the error messages.

    Raises:
        ValueError: Samples of different shapes, or a batch of another rank (one line naming
            ``owner`` and the shapes).
    """
    if isinstance(inputs, (list, tuple)):
        samples: List[torch.Tensor] = list(inputs)
        shapes = {tuple(x.shape) for x in samples}
        if len(shapes) != 1:
            raise ValueError(f'{owner}: inputs of one batch must share a shape, got '
                             f'{sorted(shapes)}')
        inputs = torch.stack(samples)
    if inputs.dim() not in (4, 5):
        raise ValueError(f'{owner}: inputs must be (B, C, D, H, W) or (B, C, H, W), got shape '
                         f'{tuple(inputs.shape)}')
    return inputs.float()
