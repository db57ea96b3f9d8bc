"""What tools and user scripts call: registration of every acsdet module, and inference on a
user's own CT (slice-wise detection, RECIST from masks, volume segmentation, nodule
classification).  Volumes are
read by :func:`acsdet.fileio.read_volume`."""
from .inference_pipeline import dataset_class_names, pipeline_without_load
from .lesion_measurements import recist_from_mask
from .setup_env import register_all_modules
from .volume_classification import classify_crop, inference_crop_size, load_classifier, nodule_crop
from .volume_inference import (check_detection_geometry, group_detections_3d, infer_volume,
                               load_detector, multi_slice_settings, slice_stack)
from .volume_segmentation import label_statistics, load_segmentor, save_label_map, segment_volume

__all__ = [
    'register_all_modules', 'check_detection_geometry', 'recist_from_mask',
    'group_detections_3d', 'infer_volume', 'load_detector', 'multi_slice_settings',
    'slice_stack', 'label_statistics', 'load_segmentor', 'save_label_map', 'segment_volume',
    'dataset_class_names', 'pipeline_without_load', 'load_classifier', 'nodule_crop',
    'classify_crop', 'inference_crop_size'
]
