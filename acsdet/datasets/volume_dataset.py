"""A dataset of volumes for semantic segmentation: ``.npz`` files in a folder, or image /
label pairs (``.npz``, NIfTI, MetaImage / NRRD) listed in a json file (the Medical Segmentation
Decathlon's ``dataset.json`` works as is).  The files are read by ``LoadVolumeFromFile``, i.e.
by :func:`acsdet.fileio.read_volume`, the reader inference uses."""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from acsdet.fileio import FILE_SUFFIXES
from acsdet.registry import DATASETS

__all__ = ['VolumeDataset', 'read_split_entries']


def read_split_entries(ann_file: str, split_key: str, entry_keys: str) -> list:
    """The entry list of a dataset json: the file's list, or the one under ``split_key`` of
    its dict (``{"training": [...], "validation": [...], "meta": ...}`` as the converters
    write, or an MSD ``dataset.json``).

    Raises:
        KeyError / ValueError: one line naming the file: no ``split_key``, or not a list of
            ``entry_keys`` entries.
    """
    with open(ann_file) as f:
        content = json.load(f)
    if isinstance(content, dict):
        if split_key not in content:
            raise KeyError(f'{ann_file}: no key {split_key!r} (has {sorted(content)})')
        content = content[split_key]
    if not isinstance(content, list):
        raise ValueError(f'{ann_file}: expected a list of {entry_keys} entries')
    return content


@DATASETS.register_module()
class VolumeDataset(BaseDataset):
    """Volumes with label maps; each data info has ``img_path``, ``seg_path`` (or None when
    the ``.npz`` holds the labels) and ``case_id`` (the file name without suffix).

    Two ways to list the cases:

    * ``ann_file=''`` (default): every file of ``data_prefix['img_path']`` (under
      ``data_root``) ending in one of ``suffixes``, sorted by name (e.g. the POC shapes'
      ``poc_3d/train/*.npz``, each holding ``image`` and ``label``);
    * ``ann_file`` a json file: a list of ``{"image": path, "label": path}`` or a dict with
      that list under ``split_key`` (MSD ``dataset.json``: ``'training'``); paths relative to
      ``data_root``.

    Args:
        ann_file (str): Defaults to ''.
        split_key (str): Key of the list in a json dict. Defaults to 'training'.
        suffixes (Sequence[str]): File endings scanned without ann_file.
            Defaults to ('.npz', ).
        metainfo (dict | None): e.g. ``dict(classes=('background', 'sphere', ...))``.
        data_root (str): Defaults to ''.
        data_prefix (dict): ``dict(img_path=folder)``. Defaults to ``dict(img_path='')``.
        pipeline (list): Transforms, e.g. ``LoadVolumeFromFile`` ... ``PackVolumeInputs``.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(classes=None)

    def __init__(self,
                 ann_file: str = '',
                 split_key: str = 'training',
                 suffixes: Sequence[str] = ('.npz', ),
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: dict = dict(img_path=''),
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        self.split_key = split_key
        self.suffixes = tuple(suffixes)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, pipeline=list(pipeline), **kwargs)

    @staticmethod
    def _case_id(path: str) -> str:
        name = osp.basename(path)
        for suffix in FILE_SUFFIXES:  # '.nii.gz' before '.nii'
            if name.lower().endswith(suffix):
                return name[:-len(suffix)]
        return osp.splitext(name)[0]

    def load_data_list(self) -> List[dict]:
        if self.ann_file:
            return self._load_json()
        folder = self.data_prefix.get('img_path', '') or self.data_root
        if not osp.isdir(folder):
            raise FileNotFoundError(f'VolumeDataset: folder not found: {folder}')
        names = sorted(n for n in os.listdir(folder) if n.endswith(self.suffixes)
                       and not n.startswith('.'))
        if not names:
            raise FileNotFoundError(f'VolumeDataset: no {"/".join(self.suffixes)} files in '
                                    f'{folder}')
        return [dict(img_path=osp.join(folder, n), seg_path=None, case_id=self._case_id(n))
                for n in names]

    def _load_json(self) -> List[dict]:
        content = read_split_entries(self.ann_file, self.split_key, '{"image", "label"}')
        root = self.data_root or osp.dirname(self.ann_file)
        data_list = []
        for i, entry in enumerate(content):
            if not isinstance(entry, dict) or 'image' not in entry:
                raise KeyError(f'{self.ann_file}: entry {i} has no "image" key')
            img = osp.normpath(osp.join(root, entry['image']))
            seg = entry.get('label')
            data_list.append(dict(img_path=img,
                                  seg_path=None if seg is None else osp.normpath(
                                      osp.join(root, seg)),
                                  case_id=self._case_id(img)))
        return data_list
