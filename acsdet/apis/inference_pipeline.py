"""What inference on a user's volume takes from a config's test dataset: its pipeline minus
the ``Load*`` step (the array is already in memory) and its class names. Shared by volume
segmentation and nodule classification."""
import copy
from typing import List

from mmengine.config import Config
from mmengine.dataset import Compose

__all__ = ['pipeline_without_load', 'dataset_class_names']


def dataset_class_names(cfg: Config, num_classes: int) -> List[str]:
    """Class names from the test dataset's ``metainfo`` (``class_<k>`` where none)."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    names = list(dataset.get('metainfo', {}).get('classes', ()))
    return [names[k] if k < len(names) else f'class_{k}' for k in range(num_classes)]


def pipeline_without_load(cfg: Config) -> Compose:
    """The test pipeline without its ``Load*`` steps; it must end with ``PackVolumeInputs``.

    Raises:
        ValueError: No test pipeline, or one that does not end with ``PackVolumeInputs``.
    """
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline')
    if not pipeline:
        raise ValueError('config: test_dataloader.dataset.pipeline is missing')
    steps = [copy.deepcopy(s) for s in pipeline if not s['type'].startswith('Load')]
    if not steps or steps[-1]['type'] != 'PackVolumeInputs':
        raise ValueError('config: the test pipeline must end with PackVolumeInputs, got '
                         f'{[s["type"] for s in pipeline]}')
    return Compose(steps)
