"""LayerNorm over the channels of a (B, C, D, H, W) tensor: the 3D counterpart of the
channel-wise ``LayerNorm2d`` used by ConvNeXt-style models (torchvision, mmpretrain)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['ChannelLayerNorm3d']


class ChannelLayerNorm3d(nn.LayerNorm):
    """``nn.LayerNorm(C)`` applied at every voxel of a (B, C, D, H, W) tensor.

    Args: as ``nn.LayerNorm`` with ``normalized_shape = C``.

    Shape:
        x (Tensor): (B, C, D, H, W) -> same.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W)."""
        x = x.permute(0, 2, 3, 4, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 4, 1, 2, 3)
