"""A dataset of volumes with one class label each, listed in a json file: the LIDC-IDRI nodule
crops of ``data_prep/lidc_to_npz.py`` with their malignancy (the ACS paper's Table V AUC), the
generated nodules of ``data_prep/make_synthetic_nodules.py``, or any list of
``{"image": path, <label_key>: int}`` entries."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from acsdet.registry import DATASETS

from .volume_dataset import VolumeDataset, read_split_entries

__all__ = ['VolumeClsDataset']


@DATASETS.register_module()
class VolumeClsDataset(BaseDataset):
    """Volumes with a class label; each data info has ``img_path``, ``case_id`` and
    ``gt_label`` (int), read by ``LoadVolumeFromFile(with_label=False)`` ...
    ``PackVolumeInputs`` (which packs ``gt_label``).

    Args:
        ann_file (str): A json file: a list of entries, or a dict with the list under
            ``split_key`` (``lidc_nodules.json``: ``'training'`` / ``'validation'``); paths
            relative to ``data_root``.
        label_key (str): The entry key of the class index. Entries whose value is null (the
            LIDC nodules of malignancy 3, left out by the paper) are skipped and counted in
            the log. Defaults to ``'malignancy_label'``.
        split_key (str): Defaults to ``'training'``.
        num_classes (int): Labels must be in ``0 .. num_classes - 1``. Defaults to 2.
        subset_fraction (float): Keep this fraction of the entries (the paper's data-scale
            study, Fig. 4: 0.25 / 0.5 / 0.75 / 1.0 of the training data), drawn per class
            with ``subset_seed`` so every fraction keeps the class ratio and a smaller
            fraction is a subset of a larger one. Defaults to 1.0.
        subset_seed (int): Defaults to 0.
        metainfo (dict | None): e.g. ``dict(classes=('benign', 'malignant'))``.
        data_root (str): Defaults to ''.
        pipeline (list): Transforms.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.

    Raises:
        KeyError / ValueError: one line naming the file and the entry: a missing ``image``
            or ``label_key``, a label that is not an integer in range, a fraction outside
            (0, 1].
    """

    METAINFO = dict(classes=('benign', 'malignant'))

    def __init__(self,
                 ann_file: str,
                 label_key: str = 'malignancy_label',
                 split_key: str = 'training',
                 num_classes: int = 2,
                 subset_fraction: float = 1.0,
                 subset_seed: int = 0,
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if not 0 < subset_fraction <= 1:
            raise ValueError(f'VolumeClsDataset: subset_fraction must be in (0, 1], got '
                             f'{subset_fraction}')
        self.label_key, self.split_key, self.num_classes = label_key, split_key, num_classes
        self.subset_fraction, self.subset_seed = float(subset_fraction), int(subset_seed)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'VolumeClsDataset: ann_file not found: {self.ann_file}')
        content = read_split_entries(self.ann_file, self.split_key,
                                     f'{{"image", "{self.label_key}"}}')
        root = self.data_root or osp.dirname(self.ann_file)
        data_list, skipped = [], 0
        for i, entry in enumerate(content):
            where = f'{self.ann_file}: {self.split_key} entry {i}'
            if not isinstance(entry, dict) or 'image' not in entry:
                raise KeyError(f'{where} has no "image" key')
            if self.label_key not in entry:
                raise KeyError(f'{where} ({entry["image"]}) has no {self.label_key!r} key')
            label = entry[self.label_key]
            if label is None:
                skipped += 1
                continue
            if isinstance(label, bool) or not isinstance(label, int) or \
                    not 0 <= label < self.num_classes:
                raise ValueError(f'{where} ({entry["image"]}): {self.label_key} must be an '
                                 f'integer in 0..{self.num_classes - 1} or null, got {label!r}')
            img = osp.normpath(osp.join(root, entry['image']))
            data_list.append(dict(img_path=img, seg_path=None, gt_label=int(label),
                                  case_id=VolumeDataset._case_id(img)))
        if skipped:
            print_log(f'VolumeClsDataset: {self.ann_file} {self.split_key}: {skipped} entries '
                      f'without a {self.label_key} skipped', logger='current')
        return self._subset(data_list)

    def _subset(self, data_list: List[dict]) -> List[dict]:
        if self.subset_fraction >= 1:
            return data_list
        rng = np.random.default_rng(self.subset_seed)
        keep = []
        for c in range(self.num_classes):
            idx = [i for i, d in enumerate(data_list) if d['gt_label'] == c]
            order = rng.permutation(len(idx))  # one order per class: nested fractions
            keep += [idx[j] for j in order[:int(round(len(idx) * self.subset_fraction))]]
        return [data_list[i] for i in sorted(keep)]
