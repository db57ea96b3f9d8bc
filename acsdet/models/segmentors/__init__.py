from .tiny_unet3d import (GS_POSITIONS, SPATIAL_GROUP_PRESETS, GSPUNet3D, TinyUNet3D)
from .volume_segmentor import VolumeSegmentor

__all__ = ['TinyUNet3D', 'GSPUNet3D', 'GS_POSITIONS', 'SPATIAL_GROUP_PRESETS', 'VolumeSegmentor']
from .unet2d import UNet2D  # noqa: E402
from .converted_unet3d import ConvertedUNet3D, load_2d_unet_weights  # noqa: E402
from .sliding_window import blend_weights, sliding_window_inference, window_starts  # noqa: E402

__all__ += ['UNet2D', 'ConvertedUNet3D', 'load_2d_unet_weights', 'sliding_window_inference',
            'window_starts', 'blend_weights']
from .fcn_resnet3d import FCNResNet3D, ResNetBody  # noqa: E402
from .deeplabv3plus_resnet3d import DeepLabV3PlusResNet3D  # noqa: E402

__all__ += ['FCNResNet3D', 'ResNetBody', 'DeepLabV3PlusResNet3D']
