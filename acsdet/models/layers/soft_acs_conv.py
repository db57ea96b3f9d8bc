"""Soft-ACS convolution (paper section III-C2): the whole 2D kernel applied in all three views,
outputs mixed with learnable softmax weights per output channel (Cout x 3 extra parameters,
Table III)."""
import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .mean_acs_conv import MeanACSConv

__all__ = ['SoftACSConv']


class SoftACSConv(MeanACSConv):
    """Soft-ACS convolution: ``sum_v softmax(view_logits)[:, v] * X_v``.

    ``view_logits`` (Cout, 3) start at zero, so a fresh layer equals :class:`MeanACSConv`.  A
    2D state dict (without ``view_logits``) loads unchanged: the missing logits keep their
    current value and are not reported as missing.  Arguments as
    :class:`acsdet.models.layers.Conv2_5d`.

    Shape:
        x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo), as ``nn.Conv3d`` with a
        K x K x K kernel and the same stride / padding / dilation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *args,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, kernel_size, *args, **kwargs)
        self.view_logits = nn.Parameter(
            torch.zeros(out_channels, 3, device=self.weight.device, dtype=self.weight.dtype))

    def view_weights(self) -> torch.Tensor:
        """Softmax view weights (Cout, 3): axial, coronal, sagittal."""
        return self.view_logits.softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo)."""
        outs = self.view_outputs(x)
        alpha = self.view_weights()
        if len(outs) == 1:  # 1x1 kernel: the views are identical and the weights sum to 1
            y = outs[0] * alpha.sum(1).view(1, -1, 1, 1, 1)
        else:
            y = sum(o * alpha[:, v].view(1, -1, 1, 1, 1) for v, o in enumerate(outs))
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1, 1)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)
        key = prefix + 'view_logits'
        if key in missing_keys:
            missing_keys.remove(key)


MODELS.register_module('SoftACSConv', module=SoftACSConv)
