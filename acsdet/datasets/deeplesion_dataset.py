"""``DeepLesionDataset``: mmdet's ``CocoDataset`` over the DeepLesion COCO json files."""
import os.path as osp
from typing import List, Union

from mmdet.datasets import CocoDataset

from acsdet.registry import DATASETS

__all__ = ['DeepLesionDataset']

#: Image keys every DeepLesion image entry must carry (see docs/deeplesion_data.md).
REQUIRED_IMAGE_KEYS = ('series', 'key_slice', 'slice_interval', 'slice_range')
#: Optional image keys copied into the sample as well.
OPTIONAL_IMAGE_KEYS = ('pixel_spacing', 'dicom_window', 'gender', 'age', 'split')


@DATASETS.register_module()
class DeepLesionDataset(CocoDataset):
    """One sample per key slice, written by ``data_prep/deeplesion_to_coco.py``.

    Each sample carries the key-slice metadata (``series``, ``key_slice``,
    ``slice_interval``, ``slice_range``, ``pixel_spacing``, ``dicom_window``, ...) that
    :class:`LoadDeepLesionSlices` needs, and each instance its ``recist`` (8 floats),
    ``lesion_type`` and ``noisy`` flag besides mmdet's ``bbox``/``bbox_label``/``mask``/
    ``ignore_flag``.

    Args:
        noisy (str): What to do with ``Possibly_noisy`` lesions: ``'ignore'`` keeps them as
            ignored instances (``ignore_flag = 1``: no training target, an ignore region at
            evaluation), ``'drop'`` removes them (the published protocol). Default:
            ``'ignore'``.
        *args, **kwargs: ``CocoDataset`` args (``ann_file``, ``data_root``,
            ``data_prefix=dict(img='Images_png/')``, ``pipeline``, ``filter_cfg``, ...).
    """
    METAINFO = {'classes': ('lesion',), 'palette': [(220, 20, 60)]}

    def __init__(self, *args, noisy: str = 'ignore', **kwargs):
        if noisy not in ('ignore', 'drop'):
            raise ValueError(f"noisy must be 'ignore' or 'drop', got {noisy!r}")
        self.noisy = noisy
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """CocoDataset's loading, refusing a json file without images (an empty split).

        Raises:
            ValueError: The json file lists no images (one line naming the file).
        """
        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f'{self.ann_file}: no images in this split (empty "images" list); '
                             'check the Train_Val_Test column of DL_info.csv and the '
                             'conversion report')
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        """Parse one image and its annotations (CocoDataset's filters, plus DeepLesion keys).

        Raises:
            KeyError: The image entry lacks a required DeepLesion key (the message names the
                json file, the image file and the key).
        """
        img_info = raw_data_info['raw_img_info']
        ann_info = raw_data_info['raw_ann_info']
        for key in REQUIRED_IMAGE_KEYS:
            if img_info.get(key) is None:
                raise KeyError(f'{self.ann_file}: image {img_info.get("file_name")!r} lacks '
                               f'"{key}"; convert with data_prep/deeplesion_to_coco.py')
        data_info = {
            'img_path': osp.join(self.data_prefix['img'], img_info['file_name']),
            'img_id': img_info['img_id'],
            'seg_map_path': None,
            'height': img_info['height'],
            'width': img_info['width'],
        }
        for key in REQUIRED_IMAGE_KEYS + OPTIONAL_IMAGE_KEYS:
            data_info[key] = img_info.get(key)
        instances = []
        for ann in ann_info:
            if ann.get('ignore', False):
                continue
            noisy = bool(ann.get('noisy', 0))
            if noisy and self.noisy == 'drop':
                continue
            x1, y1, w, h = ann['bbox']
            inter_w = max(0, min(x1 + w, img_info['width']) - max(x1, 0))
            inter_h = max(0, min(y1 + h, img_info['height']) - max(y1, 0))
            if inter_w * inter_h == 0 or ann['area'] <= 0 or w < 1 or h < 1:
                continue
            if ann['category_id'] not in self.cat_ids:
                continue
            recist = ann.get('recist')
            if recist is None or len(recist) != 8:
                raise KeyError(f'{self.ann_file}: annotation {ann.get("id")} of '
                               f'{img_info["file_name"]!r} lacks an 8-number "recist"')
            instance = {
                'bbox': [x1, y1, x1 + w, y1 + h],
                'bbox_label': self.cat2label[ann['category_id']],
                'ignore_flag': int(bool(ann.get('iscrowd', False)) or noisy),
                'recist': list(recist),
                'lesion_type': ann.get('lesion_type', -1),
                'noisy': int(noisy),
            }
            if ann.get('segmentation'):
                instance['mask'] = ann['segmentation']
            instances.append(instance)
        data_info['instances'] = instances
        return data_info
