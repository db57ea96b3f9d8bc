"""``DeepLesionDemoDataset``: the DeepLesion dataset over the embedded demo data, generated on
first use, so the main job runs out of the box."""
import os.path as osp
from typing import Optional

from mmengine.dist import barrier, get_dist_info

from acsdet.data_prep.deeplesion_demo import prepare_demo_deeplesion
from acsdet.registry import DATASETS

from .deeplesion_dataset import DeepLesionDataset

__all__ = ['DeepLesionDemoDataset']


@DATASETS.register_module()
class DeepLesionDemoDataset(DeepLesionDataset):
    """:class:`DeepLesionDataset` that first writes the demo data to ``data_root`` if needed.

    :func:`~acsdet.datasets.prepare_demo_deeplesion` is idempotent (a stamp file records its
    arguments), so every dataset of a config (train / val / test) can call it; in distributed
    runs rank 0 prepares while the other ranks wait.

    Args:
        demo_cfg (dict, optional): Arguments of ``prepare_demo_deeplesion`` (``num_series``,
            ``image_size``, ``seed``). Default: its defaults.
        data_root (str): Where the demo data live (or are written).
        **kwargs: :class:`DeepLesionDataset` arguments.
    """

    def __init__(self, *args, demo_cfg: Optional[dict] = None, data_root: str = '',
                 **kwargs):
        if not data_root:
            raise ValueError('DeepLesionDemoDataset needs data_root: the folder to write the '
                             'demo data to')
        rank, world_size = get_dist_info()
        if rank == 0:
            prepare_demo_deeplesion(osp.normpath(data_root), **(demo_cfg or {}))
        if world_size > 1:
            barrier()
        super().__init__(*args, data_root=data_root, **kwargs)
