"""Registered datasets and transforms (offline preparation: :mod:`acsdet.data_prep`; file
reading: :mod:`acsdet.fileio`)."""
from .deeplesion_dataset import DeepLesionDataset
from .deeplesion_demo_dataset import DeepLesionDemoDataset
from .transforms import *  # noqa: F401,F403
from .volume_cls_dataset import VolumeClsDataset
from .volume_dataset import VolumeDataset

__all__ = ['DeepLesionDataset', 'DeepLesionDemoDataset', 'VolumeDataset', 'VolumeClsDataset']
