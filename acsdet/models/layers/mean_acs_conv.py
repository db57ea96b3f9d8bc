"""Mean-ACS convolution (paper section III-C1): the whole 2D kernel applied in all three views,
outputs averaged.  Three times the FLOPs and activation memory of ACS (Table III)."""
import torch
from mmengine.registry import MODELS

from .acs_conv import VIEWS, view_conv3d
from .conv2_5d import Conv2_5d

__all__ = ['MeanACSConv']


class MeanACSConv(Conv2_5d):
    """Mean-ACS convolution: ``(X_a + X_c + X_s) / 3`` with the full 2D weight in every view.

    Stores the 2D weight (Cout, Cin / groups, K, K) and bias (added once), so a 2D state dict
    loads unchanged. Arguments as :class:`acsdet.models.layers.Conv2_5d`.

    Shape:
        x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo), as ``nn.Conv3d`` with a
        K x K x K kernel and the same stride / padding / dilation.
    """

    def view_outputs(self, x: torch.Tensor):
        """The three view outputs (axial, coronal, sagittal) without bias, each
        (B, Cout, Do, Ho, Wo); a 1 x 1 kernel gives one output (all views are equal)."""
        if self.kernel_size[0] == 1:
            return [view_conv3d(x, self.weight, 'axial', self.stride, self.padding,
                                self.dilation, self.groups)]
        return [
            view_conv3d(x, self.weight, v, self.stride, self.padding, self.dilation,
                        self.groups) for v in VIEWS
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, Cin, D, H, W) -> (B, Cout, Do, Ho, Wo)."""
        outs = self.view_outputs(x)
        y = outs[0] if len(outs) == 1 else (outs[0] + outs[1] + outs[2]) / 3
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1, 1)


MODELS.register_module('MeanACSConv', module=MeanACSConv)
