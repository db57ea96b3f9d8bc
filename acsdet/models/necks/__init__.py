from .depth_squeeze_neck import DepthSqueezeNeck

__all__ = ['DepthSqueezeNeck']
