"""Inference on a user's own CT: reading volumes, slice-wise detection, RECIST from masks,
volume segmentation."""
from .lesion_measurements import recist_from_mask
from .volume_inference import (group_detections_3d, infer_volume, load_detector,
                               multi_slice_settings, slice_stack)
from .volume_io import DEFAULT_IMAGE_HU_RANGE, INPUT_TYPES, CTVolume, read_volume
from .volume_segmentation import (label_statistics, load_segmentor, save_label_map,
                                  segment_volume, segmentation_classes)

__all__ = [
    'recist_from_mask', 'group_detections_3d', 'infer_volume', 'load_detector',
    'multi_slice_settings', 'slice_stack', 'DEFAULT_IMAGE_HU_RANGE', 'INPUT_TYPES', 'CTVolume',
    'read_volume', 'label_statistics', 'load_segmentor', 'save_label_map', 'segment_volume',
    'segmentation_classes'
]
